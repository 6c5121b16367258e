"""Which member of an environment is the writer: the declared topology and what it implies.

An environment starts as its config describes it (generation 0): the primary
`<env>-<engine>-primary` in the env's region, `replica_count` read replicas of it, and with a
`dr_region` a cross-region replica there. A failover promotes a replica; the config then declares
that promotion, so that `cdk deploy` reconciles the stacks instead of fighting it. The
declarations live in `config/topology.json`, a reviewed file (the runbook writes it with
`failover --record`), one entry per environment that was failed over:

    {"prod": {"promotions": [{"writer": "prod-mysql-replica-1", "region": "eu-west-1"}],
              "decommissioned": []}}

Each promotion starts a new generation. What it implies (`layout`):

- the promoted member becomes the writer where it is: same stack, same logical id, same
  DB instance identifier (a same-region replica stays in the stack of its region, the
  cross-region replica in the DR stack); the region of its stack becomes the primary region;
- the members that followed the previous writer cannot follow the new one (RDS cannot re-parent
  a replica): they are *replaced* by `replica_count` new replicas of the new writer and, with a
  DR region, a new cross-region replica in the other region, all with new identifiers
  (`<prefix>-g<N>-replica-<n>`, `<prefix>-g<N>-dr-replica`: a custom identifier cannot be
  reused while the instance it names exists);
- the previous writer is *retired*: it leaves the stack without being deleted (every DB instance
  is deployed with DeletionPolicy Retain, and deletion protection stays on), fenced (its
  security group admits no one), kept for forensics until someone decommissions it and lists it
  under `decommissioned`.

A PostgreSQL major upgrade does not carry a cross-region replica along (RDS upgrades the
same-region replicas with their source, not the cross-region one), and RDS blue/green
deployments do not support a source with cross-Region read replicas: the upgrade runbooks
*rebuild* the DR replica instead, in two declared phases (`DrRebuild`, under `dr_rebuilds`):

    {"local": {"dr_rebuilds": [{"detached": "local-postgres-dr-replica",
                                "engine_version": "17.9", "phase": "detached"}]}}

- `detached`: the DR replica is promoted in place (its template loses
  `SourceDBInstanceIdentifier`, keeping SourceRegion, KmsKeyId and every other create-only
  property), a standalone instance in the DR stack at its construct id, on the engine version it
  runs (`engine_version`), DeletionPolicy Retain and deletion protection on, fenced (its security
  group admits no one), not the writer: it keeps the last DR copy of the data while the writer
  is upgraded. The env has no DR replica meanwhile (`Layout.standby` is None,
  `Layout.detached` names it).
- `rebuilt`: a new DR replica of the writer, at its version, with a new identifier
  (`<prefix>[-gN]-dr-replica-r<k>`, k counting the rebuilds of the generation); the detached
  instance leaves the stack retained, like a retired writer (`Layout.retired`), fenced, until the
  operator decommissions it (`decommission_commands`) and lists it under `decommissioned`.

The same file records the engine versions an upgrade runbook deployed (`python -m ops upgrade`,
`python -m ops bluegreen --record`), per environment, as `EngineRecord`:

    {"local": {"engine": {"engine_version": "8.0.43", "replica_engine_version": "8.4.10"}}}

Config loading applies it over config/environments.py as it applies the declared writer, so a
staged upgrade's every stage is a config that `cdk deploy` deploys. Once config/environments.py
declares the same versions the record is redundant (the runbook says so, and removes it).

Validation names the field, the value and what is allowed (`ConfigError`): a writer that is not
a member of the generation it is promoted in (a replica that was replaced, a retired writer,
an unknown name), a region that does not hold that writer, a decommissioned member that is not a
retired writer (its replicas would be orphaned). Nothing here imports aws_cdk: the runbooks and
the emulator's deploy read it too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from config.naming import stack_name

#: The reviewed file of declared topologies; `REDUNDANTDB_TOPOLOGY_FILE` points elsewhere
#: (tests, a scratch checkout).
TOPOLOGY_FILE = Path(__file__).resolve().parent / "topology.json"
TOPOLOGY_FILE_VARIABLE = "REDUNDANTDB_TOPOLOGY_FILE"

#: The stack that holds the members of the env's region, and the one of its DR region.
DATABASE_STACK, DR_STACK = "Database", "DrReplica"
#: Where a cross-region replica's storage key lives, per stack: the DR stack has a key of its
#: own (`Key`), the database stack's key is `Key` too.
_KEY_PATH = "Key/Key/Resource"
#: Each generation has its own identifiers; the original ones have no generation mark.
PRIMARY, REPLICA, DR_REPLICA = "primary", "replica", "dr-replica"
#: The phases of a DR rebuild (module doc).
DETACHED, REBUILT = "detached", "rebuilt"
REBUILD_PHASES = (DETACHED, REBUILT)


class TopologyError(ValueError):
    """The topology file cannot be read or written (not a config value: a file problem)."""


def topology_file() -> Path:
    override = os.environ.get(TOPOLOGY_FILE_VARIABLE)
    return Path(override) if override else TOPOLOGY_FILE


@dataclass(frozen=True, kw_only=True)
class Promotion:
    """One failover, as declared: `writer` (a DB instance identifier) became the writer;
    `region` is where it is (None: the member's own region, e.g. an env-agnostic dev)."""

    writer: str
    region: str | None = None

    def as_json(self) -> dict[str, str]:
        return {"writer": self.writer, **({"region": self.region} if self.region else {})}


@dataclass(frozen=True, kw_only=True)
class EngineRecord:
    """The engine versions an upgrade runbook deployed: the config's `engine_version` and
    `replica_engine_version` (None: the replicas run the writer's), applied over
    config/environments.py when the config is loaded."""

    engine_version: str
    replica_engine_version: str | None = None

    def as_json(self) -> dict[str, str]:
        return {"engine_version": self.engine_version, **(
            {"replica_engine_version": self.replica_engine_version}
            if self.replica_engine_version else {})}

    def describe(self) -> str:
        replica = "None" if self.replica_engine_version is None else \
            repr(self.replica_engine_version)
        return f"engine_version={self.engine_version!r}, replica_engine_version={replica}"


@dataclass(frozen=True, kw_only=True)
class DrRebuild:
    """One rebuild of the DR replica, as declared: `detached` (the identifier of the DR replica
    promoted in place and fenced) runs `engine_version` and stays so; `phase` is DETACHED (it
    is the env's last DR copy) or REBUILT (a new DR replica of the writer exists, and the
    detached instance left the stack, retained)."""

    detached: str
    engine_version: str
    phase: str = DETACHED

    def as_json(self) -> dict[str, str]:
        return {"detached": self.detached, "engine_version": self.engine_version,
                "phase": self.phase}


@dataclass(frozen=True, kw_only=True)
class Topology:
    """The declared history of an environment's writers (empty for the original topology) and
    the engine versions a runbook recorded (None: config/environments.py's)."""

    promotions: tuple[Promotion, ...] = ()
    decommissioned: tuple[str, ...] = ()
    engine: EngineRecord | None = None
    dr_rebuilds: tuple[DrRebuild, ...] = ()

    @property
    def generation(self) -> int:
        return len(self.promotions)

    @property
    def empty(self) -> bool:
        return not (self.promotions or self.decommissioned or self.engine or self.dr_rebuilds)

    @property
    def rebuilding(self) -> DrRebuild | None:
        """The DR rebuild in its DETACHED phase, if any (the last one, by validation)."""
        last = self.dr_rebuilds[-1] if self.dr_rebuilds else None
        return last if last is not None and last.phase == DETACHED else None

    def as_json(self) -> dict[str, Any]:
        return {"promotions": [p.as_json() for p in self.promotions],
                "decommissioned": list(self.decommissioned),
                **({"engine": self.engine.as_json()} if self.engine else {}),
                **({"dr_rebuilds": [r.as_json() for r in self.dr_rebuilds]}
                   if self.dr_rebuilds else {})}

    def detached(self, identifier: str, engine_version: str) -> Topology:
        """This topology with the DR replica `identifier` detached (a rebuild's first phase)."""
        return replace(self, dr_rebuilds=(*self.dr_rebuilds, DrRebuild(
            detached=identifier, engine_version=engine_version)))

    def rebuilt(self) -> Topology:
        """This topology with its detached DR replica's rebuild done (the second phase)."""
        last = self.rebuilding
        assert last is not None, "no DR rebuild in its detached phase"
        return replace(self, dr_rebuilds=(*self.dr_rebuilds[:-1], replace(last, phase=REBUILT)))

    def promoted(self, promotion: Promotion) -> Topology:
        return replace(self, promotions=(*self.promotions, promotion))

    def with_engine(self, engine: EngineRecord | None) -> Topology:
        return replace(self, engine=engine)


@dataclass(frozen=True, kw_only=True)
class Member:
    """One DB instance of the environment's history."""

    identifier: str
    construct_id: str  # its construct under its stack's database composition
    stack: str  # DATABASE_STACK or DR_STACK (a role: see `stack_name` for the name)
    region: str | None  # None: the deploy-time region of an env-agnostic env
    kind: str  # how it was created: PRIMARY, REPLICA (same region) or DR_REPLICA
    generation: int  # the generation that created it
    source: str | None = None  # the identifier it replicates from; None for a writer
    key_stack: str = DATABASE_STACK  # the stack whose CMK encrypts its storage
    rebuild: int = 0  # k of a DR replica that a rebuild created (`-r<k>`), else 0
    #: The engine version a detached DR replica keeps (the env's versions do not apply to it);
    #: None: the env's.
    engine_version: str | None = None

    @property
    def promoted(self) -> bool:
        """A writer that was created as a replica (no MasterUsername of its own)."""
        return self.kind != PRIMARY

    @property
    def cross_region(self) -> bool:
        return self.kind == DR_REPLICA


@dataclass(frozen=True, kw_only=True)
class Layout:
    """The members of one generation of an environment, as the stacks render them."""

    env: str
    generation: int
    writer: Member
    replicas: tuple[Member, ...]  # same-region replicas of the writer
    standby: Member | None  # the cross-region replica of the writer (with a DR region)
    #: Former writers, and DR replicas detached by a finished rebuild, kept outside the stacks.
    retired: tuple[Member, ...] = ()
    decommissioned: tuple[Member, ...] = ()  # retired writers deleted by hand since
    replaced: tuple[Member, ...] = ()  # the previous generation's replicas this one replaces
    writers: tuple[Member, ...] = ()  # every writer so far, the original primary first
    #: The DR replica a rebuild promoted in place and fenced, while the rebuild is in its
    #: DETACHED phase (`standby` is None then).
    detached: Member | None = None
    #: The DR rebuild that is this layout's newest change (newer than its newest promotion).
    rebuild: DrRebuild | None = None

    @property
    def promoted(self) -> bool:
        return self.generation > 0

    @property
    def previous_writer(self) -> Member | None:
        return self.writers[-2] if len(self.writers) > 1 else None

    @property
    def primary_region(self) -> str | None:
        return self.writer.region

    @property
    def standby_region(self) -> str | None:
        return self.standby.region if self.standby else None

    @property
    def writer_stack(self) -> str:
        return self.writer.stack

    @property
    def standby_stack(self) -> str | None:
        return self.standby.stack if self.standby else None

    @property
    def members(self) -> tuple[Member, ...]:
        """The live members the stacks declare: writer, replicas, standby."""
        return (self.writer, *self.replicas, *((self.standby,) if self.standby else ()))

    def member(self, identifier: str) -> Member | None:
        every = (*self.members, *self.retired, *self.decommissioned, *self.replaced,
                 *((self.detached,) if self.detached else ()))
        return next((m for m in every if m.identifier == identifier), None)

    def in_stack(self, stack: str) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.stack == stack)

    def retired_in(self, stack: str) -> tuple[Member, ...]:
        return tuple(m for m in self.retired if m.stack == stack)

    def stack_name(self, role: str) -> str:
        return stack_name(self.env, role)

    def key_path(self, member: Member, *, stack_path: str | None = None) -> str:
        """The construct path of the CMK that encrypts `member`'s storage: in the stack named
        `stack_name(member.key_stack)`, whose own construct path is that name at the root of
        an App, or `stack_path` (a Stage's stacks are under its path)."""
        return f"{stack_path or self.stack_name(member.key_stack)}/{_KEY_PATH}"

    @property
    def retired_dr_replica(self) -> Member | None:
        """The DR replica that the newest change, a finished rebuild, retired."""
        rebuild = self.rebuild
        if rebuild is None or rebuild.phase != REBUILT:
            return None
        return next((m for m in (*self.retired, *self.decommissioned)
                     if m.identifier == rebuild.detached), None)

    @property
    def change(self) -> str:
        """The config change this generation declares, for a reviewer or an operator."""
        rebuild = self.rebuild
        if rebuild is not None:
            if self.detached is not None:
                return (f"env {self.env}: DR rebuild: {rebuild.detached} detached (promoted in "
                        f"place, fenced, kept on {rebuild.engine_version}); no DR replica "
                        "until it is rebuilt")
            standby = self.standby.identifier if self.standby else "none"
            return (f"env {self.env}: DR rebuild: {standby} is the DR replica of "
                    f"{self.writer.identifier}; {rebuild.detached} retired")
        if not self.promoted:
            return f"env {self.env}: the original topology (writer {self.writer.identifier})"
        old = self.previous_writer
        assert old is not None
        where = f" in {self.writer.region}" if self.writer.region else ""
        return (f"env {self.env}: generation {self.generation}: {self.writer.identifier}{where} "
                f"is the writer; {old.identifier} retired")


