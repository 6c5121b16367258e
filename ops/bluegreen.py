"""`bluegreen`: an engine upgrade through an RDS blue/green deployment of the writer and its
read replicas, switched over in under a minute.

CloudFormation has no blue/green deployments; the RDS API does. A blue/green deployment copies
the writer and its in-Region read replicas (the green environment), upgrades the copies to the
target version, keeps them in sync by replication, and at the switchover renames every member:
each blue instance gets `-old1`, each green one the name (so the endpoint) of its blue
counterpart. The stacks name their instances by identifier (so do the ARNs the templates build
from it: the DR replica's source, the backup selection, the alarms' dimensions), so after the
switchover they manage the upgraded instances; what differs from the templates is the engine
version and the parameter group (of the new family), which the config change below makes the
stacks declare, so the next `cdk deploy` does not fight the switchover (its update of the
writer's version is then a no-op, and the instances move to the stacks' own new-family groups).

  (1) decide: the writer must be healthy, and blue/green must support its configuration
      (`cloud_assembly.upgrades.blue_green_refusal`: no cross-Region read replica, no
      RDS-managed master password, automated backups, PostgreSQL logical replication for a
      major version...)
  (2) the green parameter group: for a new major version, a copy of the writer's own
      parameters (TLS required) in a group of the target's family, `<writer>-<family>`
  (3) create the deployment `<writer>-to-<version>` (its name and status are the journal: a
      re-run finds it and resumes), wait until it is AVAILABLE (`--timeout`, `--poll`)
  (4) check the green side: every green member available and running the target version (an
      unhealthy green is refused), and its `ReplicaLag` at most `--max-lag` (a green that lags is
      refused: nothing is switched over; without a datapoint RDS's own switchover guardrails
      judge it)
  (5) switch over, RDS bounded by `--switchover-timeout`; wait until SWITCHOVER_COMPLETED
  (6) repoint the writer-endpoint parameter and the secret's host/port when they do not name
      the new writer's endpoint (after a switchover they do: the green writer took the name)
  (7) print (with `--record`, write) the config change: the engine record in
      config/topology.json, and the line of config/environments.py to change

With a DR replica (a cross-region read replica, which blue/green deployments do not support)
the DR replica is rebuilt around the deployment, as a declared DR rebuild (config/topology.json,
'dr_rebuilds'; docs/upgrades.md, 'Rebuilding the DR replica'): before (2), the DR replica is
detached (phase 'detached' recorded and deployed: promoted in place, fenced, on its version);
after (7), the DR replica is rebuilt of the new writer (phase 'rebuilt' with the engine record
of the target, deployed: a new replica at the target; the detached one retired). Both deploy the
recorded config (`--deploy-command`), so `--record` is required then. A re-run skips a detach
declared already and rebuilds once the switchover is done.

The blue side (`<member>-old1`, deletion protection on) is kept until the operator deletes it
with the commands printed at the end (also in docs/upgrades.md). `--dry-run` does (1), prints
the plan, changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TextIO

from botocore.exceptions import ClientError

from cloud_assembly import engines
from cloud_assembly.rds import LOGICAL_REPLICATION
from cloud_assembly.upgrades import (
    CROSS_REGION,
    DETACH,
    DETACHED,
    REBUILD,
    SWITCHOVER_DOWNTIME,
    WRITER,
    BlueGreenSource,
    Change,
    Member,
    Stage,
    blue_green_refusal,
)
from config import ENVIRONMENTS, DatabaseConfig, EngineRecord, with_declared_topology
from ops.aws import ClientFactory, Clients
from ops.clock import Clock
from ops.errors import OpsError, Refusal, describe_client_error
from ops.failover import dr_mirror
from ops.instances import AVAILABLE, assess_health, describe_instance, endpoint_of, status_of
from ops.outputs import load_outputs
from ops.promotion import lag_sample
from ops.record import environments_change, record_engine
from ops.topology import Placement
from ops.upgrade import (
    Deployer,
    LiveMember,
    UpgradeOptions,
    dr_members,
    live_members,
    print_retired_dr_replica,
    record_stage,
    unfinished_rebuild,
    wait_until_settled,
)
from ops.writer import Endpoint, read_parameter, write_parameter, write_secret_endpoint

TAG_STARTED = "redundantdb:bluegreen-started"
OLD_SUFFIX = "-old1"
PROVISIONING, AVAILABLE_BG = "PROVISIONING", "AVAILABLE"
SWITCHING, SWITCHED = "SWITCHOVER_IN_PROGRESS", "SWITCHOVER_COMPLETED"


@dataclass(frozen=True, kw_only=True)
class BlueGreenOptions:
    target: str
    dry_run: bool = False
    record: bool = False
    max_lag_seconds: float = 60.0
    switchover_timeout_seconds: int = 300
    timeout_seconds: float = 3600.0
    poll_seconds: float = 15.0


def deployment_name(writer: str, target: str) -> str:
    """`<writer>-to-<version>`: letters, digits and hyphens, as RDS names a deployment."""
    return re.sub(r"[^a-zA-Z0-9-]", "-", f"{writer}-to-{target}")[:60].rstrip("-")


def green_group_name(writer: str, family: str) -> str:
    return re.sub(r"[^a-zA-Z0-9-]", "-", f"{writer}-{family}")


@dataclass(frozen=True, kw_only=True)
class Decision:
    config: DatabaseConfig
    clients: Clients
    writer: dict[str, Any]
    source: BlueGreenSource
    target: str
    name: str
    group: str  # the writer's parameter group
    green_group: str | None  # None: the target keeps the writer's family
    existing: dict[str, Any] | None  # this upgrade's deployment, made by an earlier run
    #: The DR replica to rebuild around the deployment (it runs another version than the
    #: target, or is detached already); None: none, or rebuilt already.
    dr: Member | None = None

    @property
    def identifier(self) -> str:
        return str(self.writer["DBInstanceIdentifier"])


def decide(config: DatabaseConfig, *, placement: Placement, factory: ClientFactory,
           clients: Clients, options: BlueGreenOptions) -> Decision:
    """(1) of the module doc; `Refusal` when blue/green cannot upgrade the writer."""
    layout = config.layout
    if placement.generation != layout.generation:
        raise Refusal(f"the stacks follow generation {placement.generation} of env "
                      f"{config.name}'s topology, and config/topology.json declares generation "
                      f"{layout.generation}: reconcile first, then upgrade")
    writer = describe_instance(clients.rds, layout.writer.identifier)
    if writer is None:
        raise Refusal(f"the writer {layout.writer.identifier} does not exist in "
                      f"{clients.region}: deploy the stacks first")
    health = assess_health(writer)
    if not health.healthy or status_of(writer) != AVAILABLE:
        raise Refusal(f"the writer {layout.writer.identifier} is not available "
                      f"({health.reason}): a blue/green deployment copies a healthy writer")
    try:
        engines.version_key(options.target)
    except engines.EngineVersionError as error:
        raise Refusal(f"--target-version: {error}") from None
    groups = writer.get("DBParameterGroups") or [{}]
    group = str(groups[0].get("DBParameterGroupName", ""))
    cross_region, dr = [], None
    for member, kind in ((layout.standby, CROSS_REGION), (layout.detached, DETACHED)):
        if member is None:
            continue
        instance = describe_instance(factory(member.region or clients.region, True).rds,
                                     member.identifier)
        if instance is None:
            continue
        if kind == DETACHED or instance["EngineVersion"] != options.target:
            dr = Member(identifier=member.identifier, kind=kind,
                        version=str(instance["EngineVersion"]))
        else:  # the DR replica of the target: blue/green does not support it either
            cross_region.append(member.identifier)
    if dr is None:  # a rebuild recorded, its deploy not finished
        live = [LiveMember(member=layout.writer, kind=WRITER, region=clients.region,
                           rds=clients.rds, instance=writer),
                *live_members(config, factory=factory, region=clients.region)[1:]]
        stage = unfinished_rebuild(config, live)
        dr = stage.changes[0].member if stage is not None else None
    if dr is not None and not options.record and not options.dry_run:
        raise Refusal(f"env {config.name} has the DR replica {dr.identifier}, which blue/green "
                      "deployments do not support: the runbook detaches it first and rebuilds "
                      "it of the new writer, each a deploy of the config it records: re-run "
                      "with --record")
    logical = _parameter(clients.rds, group, LOGICAL_REPLICATION) if \
        config.engine == "postgres" else None
    source = BlueGreenSource(
        engine=config.engine, identifier=layout.writer.identifier,
        version=str(writer["EngineVersion"]),
        replica=bool(writer.get("ReadReplicaSourceDBInstanceIdentifier")),
        cross_region_replicas=tuple(cross_region),
        replicas=tuple(r.identifier for r in layout.replicas),
        managed_password=bool(writer.get("MasterUserSecret")),
        backup_retention=int(writer.get("BackupRetentionPeriod") or 0),
        logical_replication=None if logical is None else logical == "1")
    name = deployment_name(source.identifier, options.target)
    existing = find_deployment(clients.rds, name=name)
    other = find_deployment(clients.rds, source=str(writer["DBInstanceArn"]))
    if other is not None and other["BlueGreenDeploymentName"] != name:
        other_id = other["BlueGreenDeploymentIdentifier"]
        delete = _delete_command(other_id, target=other["Status"] != SWITCHED)
        raise Refusal(f"another blue/green deployment of {source.identifier} exists: "
                      f"{other['BlueGreenDeploymentName']} ({other_id}, status "
                      f"{other['Status']}): finish or delete it first ({delete})")
    if existing is None or existing["Status"] in (PROVISIONING, AVAILABLE_BG):
        refusal = blue_green_refusal(source, options.target)
        if refusal is not None:
            raise Refusal(f"blue/green cannot upgrade env {config.name}: {refusal}")
    family = engines.parameter_group_family(config.engine, options.target)
    green_group = None if family == engines.parameter_group_family(
        config.engine, source.version) else green_group_name(source.identifier, family)
    return Decision(config=config, clients=clients, writer=writer, source=source,
                    target=options.target, name=name, group=group, green_group=green_group,
                    existing=existing, dr=dr)


def _parameter(rds: Any, group: str, name: str) -> str | None:
    if not group or group.startswith("default."):
        return None
    for page in rds.get_paginator("describe_db_parameters").paginate(
            DBParameterGroupName=group):
        for parameter in page.get("Parameters", []):
            if parameter.get("ParameterName") == name:
                return str(parameter.get("ParameterValue"))
    return None


def find_deployment(rds: Any, *, source: str | None = None,
                    name: str | None = None) -> dict[str, Any] | None:
    """The blue/green deployment named `name`, or of the blue source `source` (not deleted)."""
    found: list[dict[str, Any]] = rds.describe_blue_green_deployments()["BlueGreenDeployments"]
    for deployment in found:
        if deployment.get("Status") == "DELETING":
            continue
        if (name is not None and deployment.get("BlueGreenDeploymentName") == name) or (
                source is not None and deployment.get("Source") == source):
            return deployment
    return None


# --- the steps ----------------------------------------------------------------------------------

def ensure_green_group(decision: Decision, out: TextIO) -> str | None:
    """(2): the writer's own parameters in a group of the target's family (reused when it
    exists with that family)."""
    name = decision.green_group
    if name is None:
        return None
    rds = decision.clients.rds
    family = engines.parameter_group_family(decision.config.engine, decision.target)
    try:
        found = rds.describe_db_parameter_groups(DBParameterGroupName=name)["DBParameterGroups"]
    except ClientError:  # DBParameterGroupNotFound
        found = []
    existing = found[0] if found else None
    if existing is not None:
        if existing["DBParameterGroupFamily"] != family:
            raise Refusal(f"parameter group {name} exists with family "
                          f"{existing['DBParameterGroupFamily']}, not {family}: delete or "
                          "rename it")
        _step(f"green parameter group {name} ({family}) exists: reused", out)
        return name
    rds.create_db_parameter_group(
        DBParameterGroupName=name, DBParameterGroupFamily=family,
        Description=f"{decision.identifier} on {decision.target}: its parameters (TLS "
                    "required), for a blue/green deployment")
    copied = [{"ParameterName": p["ParameterName"], "ParameterValue": p["ParameterValue"],
               "ApplyMethod": "pending-reboot"}
              for page in rds.get_paginator("describe_db_parameters").paginate(
                  DBParameterGroupName=decision.group, Source="user")
              for p in page.get("Parameters", []) if p.get("ParameterValue") is not None]
    for start in range(0, len(copied), 20):  # RDS takes 20 parameters per modify
        rds.modify_db_parameter_group(DBParameterGroupName=name,
                                      Parameters=copied[start:start + 20])
    _step(f"green parameter group {name} ({family}): the parameters of {decision.group} "
          f"copied ({', '.join(p['ParameterName'] for p in copied) or 'none set'})", out)
    return name


def create(decision: Decision, options: BlueGreenOptions, clock: Clock,
           out: TextIO) -> dict[str, Any]:
    group = ensure_green_group(decision, out)
    try:
        answer = decision.clients.rds.create_blue_green_deployment(
            BlueGreenDeploymentName=decision.name, Source=decision.writer["DBInstanceArn"],
            TargetEngineVersion=decision.target,
            **({"TargetDBParameterGroupName": group} if group else {}),
            Tags=[{"Key": TAG_STARTED,
                   "Value": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")}])
    except ClientError as error:
        raise OpsError(f"create_blue_green_deployment({decision.name}) failed: "
                       f"{describe_client_error(error)}; nothing was switched over") from error
    deployment: dict[str, Any] = answer["BlueGreenDeployment"]
    _step(f"blue/green deployment {decision.name} "
          f"({deployment['BlueGreenDeploymentIdentifier']}): {deployment['Status']}", out)
    return deployment


def wait_for(rds: Any, identifier: str, *, until: str, options: BlueGreenOptions, clock: Clock,
             out: TextIO) -> dict[str, Any]:
    """Poll the deployment until its status is `until`; `OpsError` on a failed status or after
    `options.timeout_seconds` (a re-run resumes)."""
    start = clock.monotonic()
    while True:
        elapsed = clock.monotonic() - start
        deployment: dict[str, Any] = rds.describe_blue_green_deployments(
            BlueGreenDeploymentIdentifier=identifier)["BlueGreenDeployments"][0]
        status = deployment["Status"]
        tasks = ", ".join(f"{t['Name']} {t['Status']}" for t in deployment.get("Tasks", []))
        print(f"    [{elapsed:6.0f}s / {options.timeout_seconds:.0f}s] {identifier}: {status}"
              + (f" ({tasks})" if tasks else ""), file=out, flush=True)
        if status == until:
            return deployment
        if status in ("INVALID_CONFIGURATION", "SWITCHOVER_FAILED", "DELETING"):
            raise OpsError(f"blue/green deployment {identifier} is {status} "
                           f"({deployment.get('StatusDetails', 'no details')}): nothing more "
                           "was changed; inspect it (aws rds describe-blue-green-deployments), "
                           f"{_delete_command(identifier, target=status != SWITCHED)}")
        if elapsed >= options.timeout_seconds:
            raise OpsError(f"blue/green deployment {identifier} is still {status} after "
                           f"{options.timeout_seconds:.0f}s: RDS goes on; re-run the same command "
                           "to resume")
        clock.sleep(min(options.poll_seconds, max(options.timeout_seconds - elapsed, 0.0)))


def _members(deployment: dict[str, Any]) -> list[tuple[str, str]]:
    """(blue, green) identifiers of each member pair."""
    return [(str(d["SourceMember"]).rsplit(":", 1)[-1], str(d["TargetMember"]).rsplit(":", 1)[-1])
            for d in deployment.get("SwitchoverDetails", [])]


def check_green(decision: Decision, deployment: dict[str, Any], options: BlueGreenOptions,
                clock: Clock, out: TextIO) -> None:
    """(4): every green member healthy and on the target version, its lag within the limit."""
    rds, identifier = decision.clients.rds, deployment["BlueGreenDeploymentIdentifier"]
    failed = [t["Name"] for t in deployment.get("Tasks", []) if t.get("Status") == "FAILED"]
    if failed:
        raise Refusal(f"the green environment of {identifier} is not healthy: task(s) "
                      f"{', '.join(failed)} failed; nothing was switched over. "
                      f"{_delete_command(identifier, target=True)}")
    for blue, green in _members(deployment):
        instance = describe_instance(rds, green)
        status = status_of(instance)
        version = (instance or {}).get("EngineVersion")
        if status != AVAILABLE or version != decision.target:
            raise Refusal(f"the green environment of {identifier} is not healthy: {green} (the "
                          f"copy of {blue}) is {status}, engine {version or 'unknown'}, expected "
                          f"available on {decision.target}; nothing was switched over. Inspect "
                          f"it; {_delete_command(identifier, target=True)}")
        sample = lag_sample(decision.clients.cloudwatch, green, clock=clock)
        if sample is None:
            _step(f"green {green} (copy of {blue}): available, {version}; replica lag unknown "
                  "(no ReplicaLag datapoint): RDS's switchover refuses a green that lags", out)
        elif sample.seconds > options.max_lag_seconds:
            raise Refusal(f"replica lag above the limit: green {green} (the copy of {blue}) "
                          f"lags {sample.seconds:g}s behind, more than --max-lag "
                          f"{options.max_lag_seconds:g}s; nothing was switched over: re-run "
                          "once it has caught up")
        else:
            _step(f"green {green} (copy of {blue}): available, {version}, replica lag "
                  f"{sample.seconds:g}s", out)


def switch_over(decision: Decision, deployment: dict[str, Any], options: BlueGreenOptions,
                clock: Clock, out: TextIO) -> dict[str, Any]:
    rds, identifier = decision.clients.rds, deployment["BlueGreenDeploymentIdentifier"]
    if deployment["Status"] == AVAILABLE_BG:
        try:
            rds.switchover_blue_green_deployment(
                BlueGreenDeploymentIdentifier=identifier,
                SwitchoverTimeout=options.switchover_timeout_seconds)
        except ClientError as error:
            raise OpsError(f"switchover_blue_green_deployment({identifier}) failed: "
                           f"{describe_client_error(error)}; the blue environment still serves: "
                           "fix the cause and re-run") from error
        _step(f"switchover requested (RDS's timeout {options.switchover_timeout_seconds}s; "
              f"{SWITCHOVER_DOWNTIME})", out)
    return wait_for(rds, identifier, until=SWITCHED, options=options, clock=clock, out=out)


def repoint(decision: Decision, placement: Placement, out: TextIO) -> Endpoint:
    """(6): the writer-endpoint parameter and the secret name the new writer's endpoint (which
    it returns)."""
    clients = decision.clients
    instance = describe_instance(clients.rds, decision.identifier)
    live = endpoint_of(instance) if instance else None
    if live is None:
        raise OpsError(f"{decision.identifier} has no endpoint after the switchover: re-run "
                       "the same command to repoint")
    endpoint = Endpoint(host=live[0], port=live[1])
    outputs = load_outputs(clients.cloudformation, stack_name=placement.writer_stack)
    parameter = read_parameter(clients.ssm, outputs.writer_parameter)
    written = write_parameter(clients.ssm, current=parameter, endpoint=endpoint)
    _step(f"SSM parameter {outputs.writer_parameter} = {endpoint}" if written else
          f"SSM parameter {outputs.writer_parameter} names {endpoint} already (the green "
          "writer took the writer's name), skipped", out)
    written = write_secret_endpoint(clients.secretsmanager, secret_arn=outputs.secret_arn,
                                    endpoint=endpoint, instance_identifier=decision.identifier)
    _step(f"secret host/port = {endpoint} (new secret version; value not shown)" if written
          else f"secret host/port name {endpoint} already, skipped", out)
    return endpoint


def repoint_dr(config: DatabaseConfig, placement: Placement, factory: ClientFactory,
               endpoint: Endpoint, out: TextIO) -> None:
    """The DR region's copy of the writer-endpoint parameter names the new writer's endpoint
    (read from the rebuilt DR stack's outputs; best effort, as a failover's)."""
    standby = config.layout.standby
    if standby is None or standby.region is None:
        return
    prefix = placement.writer_stack.removesuffix(placement.layout.writer_stack)
    mirror = dr_mirror(factory(standby.region, True), stack_name=prefix + standby.stack)
    if mirror.current is None:
        _step(f"{mirror.subject}: not repointed ({mirror.problem}); set it to {endpoint}", out)
        return
    written = write_parameter(mirror.ssm, current=mirror.current, endpoint=endpoint)
    _step(f"{mirror.subject} = {endpoint}" if written else
          f"{mirror.subject} names {endpoint} already, skipped", out)


def _delete_command(identifier: str, *, target: bool) -> str:
    flag = " --delete-target" if target else ""
    what = ("delete the deployment and its green instances" if target else
            "delete the deployment (both environments are kept)")
    return (f"{what}: aws rds delete-blue-green-deployment --blue-green-deployment-identifier "
            f"{identifier}{flag}")


def blue_side_commands(deployment: dict[str, Any], region: str,
                       green_group: str | None) -> list[str]:
    """The documented commands that delete what the switchover left: the deployment, then each
    old blue instance (a final snapshot of the old writer first), then the green parameter
    group the stacks' own replaced."""
    identifier = deployment["BlueGreenDeploymentIdentifier"]
    lines = [f"aws rds delete-blue-green-deployment --region {region} "
             f"--blue-green-deployment-identifier {identifier}   # keeps both environments"]
    pairs = _members(deployment)
    for n, (blue, _) in enumerate(reversed(pairs)):
        last = n == len(pairs) - 1  # the old writer, after its replicas
        keep = (f"--final-db-snapshot-identifier {blue}-final" if last
                else "--skip-final-snapshot")
        lines.append(f"aws rds modify-db-instance --region {region} --db-instance-identifier "
                     f"{blue} --no-deletion-protection --apply-immediately && aws rds "
                     f"delete-db-instance --region {region} --db-instance-identifier {blue} "
                     f"{keep}")
    if green_group:
        lines.append(f"aws rds delete-db-parameter-group --region {region} "
                     f"--db-parameter-group-name {green_group}   # after the deploy of the "
                     "recorded config moved the instances to the stacks' own groups")
    return lines


