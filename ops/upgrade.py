"""`upgrade`: an engine upgrade of a writer and its read replicas, one deploy per stage.

CloudFormation updates a writer before its replicas (they reference it), and RDS refuses a
MySQL or MariaDB source, or a PostgreSQL source of a minor version, before its read replicas
("One or more of the DB Instance's read replicas need to be upgraded"): changing
`engine_version` alone makes the deploy fail at the writer. The upgrade is therefore a sequence
of configs, each deployed with `cdk deploy` (`cloud_assembly.upgrades.plan`, from the versions
the members run and the target):

  MySQL, MariaDB, PostgreSQL minor   1. every read replica, the cross-region one too:
                                        replica_engine_version=TARGET
                                     2. the writer: engine_version=TARGET
  PostgreSQL major                   1. the writer: engine_version=TARGET (RDS upgrades its
                                        in-Region replicas with it)
  PostgreSQL major, with a DR replica 1. detach the DR replica: a DR rebuild in its phase
                                        'detached' (config/topology.json, 'dr_rebuilds')
                                     2. the writer: engine_version=TARGET, with its in-Region
                                        replicas
                                     3. rebuild the DR replica of the upgraded writer: the
                                        rebuild's phase 'rebuilt' (a new replica at TARGET;
                                        the detached one leaves the stack retained)

RDS does not upgrade a cross-Region read replica with its source and it stops replicating from
a source of a newer major version; the RDS user guide recreates it from the upgraded source.
Detaching it first keeps the last DR copy of the data (promoted in place, fenced, on its
version) until the new DR replica exists; the runbook then names the detached instance and the
commands that decommission it (docs/upgrades.md, 'Rebuilding the DR replica').

Without `--execute` the command prints the plan: the live version of each member against the
declared ones, each stage with its instances (from/to, the parameter-group family change and
`AllowMajorVersionUpgrade` of a major version, the expected downtime and where the figure
comes from) and the config that declares it. With `--execute` it carries out each stage that is
not done yet:

  (1) journal the stage in the writer's tags (`redundantdb:upgrade` = stage-N-recorded, then
      stage-N-deployed, then complete; `redundantdb:upgrade-target`, `-started`)
  (2) record the stage's config in config/topology.json (`config.topology.EngineRecord`, and
      a detach or rebuild as the DR rebuild's phase):
      config loading applies it over config/environments.py, as it applies a declared writer,
      so every stage is a state the config declares and `cdk deploy` deploys, nothing replaced
  (3) run the deploy command (`--deploy-command`; default `cdk deploy --all -c env=ENV
      --require-approval never`; env local: the emulator's `python -m local_aws.deploy`)
  (4) wait until every instance of the stage is available and runs its version, a detached
      DR replica replicates from nothing (`--timeout`, `--poll`), a progress line per poll
  (5) read the live versions again and go on with the next stage

The record (rather than an edit of config/environments.py by the runbook) keeps the reviewed
file a human's: after the last stage the command names the line of config/environments.py to
change; once it declares the target the record is redundant and `upgrade --execute` removes it
(`verify` and `reconcile` say so).

Safe to re-run: the plan is computed from the live versions, so a stage whose instances run its
versions is skipped (said so); an interrupted deploy or wait is resumed by the same command (the
record still declares the stage); a journal for another target refuses until that upgrade is
finished. Refused (exit 3, nothing changed): the stacks do not follow the declared topology
(reconcile first), a member missing or unhealthy, a downgrade, a stage config validation
refuses, an unfinished upgrade to another version.
"""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError

from cloud_assembly import engines
from cloud_assembly.upgrades import (
    CROSS_REGION,
    DETACH,
    DETACHED,
    REBUILD,
    REPLICA,
    VERSIONS,
    WRITER,
    Change,
    Member,
    Stage,
    UpgradePlan,
    plan,
)
from config import (
    ENVIRONMENTS,
    ConfigError,
    DatabaseConfig,
    EngineRecord,
    with_declared_topology,
)
from config.topology import Member as LayoutMember
from config.topology import (
    Topology,
    decommission_commands,
    entry_text,
    layout,
    topology_file,
    write,
)
from ops.aws import ClientFactory
from ops.clock import Clock
from ops.errors import OpsError, Refusal, describe_client_error
from ops.instances import AVAILABLE, assess_health, describe_instance, status_of, tags_of
from ops.record import environments_change, record_engine
from ops.topology import Placement