def decommission_commands(member: Member) -> str:
    """The AWS CLI commands that delete a retired writer for good (a final snapshot first)."""
    region = f" --region {member.region}" if member.region else ""
    identifier = member.identifier
    return (f"aws rds modify-db-instance{region} --db-instance-identifier {identifier} "
            f"--no-deletion-protection --apply-immediately && aws rds delete-db-instance"
            f"{region} --db-instance-identifier {identifier} --final-db-snapshot-identifier "
            f"{identifier}-final, then list {identifier} under \"decommissioned\" in "
            "config/topology.json and deploy (its security group, parameter, option and subnet "
            "groups leave the stack)")


# --- the environment's shape, as the topology needs it ------------------------------------

@dataclass(frozen=True, kw_only=True)
class Shape:
    """What of an environment's config the topology depends on."""

    env: str
    prefix: str  # `<env>-<engine>`: the DB instance identifiers' prefix
    region: str | None
    dr_region: str | None
    replica_count: int


def _identifier(prefix: str, kind: str, generation: int, number: int = 0) -> str:
    """`number`: the replica's number; for a DR replica, the rebuild that created it (0: none)."""
    mark = f"-g{generation}" if generation else ""
    if kind == PRIMARY:
        return f"{prefix}-primary"
    if kind == DR_REPLICA:
        return f"{prefix}{mark}-dr-replica" + (f"-r{number}" if number else "")
    return f"{prefix}{mark}-replica-{number}"


