"""Engine upgrades of a writer and its read replicas as RDS runs them: what one
`ModifyDBInstance` RDS accepts (`modify_refusal`), what a deploy of changed templates asks of RDS
in CloudFormation's order (`simulate_deploy`), the ordered stages of an upgrade and the config
that declares each (`plan`), what each step costs in downtime, and what a blue/green deployment
refuses (`blue_green_refusal`). The data-loss guard, `python -m ops upgrade|bluegreen` and the
emulator read these rules here; the engine facts (majors, families, which upgrades carry the
replicas along) are `cloud_assembly.engines`'.

The rules, from the RDS user guide ("Upgrading a DB instance engine version", "How to perform a
major version upgrade for RDS for PostgreSQL", "Limitations and considerations for Amazon RDS
blue/green deployments") and the errors RDS returns:

- a version older than the running one: `InvalidParameterCombination` "Cannot upgrade ENGINE
  from A to B";
- a new major version without `AllowMajorVersionUpgrade`: "The AllowMajorVersionUpgrade flag
  must be present when upgrading to a new major version.";
- a new major version with a parameter group of another family (a family is create-only, so the
  new group is another group, given in the same modify): "The parameter group NAME with
  DBParameterGroupFamily F can't be used for this instance. Use a parameter group with
  DBParameterGroupFamily G.";
- a source before its read replicas (MySQL, MariaDB, and PostgreSQL minor versions):
  `DBUpgradeDependencyFailure` "One or more of the DB Instance's read replicas need to be
  upgraded: ID[, ID]" (the replicas named are those older than the target);
- a PostgreSQL read replica on its own to a new major version: refused ("You can't upgrade read
  replicas separately"; the message here is ours, the rule RDS's): RDS upgrades a PostgreSQL
  source's in-Region read replicas with it, and no cross-Region read replica: that one stops
  replicating from a source of a newer major version, and the documented way is to recreate it
  from the upgraded source (or promote or delete it before the upgrade).

CloudFormation updates a writer before its replicas (each replica references its source) and
the DR replica's stack after the writer's stack, so a deploy that declares a new version for
both a MySQL writer and its replicas is refused at the writer: the replicas go first, in a
deploy of their own. Nothing here imports aws_cdk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from cloud_assembly import rds
from cloud_assembly.engines import (
    is_major_upgrade,
    parameter_group_family,
    replicas_upgraded_with_source,
    version_key,
)
from cloud_assembly.template import Stack, truthy

WRITER, REPLICA, CROSS_REGION = "writer", "replica", "cross-region replica"
#: A DR replica a rebuild promoted in place (`config.topology`, 'dr_rebuilds'): standalone,
#: fenced, kept on its version; no member follows it.
DETACHED = "detached DR replica"
#: RDS's error codes of a refused upgrade.
INVALID = "InvalidParameterCombination"
DEPENDENCY = "DBUpgradeDependencyFailure"
#: Where the downtime figures come from.
UPGRADE_SOURCE = ("RDS user guide, 'Upgrading a DB instance engine version' and 'Upgrades of the "
                  "RDS for PostgreSQL DB engine'")
BLUE_GREEN_SOURCE = "RDS user guide, 'Overview of Amazon RDS Blue/Green Deployments'"
_IN_PLACE = (f"the instance is unavailable until RDS has upgraded it, typically a few minutes "
             f"(a Multi-AZ standby is upgraded at the same time, so Multi-AZ does not shorten "
             f"it; a major version also runs pre-upgrade checks and takes a snapshot before "
             f"and after, longer with many tables) ({UPGRADE_SOURCE})")
#: What a blue/green switchover costs the writer.
SWITCHOVER_DOWNTIME = (f"writes stop for the switchover, typically under a minute, with no "
                       f"data loss ({BLUE_GREEN_SOURCE})")


@dataclass(frozen=True, kw_only=True)
class Member:
    """One DB instance of an environment and the engine version it runs (or declares)."""

    identifier: str
    kind: str  # WRITER, REPLICA (same region as its writer) or CROSS_REGION
    version: str

    @property
    def replica(self) -> bool:
        return self.kind not in (WRITER, DETACHED)


#: Which rule a refusal breaks (`Refusal.rule`), for the advice a reader gives.
DOWNGRADE, FLAG, FAMILY, REPLICA_MAJOR, REPLICAS_FIRST = (
    "downgrade", "flag", "family", "replica-major", "replicas-first")


@dataclass(frozen=True)
class Refusal:
    """RDS refuses a modify: its error code and message, and the rule broken."""

    code: str
    message: str
    rule: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def modify_refusal(engine: str, member: Member, to_version: str, *, allow_major: bool,
                   parameter_group: str | None = None, family: str | None = None,
                   replicas: Sequence[Member] = ()) -> Refusal | None:
    """What RDS answers to a `ModifyDBInstance` of `member` to `to_version` (None: accepted).

    `parameter_group`/`family`: the parameter group the instance has after the modify (the one
    the modify gives, else its own) and its family, when known; `replicas`: the member's read
    replicas with the versions they run now."""
    if to_version == member.version:
        return None
    if version_key(to_version) < version_key(member.version):
        return Refusal(INVALID, f"Cannot upgrade {engine} from {member.version} to {to_version}",
                       DOWNGRADE)
    if is_major_upgrade(engine, member.version, to_version):
        if not allow_major:
            return Refusal(INVALID, "The AllowMajorVersionUpgrade flag must be present when "
                                    "upgrading to a new major version.", FLAG)
        if member.replica and replicas_upgraded_with_source(engine, member.version, to_version):
            return Refusal(INVALID, f"{member.identifier} is a read replica: RDS upgrades a "
                                    f"{engine} read replica to a new major version only with its "
                                    "source (its in-Region replicas), never on its own",
                           REPLICA_MAJOR)
        wanted = parameter_group_family(engine, to_version)
        if family is not None and family != wanted:
            return Refusal(INVALID, f"The parameter group {parameter_group or '(its own)'} with "
                                    f"DBParameterGroupFamily {family} can't be used for this "
                                    f"instance. Use a parameter group with DBParameterGroupFamily "
                                    f"{wanted}.", FAMILY)
    if not replicas_upgraded_with_source(engine, member.version, to_version):
        behind = [r.identifier for r in replicas
                  if version_key(r.version) < version_key(to_version)]
        if behind:
            return Refusal(DEPENDENCY, "One or more of the DB Instance's read replicas need to "
                                       f"be upgraded: {', '.join(behind)}", REPLICAS_FIRST)
    return None


def carried_along(engine: str, member: Member, to_version: str,
                  replicas: Sequence[Member]) -> tuple[tuple[Member, ...], tuple[Member, ...]]:
    """(the replicas RDS upgrades with `member`, the ones it leaves behind on their version and
    that stop replicating): a PostgreSQL major upgrade of a source carries its in-Region
    replicas and leaves its cross-Region ones; any other upgrade carries none."""
    if member.replica or not replicas_upgraded_with_source(engine, member.version, to_version):
        return (), ()
    return (tuple(r for r in replicas if r.kind == REPLICA),
            tuple(r for r in replicas if r.kind == CROSS_REGION))


# --- a deploy, as CloudFormation runs it ----------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class InstanceEngine:
    """What a template declares of one DB instance's engine."""

    identifier: str
    stack: str
    logical_id: str
    kind: str
    source: str | None  # the identifier of its source; None for a writer
    engine: str | None  # a replica's is its source's (CloudFormation's replica names none)
    version: str | None  # None: no literal EngineVersion
    allow_major: bool
    parameter_group: str | None  # the logical id of its parameter group in the template
    family: str | None