REPO_ROOT = Path(__file__).resolve().parents[1]
CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"
TAG_PHASE = "redundantdb:upgrade"
TAG_TARGET = "redundantdb:upgrade-target"
TAG_STARTED = "redundantdb:upgrade-started"
PHASE_COMPLETE = "complete"
#: Statuses RDS passes through while it modifies or upgrades an instance: waited for.
TRANSITIONAL = frozenset({"upgrading", "modifying", "rebooting", "backing-up", "renaming",
                          "configuring-enhanced-monitoring", "configuring-log-exports",
                          "configuring-iam-database-auth", "storage-optimization",
                          "maintenance", "starting"})

#: Runs the deploy of one stage; raises `OpsError` when it fails.
Deployer = Callable[[Stage], None]


def default_deploy_command(env: str) -> list[str]:
    return [str(CDK), "deploy", "--all", "-c", f"env={env}", "--require-approval", "never"]


@dataclass(frozen=True, kw_only=True)
class UpgradeOptions:
    target: str | None = None  # None: the newest version the config declares
    execute: bool = False
    timeout_seconds: float = 3600.0
    poll_seconds: float = 15.0
    deploy_command: tuple[str, ...] = ()  # shown in the plan


# --- the live members ---------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class LiveMember:
    member: LayoutMember
    kind: str  # WRITER, REPLICA, CROSS_REGION, DETACHED
    region: str
    rds: Any
    instance: dict[str, Any] | None

    @property
    def identifier(self) -> str:
        return self.member.identifier

    @property
    def version(self) -> str:
        assert self.instance is not None
        return str(self.instance["EngineVersion"])

    def as_member(self) -> Member:
        return Member(identifier=self.identifier, kind=self.kind, version=self.version)

    def describe(self) -> LiveMember:
        return dataclasses.replace(self, instance=describe_instance(self.rds, self.identifier))


def live_members(config: DatabaseConfig, *, factory: ClientFactory,
                 region: str) -> list[LiveMember]:
    """The writer, its replicas and its cross-region replica (or the DR replica a rebuild
    detached) as the declared layout names them, with their descriptions (None: missing)."""
    layout = config.layout
    kinds = [(layout.writer, WRITER), *((m, REPLICA) for m in layout.replicas),
             *(((layout.standby, CROSS_REGION),) if layout.standby else ()),
             *(((layout.detached, DETACHED),) if layout.detached else ())]
    out = []
    for member, kind in kinds:
        where = member.region or region
        out.append(LiveMember(member=member, kind=kind, region=where,
                              rds=factory(where, False).rds, instance=None).describe())
    return out


def unfinished_rebuild(config: DatabaseConfig, members: Sequence[LiveMember]) -> Stage | None:
    """The DR rebuild config/topology.json declares whose deploy did not create the new DR
    replica (a failed or interrupted deploy), as the stage that deploys it again; else None."""
    layout = config.layout
    retired, standby = layout.retired_dr_replica, layout.standby
    missing = next((m for m in members if standby is not None and m.kind == CROSS_REGION
                    and m.identifier == standby.identifier and m.instance is None), None)
    if retired is None or missing is None or retired.identifier in config.topology.decommissioned:
        return None
    writer = members[0]
    return Stage(number=0, title=f"the DR rebuild recorded in {topology_file().name}: "
                                 f"{missing.identifier} of {writer.identifier}",
                 changes=(Change(member=Member(identifier=retired.identifier, kind=DETACHED,
                                               version=retired.engine_version or "unknown"),
                                 to_version=config.engine_version),
                          Change(member=writer.as_member(), to_version=config.engine_version)),
                 engine_version=config.engine_version,
                 replica_engine_version=config.replica_engine_version, action=REBUILD)