def _construct_id(kind: str, generation: int, number: int = 0) -> str:
    mark = f"G{generation}" if generation else ""
    if kind == PRIMARY:
        return "Primary"
    if kind == DR_REPLICA:
        return (f"{mark}DrReplica" if generation else "Replica") + (f"R{number}" if number
                                                                    else "")
    return f"{mark}Replica{number}"


def _other(stack: str) -> str:
    return DR_STACK if stack == DATABASE_STACK else DATABASE_STACK


def _generation(shape: Shape, writer: Member, generation: int) -> tuple[tuple[Member, ...],
                                                                        Member | None]:
    """The replicas and the standby that generation `generation` gives `writer`."""
    replicas = tuple(
        Member(identifier=_identifier(shape.prefix, REPLICA, generation, n),
               construct_id=_construct_id(REPLICA, generation, n), stack=writer.stack,
               region=writer.region, kind=REPLICA, generation=generation,
               source=writer.identifier, key_stack=writer.key_stack)
        for n in range(1, shape.replica_count + 1))
    if shape.dr_region is None:
        return replicas, None
    stack = _other(writer.stack)
    standby = Member(identifier=_identifier(shape.prefix, DR_REPLICA, generation),
                     construct_id=_construct_id(DR_REPLICA, generation), stack=stack,
                     region=shape.dr_region if stack == DR_STACK else shape.region,
                     kind=DR_REPLICA, generation=generation, source=writer.identifier,
                     key_stack=stack)
    return replicas, standby