def instance_engines(app: Mapping[str, Stack]) -> dict[str, InstanceEngine]:
    """{identifier: what the templates declare} of every DB instance with a literal
    identifier in the linked stacks `app` (`cloud_assembly.template.link_stacks`)."""
    found: dict[str, InstanceEngine] = {}
    for stack in app.values():
        for db in stack.of_type(rds.DB_INSTANCE):
            identifier = db.prop("DBInstanceIdentifier")
            if not isinstance(identifier, str):
                continue
            value = db.prop(rds.SOURCE)
            source = None
            if value is not None:
                target = stack.target(value)
                source = (target.prop("DBInstanceIdentifier") if target is not None
                          else rds.identifier_in_arn(value))
            group = stack.target(db.prop("DBParameterGroupName"))
            version, engine, family = db.prop("EngineVersion"), db.prop("Engine"), (
                group.prop("Family") if group is not None else None)
            found[identifier] = InstanceEngine(
                identifier=identifier, stack=stack.name, logical_id=db.logical_id,
                kind=(WRITER if value is None else CROSS_REGION
                      if rds.is_cross_region_replica(db.properties) else REPLICA),
                source=source if isinstance(source, str) else None,
                engine=engine if isinstance(engine, str) else None,
                version=version if isinstance(version, str) else None,
                allow_major=truthy(db.prop("AllowMajorVersionUpgrade")),
                parameter_group=group.logical_id if group is not None else None,
                family=family if isinstance(family, str) else None)
    for identifier, instance in found.items():  # a replica's engine is its source's
        seen, current = {identifier}, instance
        while current.engine is None and current.source in found and current.source not in seen:
            seen.add(current.source)
            current = found[current.source]
        if current.engine != instance.engine:
            found[identifier] = replace(instance, engine=current.engine)
    return found