def _refuse_unusable(members: Sequence[LiveMember]) -> None:
    for live in members:
        if live.instance is None:
            raise Refusal(f"{live.kind} {live.identifier} does not exist in {live.region}: "
                          "deploy the stacks (the declared topology) first")
        health = assess_health(live.instance)
        if not health.healthy:
            raise Refusal(f"{live.kind} {live.identifier} is not healthy ({health.reason}): "
                          "repair it (or fail over) before upgrading")


def _source_of(live: LiveMember) -> str | None:
    assert live.instance is not None
    source = live.instance.get("ReadReplicaSourceDBInstanceIdentifier")
    return str(source) if source else None


def wait_until_settled(members: list[LiveMember], *, options: UpgradeOptions, clock: Clock,
                       out: TextIO, want: dict[str, str] | None = None) -> list[LiveMember]:
    """Poll until every member is available (and runs `want[identifier]` where given, and a
    detached DR replica replicates from nothing); a progress line per member still waited for.
    `OpsError` on an unhealthy status or after `options.timeout_seconds`."""
    start = clock.monotonic()
    want = want or {}
    while True:
        elapsed = clock.monotonic() - start
        members = [m.describe() for m in members]
        _refuse_unusable(members)
        waiting = [m for m in members if status_of(m.instance) != AVAILABLE
                   or want.get(m.identifier, m.version) != m.version
                   or (m.kind == DETACHED and _source_of(m) is not None)]
        for m in waiting:
            wanted = want.get(m.identifier)
            print(f"    [{elapsed:6.0f}s / {options.timeout_seconds:.0f}s] {m.identifier}: "
                  f"{status_of(m.instance)}, {m.version}"
                  + (f" (waiting for {wanted})" if wanted and wanted != m.version else "")
                  + (f" (waiting for its promotion: it replicates from {_source_of(m)})"
                     if m.kind == DETACHED and _source_of(m) else ""),
                  file=out, flush=True)
        if not waiting:
            return members
        if elapsed >= options.timeout_seconds:
            raise OpsError(f"{', '.join(m.identifier for m in waiting)} did not become "
                           f"available with their version within {options.timeout_seconds:.0f}s;"
                           " RDS goes on, and re-running the same command resumes waiting")
        clock.sleep(min(options.poll_seconds, max(options.timeout_seconds - elapsed, 0.0)))


# --- the journal --------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Journal:
    phase: str | None
    target: str | None
    started: str | None

    @property
    def in_progress(self) -> bool:
        return self.phase is not None and self.phase != PHASE_COMPLETE


def read_journal(writer: LiveMember) -> Journal:
    assert writer.instance is not None
    tags = tags_of(writer.rds, writer.instance)
    return Journal(phase=tags.get(TAG_PHASE), target=tags.get(TAG_TARGET),
                   started=tags.get(TAG_STARTED))