def layout(shape: Shape, topology: Topology, *, fail: Any = None) -> Layout:
    """The members of the environment after every declared promotion.

    `fail(field, value, allowed)` raises the caller's error (the config's `ConfigError`);
    by default a `ValueError` with the same text."""
    def refuse(name: str, value: object, allowed: str) -> NoReturn:
        if fail is not None:
            fail(name, value, allowed)
        raise ValueError(f"{name}={value!r}: {allowed}")

    writer = Member(identifier=_identifier(shape.prefix, PRIMARY, 0),
                    construct_id=_construct_id(PRIMARY, 0), stack=DATABASE_STACK,
                    region=shape.region, kind=PRIMARY, generation=0)
    replicas, standby = _generation(shape, writer, 0)
    writers: list[Member] = [writer]
    replaced: tuple[Member, ...] = ()
    detached: Member | None = None
    dr_retired: list[Member] = []
    rebuilds = topology.dr_rebuilds
    applied = 0  # the rebuilds applied so far, in their order
    newest: DrRebuild | None = None  # the rebuild applied after the newest promotion
    regions = tuple(r for r in (shape.region, shape.dr_region) if r)

    def rebuild(generation: int) -> None:
        """Apply the declared rebuilds of the DR replica of generation `generation`."""
        nonlocal applied, standby, detached, newest
        while applied < len(rebuilds) and standby is not None and \
                rebuilds[applied].detached == standby.identifier:
            entry, name = rebuilds[applied], f"topology.dr_rebuilds[{applied}]"
            if standby.stack != DR_STACK:
                refuse(f"{name}.detached", entry.detached,
                       "a DR replica in the DR stack: after a regional failover the stacks "
                       "render no rebuild of the env region's cross-region replica "
                       "(docs/upgrades.md, 'Rebuilding the DR replica')")
            if entry.phase == DETACHED and applied != len(rebuilds) - 1:
                refuse(f"{name}.phase", entry.phase,
                       f"'{REBUILT}': only the last rebuild can be in its detached phase (a "
                       "later rebuild needs a DR replica to detach)")
            kept = Member(**{**standby.__dict__, "source": None,
                             "engine_version": entry.engine_version})
            if entry.phase == DETACHED:
                detached, standby = kept, None
            else:
                dr_retired.append(kept)
                number = standby.rebuild + 1
                standby = Member(**{**standby.__dict__, "rebuild": number,
                                    "identifier": _identifier(shape.prefix, DR_REPLICA,
                                                              generation, number),
                                    "construct_id": _construct_id(DR_REPLICA, generation,
                                                                  number)})
            newest = entry
            applied += 1

    def unmatched() -> NoReturn:
        entry, name = rebuilds[applied], f"topology.dr_rebuilds[{applied}].detached"
        if shape.dr_region is None:
            refuse(name, entry.detached, "nothing: the env has no dr_region, hence no DR "
                   "replica to rebuild")
        if any(m.identifier == entry.detached for m in (*dr_retired,
                                                        *((detached,) if detached else ()))):
            refuse(name, entry.detached, "a DR replica detached once only: it is declared "
                   "detached already (a rebuild detaches the current DR replica)")
        current = standby.identifier if standby else (
            f"none: {detached.identifier} is detached" if detached else "none")
        refuse(name, entry.detached, "the DR replica of the generation it is declared in, in "
               f"order; the DR replica now is {current}")

    for number, promotion in enumerate(topology.promotions):
        generation = number + 1
        rebuild(generation - 1)
        name = f"topology.promotions[{number}]"
        if detached is not None:
            refuse(f"{name}.writer", promotion.writer,
                   f"no promotion while the DR replica {detached.identifier} is detached "
                   "(topology.dr_rebuilds): finish its rebuild first")
        newest = None
        candidates = (*replicas, *((standby,) if standby else ()))
        chosen = next((m for m in candidates if m.identifier == promotion.writer), None)
        if chosen is None:
            known = {m.identifier: m for m in (*writers, *replaced)}
            if promotion.writer in known:
                was = known[promotion.writer]
                why = ("it is a retired writer" if was in writers else
                       f"it was replaced in generation {generation - 1} (it followed "
                       f"{was.source}, and RDS cannot re-parent a replica: promoting it would "
                       "orphan the writer's replicas and lose its writes)")
            else:
                why = "no member of the environment has this identifier"
            refuse(f"{name}.writer", promotion.writer,
                   f"{why}; generation {generation} can promote a replica of "
                   f"{writers[-1].identifier}: {', '.join(m.identifier for m in candidates)}")
        if promotion.region is not None and promotion.region != chosen.region:
            where = (f"one of the env's regions ({', '.join(regions)})" if regions
                     else "no region: the env is environment-agnostic")
            refuse(f"{name}.region", promotion.region,
                   f"{chosen.identifier} is in {chosen.region or 'the deploy-time region'}; "
                   f"the writer's region must hold it ({where})")
        if chosen.cross_region and any(w.cross_region for w in writers):
            refuse(f"{name}.writer", promotion.writer,
                   "a second regional promotion: the stacks can render one move of the writer "
                   "to the other region (docs/operations.md, 'Limits'); rebuild the environment "
                   "in its original region instead")
        writer = Member(**{**chosen.__dict__, "source": None})
        replaced = tuple(m for m in candidates if m is not chosen)
        writers.append(writer)
        replicas, standby = _generation(shape, writer, generation)
    rebuild(topology.generation)
    if applied < len(rebuilds):
        unmatched()
    retired = (*writers[:-1], *dr_retired)
    gone: list[Member] = []
    for identifier in topology.decommissioned:
        member = next((m for m in retired if m.identifier == identifier), None)
        if member is None:
            what = ("a retired writer or a rebuilt DR replica's detached instance" if dr_retired
                    else "a retired writer")
            refuse("topology.decommissioned", identifier,
                   f"only {what} can be decommissioned (" + (
                       ", ".join(m.identifier for m in retired) or "this env has none") +
                   "); a live member still holds or serves the data")
        gone.append(member)
    return Layout(env=shape.env, generation=topology.generation, writer=writers[-1],
                  replicas=replicas, standby=standby,
                  retired=tuple(m for m in retired if m not in gone), decommissioned=tuple(gone),
                  replaced=replaced if topology.promotions else (), writers=tuple(writers),
                  detached=detached, rebuild=newest)