@dataclass(frozen=True, kw_only=True)
class Declared:
    """One DB instance across a deploy: what it runs before and what the new template declares.
    `before`/`after` None: the template declares no EngineVersion (a replica then keeps the
    version it runs: CloudFormation changes nothing)."""

    identifier: str
    kind: str
    source: str | None  # the identifier of its source; None for the writer
    before: str | None
    after: str | None
    allow_major: bool = False
    parameter_group: str | None = None
    family: str | None = None  # of the parameter group the new template gives it


@dataclass(frozen=True, kw_only=True)
class Step:
    """What the deploy does to one instance, in CloudFormation's order."""

    identifier: str
    kind: str
    from_version: str
    to_version: str
    refusal: Refusal | None = None
    with_writer: str | None = None  # RDS upgraded it with this writer (PostgreSQL major)
    left_behind: bool = False  # RDS did not upgrade it with its writer: it stops replicating

    def describe(self, engine: str) -> str:
        change = f"{self.kind} {self.identifier}: {engine} {self.from_version} -> " \
                 f"{self.to_version}"
        if self.from_version == self.to_version:
            change = f"{self.kind} {self.identifier}: {engine} {self.to_version}"
        if self.left_behind:
            return (f"{change}: left on its version by the upgrade of its writer; RDS does not "
                    "upgrade a cross-Region read replica with its source, and it stops "
                    "replicating from a source of a newer major version")
        if self.with_writer is not None:
            return f"{change}: upgraded by RDS with its writer {self.with_writer}"
        family_from = parameter_group_family(engine, self.from_version)
        family_to = parameter_group_family(engine, self.to_version)
        what = (f"major version upgrade (AllowMajorVersionUpgrade, parameter group "
                f"{family_from} -> {family_to})" if family_from != family_to
                else "minor version upgrade")
        return f"{change}: {what}; {downtime(self.kind)}"


def downtime(kind: str) -> str:
    """The expected downtime of an in-place upgrade of an instance of `kind`."""
    if kind == WRITER:
        return f"downtime: writes and reads stop: {_IN_PLACE}"
    return (f"downtime: the writer keeps serving; this replica serves no reads: {_IN_PLACE}; "
            "it catches up with its writer afterwards")