def write_journal(writer: LiveMember, *, phase: str, target: str, clock: Clock,
                  started: str | None) -> None:
    assert writer.instance is not None
    tags = [{"Key": TAG_PHASE, "Value": phase}, {"Key": TAG_TARGET, "Value": target},
            {"Key": TAG_STARTED,
             "Value": started or clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")}]
    writer.rds.add_tags_to_resource(ResourceName=writer.instance["DBInstanceArn"], Tags=tags)


# --- the deploy ---------------------------------------------------------------------------------

def command_deployer(command: Sequence[str], *, timeout: float, out: TextIO) -> Deployer:
    """A `Deployer` that runs `command` from the repository's root, its output indented."""
    def deploy(stage: Stage) -> None:
        shown = " ".join(shlex.quote(part) for part in command)
        try:
            process = subprocess.Popen(list(command), cwd=REPO_ROOT, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       text=True, errors="replace")
        except OSError as error:
            raise OpsError(f"cannot run the deploy command `{shown}`: {error}") from error
        assert process.stdout is not None
        stream = process.stdout

        def echo() -> None:
            for line in stream:
                if line.strip():
                    print(f"    | {line.rstrip()}", file=out, flush=True)

        reader = threading.Thread(target=echo, daemon=True)
        reader.start()
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise OpsError(f"the deploy of stage {stage.number} did not finish within "
                           f"{timeout:.0f}s (killed): config/topology.json declares the stage; "
                           "re-run the same command to deploy it again") from None
        finally:
            reader.join(timeout=5)
        if code != 0:
            raise OpsError(f"the deploy of stage {stage.number} failed (`{shown}` exited "
                           f"{code}, output above): config/topology.json declares the stage; "
                           "fix the cause and re-run the same command")
    return deploy


# --- the plan -----------------------------------------------------------------------------------

def target_of(config: DatabaseConfig, options: UpgradeOptions, journal: Journal) -> str:
    """`--target-version`, else an unfinished upgrade's, else the newest version the config
    declares (the writer's or the replicas')."""
    declared = [config.engine_version, *([config.replica_engine_version]
                                         if config.replica_engine_version else [])]
    default = journal.target if journal.in_progress and journal.target else \
        max(declared, key=engines.version_key)
    target = options.target or default
    try:
        engines.version_key(target)
    except engines.EngineVersionError as error:
        raise Refusal(f"--target-version: {error}") from None
    if journal.in_progress and journal.target and journal.target != target:
        raise Refusal(f"an upgrade to {journal.target} is unfinished (started {journal.started}, "
                      f"journal phase {journal.phase}): re-run without --target-version, or "
                      f"with --target-version {journal.target}, to finish it first")
    return target


def stage_topology(topology: Topology, stage: Stage) -> Topology:
    """`topology` with what `stage` declares of the DR replica: its detach, or its rebuild."""
    if stage.action == DETACH and topology.rebuilding is None:
        dr = stage.changes[0].member
        return topology.detached(dr.identifier, dr.version)
    if stage.action == REBUILD and topology.rebuilding is not None:
        return topology.rebuilt()
    return topology


def stage_config(config: DatabaseConfig, stage: Stage) -> DatabaseConfig:
    return dataclasses.replace(config, engine_version=stage.engine_version,
                               replica_engine_version=stage.replica_engine_version,
                               topology=stage_topology(config.topology, stage))


def check_declarable(config: DatabaseConfig, upgrade: UpgradePlan) -> None:
    """Each pending stage is a config the validation accepts (it imports aws_cdk: the check a
    synth makes, before anything is recorded), each stage over the ones before it."""
    from config import validate

    for stage in upgrade.pending:
        config = stage_config(config, stage)
        try:
            validate(config)
        except ConfigError as error:
            raise Refusal(f"stage {stage.number} cannot be declared: {error}") from None


def _rebuilt_standby(config: DatabaseConfig, stage: Stage) -> str | None:
    """The identifier of the DR replica `stage` (a rebuild) creates."""
    topology = stage_topology(stage_topology(config.topology, dataclasses.replace(
        stage, action=DETACH)), stage)
    standby = layout(config.shape, topology).standby
    return standby.identifier if standby else None


def print_plan(config: DatabaseConfig, upgrade: UpgradePlan, members: Sequence[LiveMember], *,
               account: str, options: UpgradeOptions, journal: Journal, out: TextIO) -> None:
    print(f"Upgrade plan for env {config.name} ({config.engine} -> {upgrade.target}; account "
          f"{account})", file=out)
    if journal.in_progress:
        print(f"  resuming:  the upgrade to {journal.target} started {journal.started} "
              f"(journal phase {journal.phase})", file=out)
    for n, live in enumerate(members):
        label = "live:" if n == 0 else ""
        print(f"  {label:<11}{live.kind} {live.identifier} ({live.region}): {live.version}",
              file=out)
    record = config.topology.engine
    where = f"recorded in {topology_file().name}" if record else "config/environments.py"
    print(f"  {'declared:':<11}engine_version={config.engine_version!r}, "
          f"replica_engine_version={config.replica_engine_version!r} ({where})", file=out)
    first_pending = next((s.number for s in upgrade.stages if not s.done), None)
    for stage in upgrade.stages:
        state = "done, skipped" if stage.done else (
            "next" if stage.number == first_pending else "pending")
        print(f"  stage {stage.number}: {stage.title} [{state}]", file=out)
        declared = stage.declaration()
        if stage.action == DETACH:
            declared += (f", dr_rebuilds: {stage.changes[0].member.identifier} phase "
                         "'detached'")
        elif stage.action == REBUILD:
            declared += (f", dr_rebuilds: {stage.changes[0].member.identifier} phase "
                         f"'rebuilt' (the new DR replica: {_rebuilt_standby(config, stage)})")
        print(f"      declared by: {declared}", file=out)
        for line in stage.lines(config.engine):
            print(f"      {line}", file=out)
    if upgrade.pending:
        command = " ".join(shlex.quote(p) for p in options.deploy_command)
        print(f"  each stage: journal it in {members[0].identifier}'s tags ({TAG_PHASE}), "
              f"record its config in {topology_file().name}, deploy (`{command}`), wait until "
              f"every instance runs its version (timeout {options.timeout_seconds:.0f}s, poll "
              f"{options.poll_seconds:.0f}s)", file=out)


def build(config: DatabaseConfig, members: Sequence[LiveMember], target: str) -> UpgradePlan:
    writer, *replicas = (m.as_member() for m in members)
    upgrade = plan(config.engine, writer, replicas, target)
    if upgrade.refusal is not None:
        raise Refusal(f"env {config.name}: {upgrade.refusal}")
    return upgrade


# --- the runbook --------------------------------------------------------------------------------

def run(config: DatabaseConfig, *, placement: Placement, factory: ClientFactory, region: str,
        account: str, options: UpgradeOptions, deploy: Deployer, clock: Clock,
        out: TextIO) -> None:
    """Print the plan and, with `options.execute`, carry it out (module doc)."""
    layout = config.layout
    if placement.generation != layout.generation:
        raise Refusal(f"the stacks follow generation {placement.generation} of env "
                      f"{config.name}'s topology, and config/topology.json declares generation "
                      f"{layout.generation}: reconcile first (`python -m ops reconcile --env "
                      f"{config.name}`, then deploy), then upgrade")
    members = live_members(config, factory=factory, region=region)
    rebuild = unfinished_rebuild(config, members)
    if rebuild is not None:
        _refuse_unusable(members[:1])
        if not options.execute:
            print(f"Not deployed: {rebuild.title}; --execute deploys it first.", file=out)
            return
        _step(f"deploy {rebuild.title} (recorded, not deployed)", out)
        deploy(rebuild)
        members, want = dr_members(config, rebuild, factory=factory, region=region)
        members = wait_until_settled(members, options=options, clock=clock, out=out,
                                     want=want)
    _refuse_unusable(members)
    if any(status_of(m.instance) in TRANSITIONAL for m in members):
        print("Waiting for instances RDS is still modifying:", file=out)
        members = wait_until_settled(members, options=options, clock=clock, out=out)
    journal = read_journal(members[0])
    target = target_of(config, options, journal)
    upgrade = build(config, members, target)
    check_declarable(config, upgrade)
    print_plan(config, upgrade, members, account=account, options=options, journal=journal,
               out=out)
    if not options.execute:
        print("Dry run: nothing was changed." + (" Carry it out with --execute."
                                                  if upgrade.pending else ""), file=out)
        if not upgrade.pending:
            final = EngineRecord(engine_version=target)
            print(f"Every member runs {target}; {environments_change(config.name, final)}.",
                  file=out)
        return
    started = journal.started if journal.in_progress else None
    executed = False
    while upgrade.pending:
        stage = upgrade.pending[0]
        config, members = _execute(config, stage, members, target=target, options=options,
                                   deploy=deploy, clock=clock, started=started, factory=factory,
                                   region=region, out=out)
        started, executed = read_journal(members[0]).started, True
        again = build(config, members, target)
        if any(s.number == stage.number and not s.done for s in again.stages):
            raise OpsError(f"stage {stage.number} was deployed, but its instances do not all "
                           "run its versions: inspect the deploy's events, then re-run")
        upgrade = again
    if executed or journal.in_progress:
        write_journal(members[0], phase=PHASE_COMPLETE, target=target, clock=clock,
                      started=started)
        _step(f"upgrade complete: every member of env {config.name} runs {config.engine} "
              f"{target}", out)
    else:
        _step(f"every member of env {config.name} runs {target} already: nothing to upgrade",
              out)
    final = EngineRecord(engine_version=target)
    record_engine(config, final, write_file=True, out=out)
    print_retired_dr_replica(config, out)
    print(f"Next: {environments_change(config.name, final)}.", file=out)


def print_retired_dr_replica(config: DatabaseConfig, out: TextIO) -> None:
    """Name the DR replica a finished rebuild retired, and how to decommission it."""
    retired = config.layout.retired_dr_replica
    if retired is not None and retired.identifier not in config.topology.decommissioned:
        print(f"Retired: {retired.identifier} (the DR replica detached before the upgrade), "
              f"kept fenced with deletion protection; once it is no longer needed: "
              f"{decommission_commands(retired)}.", file=out)


def record_stage(config: DatabaseConfig, stage: Stage, out: TextIO) -> DatabaseConfig:
    """Record what `stage` declares of the DR replica (a detach or a rebuild) in
    config/topology.json, then its engine versions; the config as declared now."""
    after = stage_topology(config.topology, stage)
    if after != config.topology:
        path = topology_file()
        change = layout(config.shape, after).change
        print(f"Config change ({change}), in {path.name}:", file=out)
        for line in entry_text(config.name, after).splitlines():
            print(f"    {line}", file=out)
        write(config.name, after, path=path)
        print(f"==> recorded in {path}", file=out, flush=True)
        config = with_declared_topology(ENVIRONMENTS[config.name])
    record_engine(config, EngineRecord(engine_version=stage.engine_version,
                                       replica_engine_version=stage.replica_engine_version),
                  write_file=True, out=out)
    return with_declared_topology(ENVIRONMENTS[config.name])


def dr_members(config: DatabaseConfig, stage: Stage, *, factory: ClientFactory,
               region: str) -> tuple[list[LiveMember], dict[str, str]]:
    """After the deploy of a detach or a rebuild: the members the layout declares now (the
    detached DR replica, or the new one), and the version its DR instance must run."""
    members = live_members(config, factory=factory, region=region)
    want = {m.identifier: m.version if m.kind == DETACHED else stage.engine_version
            for m in members if m.kind in (CROSS_REGION, DETACHED) and m.instance is not None}
    return members, want


def _execute(config: DatabaseConfig, stage: Stage, members: list[LiveMember], *, target: str,
             options: UpgradeOptions, deploy: Deployer, clock: Clock, started: str | None,
             factory: ClientFactory, region: str,
             out: TextIO) -> tuple[DatabaseConfig, list[LiveMember]]:
    writer = members[0]
    _step(f"stage {stage.number}: {stage.title}", out)
    try:
        write_journal(writer, phase=f"stage-{stage.number}-recorded", target=target, clock=clock,
                      started=started)
    except ClientError as error:
        raise OpsError(f"cannot journal the upgrade in {writer.identifier}'s tags: "
                       f"{describe_client_error(error)}; nothing was changed") from error
    config = record_stage(config, stage, out)
    _step(f"deploy stage {stage.number} ({stage.declaration()})", out)
    deploy(stage)
    write_journal(writer, phase=f"stage-{stage.number}-deployed", target=target, clock=clock,
                  started=read_journal(writer).started)
    if stage.action == VERSIONS:
        want = {c.member.identifier: c.to_version for c in stage.changes}
    else:
        members, want = dr_members(config, stage, factory=factory, region=region)
    _step(f"wait for {', '.join(want)} (timeout {options.timeout_seconds:.0f}s, poll "
          f"{options.poll_seconds:.0f}s)", out)
    members = wait_until_settled(members, options=options, clock=clock, out=out, want=want)
    for live in members:
        if live.identifier in want:
            what = ("detached: replicates from nothing, " if live.kind == DETACHED else "")
            _step(f"{live.identifier} {what}runs {live.version}", out)
    return config, members


def _step(text: str, out: TextIO) -> None:
    print(f"==> {text}", file=out, flush=True)