# --- the file --------------------------------------------------------------------------------

_ENGINE_FIELDS = ("engine_version", "replica_engine_version")


def _parse_engine(entry: Any, fail: Any) -> EngineRecord | None:
    if entry is None:
        return None
    if not isinstance(entry, Mapping):
        fail("topology.engine", entry, "an object {'engine_version': VERSION, "
             "'replica_engine_version': VERSION (optional)}")
    unknown = sorted(set(entry) - set(_ENGINE_FIELDS))
    if unknown:
        fail(f"topology.engine.{unknown[0]}", entry[unknown[0]],
             f"not an engine field; known: {', '.join(_ENGINE_FIELDS)}")
    version, replica = entry.get("engine_version"), entry.get("replica_engine_version")
    if not isinstance(version, str) or not version:
        fail("topology.engine.engine_version", version, "a version string such as '8.4.10'")
    if replica is not None and (not isinstance(replica, str) or not replica):
        fail("topology.engine.replica_engine_version", replica,
             "a version string such as '8.4.10', or absent (the writer's)")
    return EngineRecord(engine_version=version, replica_engine_version=replica)


_REBUILD_FIELDS = ("detached", "engine_version", "phase")


def _parse_rebuilds(entries: Any, fail: Any) -> tuple[DrRebuild, ...]:
    if not isinstance(entries, list):
        fail("topology.dr_rebuilds", entries, "a list of {'detached': ID, 'engine_version': "
             "VERSION, 'phase': 'detached' or 'rebuilt'}")
    parsed = []
    for number, item in enumerate(entries):
        name = f"topology.dr_rebuilds[{number}]"
        if not isinstance(item, Mapping):
            fail(name, item, "an object {'detached': ID, 'engine_version': VERSION, 'phase': "
                 "'detached' or 'rebuilt'}")
        extra = sorted(set(item) - set(_REBUILD_FIELDS))
        if extra:
            fail(f"{name}.{extra[0]}", item[extra[0]],
                 f"not a DR rebuild field; known: {', '.join(_REBUILD_FIELDS)}")
        for field_name in ("detached", "engine_version"):
            if not isinstance(item.get(field_name), str) or not item[field_name]:
                fail(f"{name}.{field_name}", item.get(field_name),
                     "the DB instance identifier of the DR replica detached" if
                     field_name == "detached" else
                     "the engine version the detached DR replica runs, such as '17.9'")
        phase = item.get("phase", DETACHED)
        if phase not in REBUILD_PHASES:
            fail(f"{name}.phase", phase, f"one of {', '.join(REBUILD_PHASES)}")
        parsed.append(DrRebuild(detached=item["detached"],
                                engine_version=item["engine_version"], phase=phase))
    return tuple(parsed)