def simulate_deploy(engine: str, instances: Sequence[Declared]) -> list[Step]:
    """The engine-version changes a deploy asks of RDS, in CloudFormation's order (the writer,
    its same-region replicas, then the cross-region replica's stack), each with RDS's answer.
    The first refusal ends the deploy (CloudFormation stops there and rolls the stack back; the
    stacks after it are not deployed): it is the last step."""
    by_id = {i.identifier: i for i in instances}
    live: dict[str, str | None] = {}
    for instance in instances:
        source = by_id.get(instance.source or "")
        live[instance.identifier] = instance.before or (source.before if source else None)
    order = sorted(instances, key=lambda i: (i.kind != WRITER, i.kind == CROSS_REGION,
                                             i.identifier))
    steps: list[Step] = []
    for instance in order:
        current = live[instance.identifier]
        if current is None or instance.after is None or instance.after == current:
            continue
        member = Member(identifier=instance.identifier, kind=instance.kind, version=current)
        replicas = [Member(identifier=i.identifier, kind=i.kind,
                           version=live[i.identifier] or current)
                    for i in sorted(instances, key=lambda i: (i.kind == CROSS_REGION,
                                                             i.identifier))
                    if i.source == instance.identifier]
        refusal = modify_refusal(engine, member, instance.after,
                                 allow_major=instance.allow_major,
                                 parameter_group=instance.parameter_group,
                                 family=instance.family, replicas=replicas)
        steps.append(Step(identifier=instance.identifier, kind=instance.kind,
                          from_version=current, to_version=instance.after, refusal=refusal))
        if refusal is not None:
            break
        live[instance.identifier] = instance.after
        along, behind = carried_along(engine, member, instance.after, replicas)
        for replica in along:
            live[replica.identifier] = instance.after
        steps += [Step(identifier=r.identifier, kind=r.kind, from_version=r.version,
                       to_version=instance.after, with_writer=instance.identifier)
                  for r in along]
        steps += [Step(identifier=r.identifier, kind=r.kind, from_version=r.version,
                       to_version=r.version, left_behind=True) for r in behind]
    return steps


# --- the staged plan ------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Change:
    """One instance in a stage: the version it runs and the one the stage gives it."""

    member: Member
    to_version: str
    with_writer: bool = False  # RDS upgrades it with its writer (not a modify of its own)

    @property
    def done(self) -> bool:
        return self.member.version == self.to_version


#: What a stage declares besides the engine versions (`Stage.action`): nothing, the DR
#: replica's detach, or its rebuild (the two phases of a declared DR rebuild).
VERSIONS, DETACH, REBUILD = "versions", "detach", "rebuild"
_DETACH_LINE = ("promoted in place (its template loses SourceDBInstanceIdentifier, every "
                "create-only property kept): a standalone instance in the DR stack, fenced, "
                "deletion protection on, DeletionPolicy Retain, kept on {version}: the last DR "
                "copy of the data while the writer is upgraded; downtime: none for the writer "
                "(the env has no DR replica until the rebuild)")