def _step(text: str, out: TextIO) -> None:
    print(f"==> {text}", file=out, flush=True)


def print_plan(decision: Decision, existing: dict[str, Any] | None, options: BlueGreenOptions,
               out: TextIO) -> None:
    s = decision.source
    print(f"Blue/green plan for env {decision.config.name} ({decision.clients.region}): "
          f"{s.engine} {s.version} -> {decision.target}", file=out)
    print(f"  blue:      writer {s.identifier}" + (f", replicas {', '.join(s.replicas)}"
                                                    if s.replicas else ""), file=out)
    if existing is not None:
        print(f"  resuming:  {existing['BlueGreenDeploymentName']} "
              f"({existing['BlueGreenDeploymentIdentifier']}), status {existing['Status']}",
              file=out)
    group = (f"parameter group {decision.green_group} (a copy of {decision.group}'s "
             f"parameters, family {engines.parameter_group_family(s.engine, decision.target)})"
             if decision.green_group else f"parameter group {decision.group}")
    steps = [
        f"create blue/green deployment {decision.name}: green copies of every member on "
        f"{decision.target}, with {group}",
        f"wait until it is AVAILABLE (timeout {options.timeout_seconds:.0f}s, poll "
        f"{options.poll_seconds:.0f}s)",
        f"check every green member: available, on {decision.target}, replica lag at most "
        f"{options.max_lag_seconds:g}s",
        f"switch over (RDS's timeout {options.switchover_timeout_seconds}s; "
        f"{SWITCHOVER_DOWNTIME}): each blue member becomes <name>{OLD_SUFFIX}, kept",
        "repoint the writer-endpoint parameter and the secret if they do not name the new "
        "writer's endpoint",
        f"{'record' if options.record else 'print'} the config change: "
        f"engine_version={decision.target!r} in config/topology.json",
    ]
    dr = decision.dr
    if dr is not None:
        steps.insert(0, f"detach the DR replica {dr.identifier} ({DETACHED} already: skipped)"
                     if dr.kind == DETACHED else
                     f"detach the DR replica {dr.identifier}: record the DR rebuild's phase "
                     f"'detached' and deploy it (promoted in place, fenced, kept on "
                     f"{dr.version}; blue/green does not support a cross-Region replica)")
        steps.append(f"rebuild the DR replica of the new writer: record the phase 'rebuilt' "
                     f"and deploy it (a new replica on {decision.target}; {dr.identifier} "
                     "retired)")
    print("  steps:", file=out)
    for number, line in enumerate(steps, 1):
        print(f"    {number}. {line}", file=out)