_TOPOLOGY_FIELDS = ("promotions", "decommissioned", "engine", "dr_rebuilds")


def _parse(entry: Any, fail: Any) -> Topology:
    if not isinstance(entry, Mapping):
        fail("topology", entry, "an object with 'promotions' (and 'decommissioned', 'engine') "
             "and optionally 'dr_rebuilds'")
    unknown = sorted(set(entry) - set(_TOPOLOGY_FIELDS))
    if unknown:
        fail(f"topology.{unknown[0]}", entry[unknown[0]],
             f"not a topology field; known: {', '.join(_TOPOLOGY_FIELDS)}")
    promotions = entry.get("promotions", [])
    if not isinstance(promotions, list):
        fail("topology.promotions", promotions, "a list of {'writer': ID, 'region': REGION}")
    parsed = []
    for number, item in enumerate(promotions):
        name = f"topology.promotions[{number}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("writer"), str):
            fail(name, item, "an object {'writer': DB instance identifier, 'region': region}")
        extra = sorted(set(item) - {"writer", "region"})
        if extra:
            fail(f"{name}.{extra[0]}", item[extra[0]], "not a promotion field; known: writer, "
                 "region")
        region = item.get("region")
        if region is not None and not isinstance(region, str):
            fail(f"{name}.region", region, "a region name, or absent (the member's region)")
        parsed.append(Promotion(writer=item["writer"], region=region))
    decommissioned = entry.get("decommissioned", [])
    if not isinstance(decommissioned, list) or not all(isinstance(d, str)
                                                        for d in decommissioned):
        fail("topology.decommissioned", decommissioned, "a list of DB instance identifiers")
    return Topology(promotions=tuple(parsed), decommissioned=tuple(decommissioned),
                    engine=_parse_engine(entry.get("engine"), fail),
                    dr_rebuilds=_parse_rebuilds(entry.get("dr_rebuilds", []), fail))


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise TopologyError(f"{path}: not JSON ({error})") from error
    if not isinstance(data, dict):
        raise TopologyError(f"{path}: a JSON object of environments, not {type(data).__name__}")
    return data