_REBUILD_LINE = ("a new cross-region replica of the writer {writer}, created at {version} "
                 "(a new identifier: the detached one still exists); {detached} leaves the "
                 "stack retained and fenced until decommissioned; downtime: none for the writer")


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One deploy of an upgrade: the instances it changes, and the config that declares it.

    `action` DETACH: the stage declares the DR replica (`changes[0].member`) detached; REBUILD:
    it declares the detached DR replica (`changes[0].member`) rebuilt as a new replica of the
    writer at `engine_version`."""

    number: int
    title: str
    changes: tuple[Change, ...]
    engine_version: str  # the config's `engine_version` during this stage
    replica_engine_version: str | None  # the config's `replica_engine_version` (None: the same)
    action: str = VERSIONS

    @property
    def done(self) -> bool:
        if self.action == DETACH:
            return self.changes[0].member.kind == DETACHED
        if self.action == REBUILD:  # done, there is no detached member left to plan it from
            return False
        return all(change.done for change in self.changes)

    def lines(self, engine: str) -> list[str]:
        """One line per instance: from/to, how, the family change and the downtime."""
        if self.action != VERSIONS:
            member = self.changes[0].member
            if self.action == DETACH:
                state = "detached already" if self.done else _DETACH_LINE.format(
                    version=member.version)
                return [f"{member.kind} {member.identifier}: {state}"]
            return [f"{member.kind} {member.identifier}: " + _REBUILD_LINE.format(
                writer=self.changes[1].member.identifier, version=self.engine_version,
                detached=member.identifier)]
        out = []
        for change in self.changes:
            member = change.member
            if change.done:
                out.append(f"{member.kind} {member.identifier}: runs {change.to_version} "
                           "already")
                continue
            step = Step(identifier=member.identifier, kind=member.kind,
                        from_version=member.version, to_version=change.to_version,
                        with_writer="the writer" if change.with_writer else None)
            out.append(step.describe(engine))
        return out

    def declaration(self) -> str:
        replica = "None (the writer's)" if self.replica_engine_version is None else \
            repr(self.replica_engine_version)
        return f"engine_version={self.engine_version!r}, replica_engine_version={replica}"


@dataclass(frozen=True, kw_only=True)
class UpgradePlan:
    """The stages that take an environment to `target`, in the order RDS accepts them; when
    RDS cannot get there from the live state, `refusal` says why and `stages` is empty."""

    engine: str
    target: str
    stages: tuple[Stage, ...] = ()
    refusal: str | None = None

    @property
    def pending(self) -> tuple[Stage, ...]:
        return tuple(stage for stage in self.stages if not stage.done)


def plan(engine: str, writer: Member, replicas: Sequence[Member], target: str) -> UpgradePlan:
    """The stages from the live versions (`writer`, `replicas`: its same-region replicas, its
    cross-region one, or the DR replica a rebuild detached) to `target`:

    - MySQL, MariaDB, PostgreSQL minor: (1) every read replica, the cross-region one too, each
      by its own modify (config: the writer's live version, `replica_engine_version` = target);
      (2) the writer (config: `engine_version` = target, no replica version);
    - PostgreSQL major: the writer, which RDS upgrades with its in-Region replicas (config:
      `engine_version` = target); RDS leaves a cross-region replica behind (it stops
      replicating), so with one the DR replica is rebuilt around it: (1) detach the DR replica
      (a declared DR rebuild, phase 'detached'), (2) the writer with its in-Region replicas,
      (3) rebuild the DR replica of the upgraded writer (phase 'rebuilt').

    A detached DR replica (a rebuild under way) keeps the rebuild's stages until it is rebuilt.
    A stage whose instances already run its versions (a detach declared and carried out) is
    done (a re-run skips it)."""
    version_key(target)
    members = (writer, *replicas)
    newer = [m for m in members if version_key(m.version) > version_key(target)]
    if newer:
        return UpgradePlan(engine=engine, target=target, refusal=(
            "a downgrade: " + ", ".join(f"{m.kind} {m.identifier} runs {m.version}"
                                        for m in newer)
            + f", newer than {target}; RDS refuses it (Cannot upgrade {engine} from "
              f"{newer[0].version} to {target}): the way back is a restore from a snapshot"))
    dr = next((r for r in replicas if r.kind in (CROSS_REGION, DETACHED)), None)
    in_region = tuple(r for r in replicas if r.kind == REPLICA)
    carried = replicas_upgraded_with_source(engine, writer.version, target)
    if dr is None or (dr.kind == CROSS_REGION and not carried):
        return UpgradePlan(engine=engine, target=target,
                           stages=_in_place(engine, writer, replicas, target, first=1))
    detach = Stage(number=1, title="detach the DR replica (RDS does not upgrade a cross-Region "
                                   "read replica with its source)",
                   changes=(Change(member=dr, to_version=dr.version),),
                   engine_version=writer.version, replica_engine_version=None, action=DETACH)
    # The detached DR replica keeps the version the upgrade started from: the stages stay the
    # same once the writer runs the target.
    middle = _in_place(engine, writer, in_region, target, first=2, start=dr.version)
    rebuild = Stage(number=2 + len(middle), title="rebuild the DR replica of the upgraded "
                                                  "writer",
                    changes=(Change(member=dr, to_version=target),
                             Change(member=writer, to_version=target)),
                    engine_version=target, replica_engine_version=None, action=REBUILD)
    return UpgradePlan(engine=engine, target=target, stages=(detach, *middle, rebuild))


def _in_place(engine: str, writer: Member, replicas: Sequence[Member], target: str, *,
              first: int, start: str | None = None) -> tuple[Stage, ...]:
    """The stages that upgrade `writer` and `replicas` in place, numbered from `first`
    (`start`: the version the upgrade started from, default the writer's)."""
    if replicas_upgraded_with_source(engine, start or writer.version, target):
        return (Stage(number=first, title="the writer, with its in-Region read replicas (RDS "
                                          "upgrades them together)",
                      changes=(Change(member=writer, to_version=target),
                               *(Change(member=r, to_version=target, with_writer=True)
                                 for r in replicas)),
                      engine_version=target, replica_engine_version=None),)
    replicas_first = Stage(number=first, title="the read replicas, before their writer (RDS "
                                               "refuses the writer first)",
                           changes=tuple(Change(member=r, to_version=target) for r in replicas),
                           engine_version=writer.version,
                           replica_engine_version=None if writer.version == target else target)
    then = Stage(number=first + 1, title="the writer",
                 changes=(Change(member=writer, to_version=target),),
                 engine_version=target, replica_engine_version=None)
    return replicas_first, then


# --- blue/green -----------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class BlueGreenSource:
    """What decides whether RDS can make a blue/green deployment of a writer."""

    engine: str
    identifier: str
    version: str
    replica: bool = False  # the source is itself a read replica
    cross_region_replicas: tuple[str, ...] = ()
    managed_password: bool = False  # the master password is managed in Secrets Manager
    backup_retention: int = 1
    logical_replication: bool | None = None  # PostgreSQL: rds.logical_replication=1
    replicas: tuple[str, ...] = ()


def blue_green_refusal(source: BlueGreenSource, target: str) -> str | None:
    """Why RDS cannot make (or switch over) a blue/green deployment of `source` to `target`
    ("Limitations and considerations for Amazon RDS blue/green deployments"); None: it can."""
    if source.engine not in ("mysql", "mariadb", "postgres"):
        return f"blue/green deployments do not support the {source.engine} engine"
    if version_key(target) <= version_key(source.version):
        return (f"the target {target} is not newer than {source.identifier}'s {source.version}: "
                "a blue/green deployment cannot change a green instance to an older version")
    if source.managed_password:
        return ("blue/green deployments don't support managing master user passwords with AWS "
                f"Secrets Manager ({source.identifier} has an RDS-managed master password)")
    if source.replica:
        return (f"{source.identifier} is a read replica: blue/green deployments don't support "
                "cascading read replicas")
    if source.cross_region_replicas:
        return ("blue/green deployments aren't supported for cross-Region read replicas: "
                f"{source.identifier} has {', '.join(source.cross_region_replicas)}")
    if source.backup_retention < 1:
        return (f"{source.identifier} has no automated backups: the green environment replicates "
                "from the source's binary log / write-ahead log, which needs them")
    if source.engine == "postgres" and is_major_upgrade(source.engine, source.version, target) \
            and source.logical_replication is not True:
        return (f"a PostgreSQL major version upgrade in a blue/green deployment uses logical "
                f"replication: set rds.logical_replication=1 in {source.identifier}'s parameter "
                "group (config: logical_replication=True, deployed; a static parameter: reboot) "
                "first")
    return None