def dr_stage(config: DatabaseConfig, stage: Stage, *, deploy: Deployer, factory: ClientFactory,
             region: str, options: BlueGreenOptions, clock: Clock,
             out: TextIO) -> DatabaseConfig:
    """Record `stage` (a detach or a rebuild of the DR replica), deploy it, wait until the DR
    instance is what it declares; the config as declared now."""
    _step(stage.title, out)
    config = record_stage(config, stage, out)
    _step(f"deploy ({stage.declaration()})", out)
    deploy(stage)
    members, want = dr_members(config, stage, factory=factory, region=region)
    wait_until_settled(members, options=UpgradeOptions(timeout_seconds=options.timeout_seconds,
                                                       poll_seconds=options.poll_seconds),
                       clock=clock, out=out, want=want)
    for identifier, version in want.items():
        _step(f"{identifier} runs {version}", out)
    return config


def run(config: DatabaseConfig, *, placement: Placement, factory: ClientFactory,
        clients: Clients, options: BlueGreenOptions, clock: Clock, out: TextIO,
        deploy: Deployer | None = None) -> None:
    """Print the plan and carry it out (module doc); `deploy` deploys a DR rebuild's phase."""
    decision = decide(config, placement=placement, factory=factory, clients=clients,
                      options=options)
    rds = clients.rds
    print_plan(decision, decision.existing, options, out)
    if options.dry_run:
        print("Dry run: nothing was changed.", file=out)
        return
    dr = decision.dr
    writer = Member(identifier=decision.identifier, kind=WRITER, version=decision.source.version)
    if dr is not None:
        if deploy is None:
            raise Refusal(f"the DR replica {dr.identifier} is rebuilt by deploys of the recorded "
                          "config: give the deploy command")
        if dr.kind != DETACHED:
            config = dr_stage(config, Stage(
                number=1, title=f"detach the DR replica {dr.identifier}",
                changes=(Change(member=dr, to_version=dr.version),),
                engine_version=config.engine_version,
                replica_engine_version=config.replica_engine_version, action=DETACH),
                deploy=deploy, factory=factory, region=clients.region, options=options,
                clock=clock, out=out)
        else:
            _step(f"the DR replica {dr.identifier} is detached already, skipped", out)
    deployment = decision.existing or create(decision, options, clock, out)
    identifier = deployment["BlueGreenDeploymentIdentifier"]
    if deployment["Status"] != SWITCHED:
        if deployment["Status"] != SWITCHING:
            deployment = wait_for(rds, identifier, until=AVAILABLE_BG, options=options,
                                  clock=clock, out=out)
            check_green(decision, deployment, options, clock, out)
        deployment = switch_over(decision, deployment, options, clock, out)
    else:
        _step(f"{decision.name} is switched over already: resuming after it", out)
    _step(f"switchover complete: {decision.identifier} runs {decision.target}", out)
    endpoint = repoint(decision, placement, out)
    if dr is not None:
        assert deploy is not None
        detached = Member(identifier=dr.identifier, kind=DETACHED, version=dr.version)
        config = dr_stage(with_declared_topology(ENVIRONMENTS[config.name]), Stage(
            number=2, title="rebuild the DR replica of the new writer",
            changes=(Change(member=detached, to_version=decision.target),
                     Change(member=writer, to_version=decision.target)),
            engine_version=decision.target, replica_engine_version=None, action=REBUILD),
            deploy=deploy, factory=factory, region=clients.region, options=options,
            clock=clock, out=out)
        repoint_dr(config, placement, factory, endpoint, out)
    final = EngineRecord(engine_version=decision.target)
    if record_engine(config, final, write_file=options.record, out=out) and not options.record:
        print("Record it with --record (or edit config/topology.json by hand) before the next "
              "deploy: the stacks still declare the old version, and a deploy would try to "
              "downgrade", file=out)
    print_retired_dr_replica(config, out)
    print(f"Next: {environments_change(config.name, final)}.", file=out)
    print("The blue side is kept (deletion protection on). Once the new writer has served for "
          "as long as you need a way back, delete it:", file=out)
    for line in blue_side_commands(deployment, clients.region, decision.green_group):
        print(f"    {line}", file=out)