def declared(env: str, *, fail: Any = None, path: Path | None = None) -> Topology | None:
    """The topology the file declares for `env`, None when it declares none (the original)."""
    data = _read(path or topology_file())
    if env not in data:
        return None

    def refuse(name: str, value: object, allowed: str) -> NoReturn:
        if fail is not None:
            fail(name, value, allowed)
        raise ValueError(f"{name}={value!r}: {allowed}")

    return _parse(data[env], refuse)


def write(env: str, topology: Topology, *, path: Path | None = None) -> Path:
    """Record `topology` for `env` (the original topology without an engine record removes the
    env's entry), keeping every other environment's entry; written atomically, keys sorted, one
    line per field."""
    path = path or topology_file()
    data = _read(path)
    if not topology.empty:
        data[env] = topology.as_json()
    else:
        data.pop(env, None)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def entry_text(env: str, topology: Topology) -> str:
    """The env's entry of the file as JSON text (what `write` records for it)."""
    return json.dumps({env: topology.as_json()}, indent=2, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m config --reset ENV`: return ENV to its original topology and
    config/environments.py's engine versions (removes its entry from the topology file); what
    `make destroy` does for env local."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m config")
    parser.add_argument("--reset", metavar="ENV", required=True,
                        help="remove ENV's declared promotions and engine record (its "
                        "original topology)")
    args = parser.parse_args(argv)
    if declared(args.reset) is None:
        print(f"env {args.reset}: already in its original topology ({topology_file().name})")
        return 0
    path = write(args.reset, Topology())
    print(f"env {args.reset}: back to its original topology ({path})")
    return 0
