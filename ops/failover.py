"""`failover`: promote a read replica and repoint the writer endpoint, as a resumable runbook.

Steps, each a small function over an explicit `FailoverPlan`:
  (a) assess the current writer's health     `current_writer`, `assess_health`
  (b) pick the replica                       `assess_candidates`, `choose_target`
  (c) promote it                             `promote`
  (d) wait until it is a standalone writer   `wait_until_promoted`
  (e) repoint the SSM parameter and secret   `repoint_parameter`, `repoint_secret`
  (f) say what to do next                    `next_steps`

Re-run safety. The target instance carries a journal in its tags (`redundantdb:failover` =
started | promote-requested | complete, plus `redundantdb:failover-from`), written before each
irreversible call. A re-run finds a replica whose journal says started/promote-requested and
resumes that failover (no new choice, no health gate): it skips the promotion when it was
requested or the replica no longer has a source, and each repoint step writes only when the
value differs. A completed failover leaves the promoted instance as the writer, so a further run
assesses that instance like any writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TextIO

from botocore.exceptions import ClientError

from config import DatabaseConfig
from ops.aws import Clients
from ops.clock import Clock
from ops.errors import FailoverTimeout, OpsError, Refusal, describe_client_error, error_code
from ops.instances import (
    AVAILABLE,
    PROMOTION_STATUSES,
    Health,
    assess_health,
    describe_instance,
    endpoint_of,
    source_of,
    status_of,
    tags_of,
)
from ops.outputs import DatabaseOutputs
from ops.writer import (
    Endpoint,
    ParameterValue,
    SecretEndpoint,
    identify_endpoint,
    read_parameter,
    read_secret_endpoint,
    write_parameter,
    write_secret_endpoint,
)

TAG_PHASE = "redundantdb:failover"
TAG_FROM = "redundantdb:failover-from"
TAG_STARTED = "redundantdb:failover-started"
PHASE_STARTED = "started"
PHASE_PROMOTE_REQUESTED = "promote-requested"
PHASE_COMPLETE = "complete"
IN_PROGRESS = (PHASE_STARTED, PHASE_PROMOTE_REQUESTED)
LAG_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True, kw_only=True)
class FailoverOptions:
    replica: str | None = None  # None: pick the healthiest replica
    dry_run: bool = False
    force: bool = False  # fail over even though the writer is healthy (planned failover)
    timeout_seconds: float = 1800.0
    poll_seconds: float = 15.0


@dataclass(frozen=True, kw_only=True)
class Candidate:
    identifier: str
    number: int  # Replica<N> in the outputs: the deterministic tie-break
    status: str
    source: str | None
    lag_seconds: float | None  # latest CloudWatch ReplicaLag, None when unknown
    problem: str | None  # why it cannot be promoted; None when it can

    @property
    def eligible(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        lag = "lag unknown" if self.lag_seconds is None else f"lag {self.lag_seconds:g}s"
        return f"{self.identifier} ({self.status}, {lag})"


@dataclass(frozen=True, kw_only=True)
class FailoverPlan:
    """What the failover will do, decided before anything changes."""

    env: str
    stack_name: str
    account: str
    region: str
    old_writer: str
    old_writer_health: Health
    target: str
    target_arn: str
    target_status: str
    target_endpoint: Endpoint
    reason: str  # why this target
    resumed_phase: str | None  # the journal's phase when resuming, None for a new failover
    promote_needed: bool
    parameter: ParameterValue
    secret_arn: str
    secret_endpoint: SecretEndpoint
    backup_retention_days: int
    backup_window: str
    candidates: tuple[Candidate, ...] = field(default=())

    @property
    def parameter_needs_update(self) -> bool:
        return self.parameter.value != str(self.target_endpoint)

    @property
    def secret_needs_update(self) -> bool:
        s = self.secret_endpoint
        return (s.host, s.port) != (self.target_endpoint.host, self.target_endpoint.port) or (
            s.instance_identifier not in (None, self.target))

    def steps(self) -> list[str]:
        """The plan as numbered lines; a step already done says so."""
        t = self.target
        promote = (f"promote {t} (promote_read_replica, BackupRetentionPeriod="
                   f"{self.backup_retention_days}, PreferredBackupWindow={self.backup_window})")
        if not self.promote_needed:
            promote = f"promote {t}: already requested or done, skipped"
        parameter = (f"set SSM parameter {self.parameter.name} to {self.target_endpoint} "
                     f"(now {self.parameter.value or 'missing'})")
        if not self.parameter_needs_update:
            parameter = f"SSM parameter {self.parameter.name} already names {t}, skipped"
        secret = (f"set host/port of secret {self.secret_arn} to {self.target_endpoint} "
                  f"(now {self.secret_endpoint.host}:{self.secret_endpoint.port}; "
                  "other fields kept, value never shown)")
        if not self.secret_needs_update:
            secret = f"secret {self.secret_arn} already names {t}, skipped"
        return [
            f"journal the failover in {t}'s tags ({TAG_PHASE}, {TAG_FROM}={self.old_writer})",
            promote,
            f"wait until {t} is available and detached from {self.old_writer}",
            parameter,
            secret,
            f"mark the failover complete in {t}'s tags",
        ]


# (a) the current writer ------------------------------------------------------------------------

def current_writer(outputs: DatabaseOutputs, parameter: ParameterValue,
                   instances: dict[str, dict[str, Any] | None]) -> str:
    """The instance the writer-endpoint parameter names; the stack's primary when it names none."""
    endpoint = Endpoint.parse(parameter.value or "")
    if endpoint is None:
        return outputs.primary_identifier
    return identify_endpoint(endpoint.host, known=outputs.endpoints,
                             instances=instances) or outputs.primary_identifier


# (b) the replica to promote --------------------------------------------------------------------

def replica_lag(cloudwatch: Any, identifier: str, *, clock: Clock) -> float | None:
    """The latest `ReplicaLag` (seconds) of the last 10 minutes; None if CloudWatch has none."""
    end = clock.now()
    try:
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/RDS", MetricName="ReplicaLag",
            Dimensions=[{"Name": "DBInstanceIdentifier", "Value": identifier}],
            StartTime=end - LAG_WINDOW, EndTime=end, Period=60, Statistics=["Maximum"],
        )["Datapoints"]
    except ClientError:
        return None
    if not points:
        return None
    return float(max(points, key=lambda p: p["Timestamp"])["Maximum"])


def candidate_problem(instance: dict[str, Any] | None, *, writer: str,
                      writer_exists: bool) -> str | None:
    """Why `instance` cannot replace `writer`, or None when it can."""
    if instance is None:
        return "does not exist"
    status = status_of(instance)
    if status != AVAILABLE:
        return f"is not available (status {status})"
    source = source_of(instance)
    if source is None and writer_exists:
        return f"is standalone, not a replica of {writer}"
    if source is not None and source != writer:
        return (f"replicates from {source}, not from the writer {writer}: promoting it would "
                f"lose the writes made on {writer}")
    return None


def assess_candidates(clients: Clients, outputs: DatabaseOutputs, *, writer: str,
                      writer_exists: bool, clock: Clock,
                      instances: dict[str, dict[str, Any] | None]) -> tuple[Candidate, ...]:
    candidates = []
    for replica in outputs.replicas:
        if replica.identifier == writer:
            continue
        instance = instances.get(replica.identifier)
        problem = candidate_problem(instance, writer=writer, writer_exists=writer_exists)
        candidates.append(Candidate(
            identifier=replica.identifier, number=replica.number, status=status_of(instance),
            source=source_of(instance) if instance else None,
            lag_seconds=replica_lag(clients.cloudwatch, replica.identifier, clock=clock)
            if problem is None else None,
            problem=problem,
        ))
    return tuple(candidates)


def choose_target(candidates: tuple[Candidate, ...], *, requested: str | None,
                  writer: str) -> tuple[Candidate, str]:
    """(the replica to promote, why); `Refusal` when none may be promoted."""
    if not candidates:
        raise Refusal(f"no read replica to promote: the stack declares none besides the writer "
                      f"{writer}")
    if requested is not None:
        chosen = next((c for c in candidates if c.identifier == requested), None)
        if chosen is None:
            names = ", ".join(c.identifier for c in candidates)
            raise Refusal(f"{requested} is not a read replica of this stack (replicas: {names})")
        if chosen.problem:
            raise Refusal(f"replica {requested} {chosen.problem}: refusing to promote it")
        return chosen, "named with --replica"
    eligible = [c for c in candidates if c.eligible]
    if not eligible:
        why = "; ".join(f"{c.identifier} {c.problem}" for c in candidates)
        raise Refusal(f"no replica can be promoted: {why}")
    ranked = sorted(eligible, key=lambda c: (c.lag_seconds is None, c.lag_seconds or 0.0,
                                             c.number))
    best = ranked[0]
    if best.lag_seconds is not None:
        reason = f"lowest replica lag among {', '.join(c.describe() for c in ranked)}"
    else:
        reason = (f"first available replica in stack order (no ReplicaLag data) among "
                  f"{', '.join(c.describe() for c in ranked)}")
    return best, reason


# The plan ---------------------------------------------------------------------------------------

def find_in_progress(rds: Any, outputs: DatabaseOutputs,
                     instances: dict[str, dict[str, Any] | None]) -> tuple[str, dict[str, str]] | None:
    """(replica, its journal tags) of a failover a previous run left unfinished, if any."""
    found = []
    for replica in outputs.replicas:
        instance = instances.get(replica.identifier)
        if instance is None:
            continue
        tags = tags_of(rds, instance)
        if tags.get(TAG_PHASE) in IN_PROGRESS:
            found.append((replica.identifier, tags))
    if len(found) > 1:
        names = ", ".join(name for name, _ in found)
        raise OpsError(f"unfinished failovers to several replicas ({names}): inspect them and "
                       f"remove the {TAG_PHASE} tag from the ones that were not promoted")
    return found[0] if found else None


def build_plan(clients: Clients, *, config: DatabaseConfig, outputs: DatabaseOutputs,
               options: FailoverOptions, clock: Clock) -> FailoverPlan:
    """Read the live state and decide; raises `Refusal` when failing over is unsafe/pointless."""
    rds = clients.rds
    instances = {i: describe_instance(rds, i) for i in outputs.instance_identifiers}
    parameter = read_parameter(clients.ssm, outputs.writer_parameter)
    resumed = find_in_progress(rds, outputs, instances)
    candidates: tuple[Candidate, ...] = ()
    if resumed is not None:
        target, tags = resumed
        old_writer = tags.get(TAG_FROM) or outputs.primary_identifier
        if options.replica is not None and options.replica != target:
            raise Refusal(f"a failover to {target} is unfinished (started "
                          f"{tags.get(TAG_STARTED, '?')}): re-run without --replica, or with "
                          f"--replica {target}, to finish it first")
        reason = f"resuming the failover started {tags.get(TAG_STARTED, '?')}"
        phase: str | None = tags[TAG_PHASE]
    else:
        old_writer = current_writer(outputs, parameter, instances)
        health = assess_health(instances.get(old_writer))
        if health.healthy and not options.force:
            raise Refusal(f"the writer {old_writer} is healthy ({health.reason}): refusing to "
                          "fail over. For a planned failover stop the application's writes, "
                          "then re-run with --force")
        candidates = assess_candidates(clients, outputs, writer=old_writer,
                                       writer_exists=instances.get(old_writer) is not None,
                                       clock=clock, instances=instances)
        chosen, reason = choose_target(candidates, requested=options.replica, writer=old_writer)
        target, phase = chosen.identifier, None
    instance = instances.get(target)
    if instance is None:
        raise OpsError(f"the failover target {target} no longer exists: restore it or remove "
                       "the stack's record of it with `cdk deploy`")
    endpoint = endpoint_of(instance)
    if endpoint is None:
        raise OpsError(f"replica {target} has no endpoint yet (status {status_of(instance)})")
    return FailoverPlan(
        env=config.name,
        stack_name=outputs.stack_name,
        account=str(clients.sts.get_caller_identity()["Account"]),
        region=clients.region,
        old_writer=old_writer,
        old_writer_health=assess_health(instances.get(old_writer)),
        target=target,
        target_arn=str(instance["DBInstanceArn"]),
        target_status=status_of(instance),
        target_endpoint=Endpoint(host=endpoint[0], port=endpoint[1]),
        reason=reason,
        resumed_phase=phase,
        promote_needed=phase != PHASE_PROMOTE_REQUESTED and source_of(instance) is not None,
        parameter=parameter,
        secret_arn=outputs.secret_arn,
        secret_endpoint=read_secret_endpoint(clients.secretsmanager, outputs.secret_arn),
        backup_retention_days=config.backup_retention_days,
        backup_window=config.backup_window,
        candidates=candidates,
    )


# (c)-(e) the changes, each idempotent ----------------------------------------------------------

def write_journal(rds: Any, plan: FailoverPlan, *, phase: str, clock: Clock) -> None:
    tags = [{"Key": TAG_PHASE, "Value": phase}, {"Key": TAG_FROM, "Value": plan.old_writer}]
    if phase == PHASE_STARTED:
        tags.append({"Key": TAG_STARTED, "Value": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")})
    rds.add_tags_to_resource(ResourceName=plan.target_arn, Tags=tags)


def clear_journal(rds: Any, plan: FailoverPlan) -> None:
    rds.remove_tags_from_resource(ResourceName=plan.target_arn,
                                  TagKeys=[TAG_PHASE, TAG_FROM, TAG_STARTED])


def promote(rds: Any, plan: FailoverPlan) -> str:
    """Ask RDS to promote the target; returns what happened. A promotion already under way
    (InvalidDBInstanceState on a re-run) is not an error."""
    if not plan.promote_needed:
        return "already requested, skipped"
    try:
        rds.promote_read_replica(DBInstanceIdentifier=plan.target,
                                 BackupRetentionPeriod=plan.backup_retention_days,
                                 PreferredBackupWindow=plan.backup_window)
    except ClientError as error:
        instance = describe_instance(rds, plan.target)
        if error_code(error) == "InvalidDBInstanceState" and instance is not None and (
                status_of(instance) in PROMOTION_STATUSES or source_of(instance) is None):
            return f"already under way ({status_of(instance)})"
        raise OpsError(
            f"promote_read_replica({plan.target}) failed: {describe_client_error(error)}. "
            f"Nothing was repointed: applications still use {plan.old_writer}. Fix the cause "
            "and re-run the same command to resume") from error
    return "requested"


def wait_until_promoted(rds: Any, plan: FailoverPlan, *, options: FailoverOptions, clock: Clock,
                        out: TextIO) -> dict[str, Any]:
    """Poll until the target is available with no replication source; `FailoverTimeout` after
    `options.timeout_seconds`. Prints one progress line per poll."""
    start = clock.monotonic()
    while True:
        elapsed = clock.monotonic() - start
        instance = describe_instance(rds, plan.target)
        if instance is None:
            raise OpsError(f"{plan.target} disappeared while being promoted")
        status, source = status_of(instance), source_of(instance)
        detail = f", still replicating from {source}" if source else ", standalone"
        print(f"    [{elapsed:6.0f}s / {options.timeout_seconds:.0f}s] {plan.target}: "
              f"{status}{detail}", file=out, flush=True)
        if status == AVAILABLE and source is None:
            return instance
        if elapsed >= options.timeout_seconds:
            raise FailoverTimeout(
                f"{plan.target} is not a standalone available instance after "
                f"{options.timeout_seconds:.0f}s (status {status}{detail}). The promotion goes "
                "on in AWS and nothing was repointed; re-run the same command to resume waiting")
        clock.sleep(min(options.poll_seconds, max(options.timeout_seconds - elapsed, 0.0)))


def repoint_parameter(ssm: Any, plan: FailoverPlan, endpoint: Endpoint) -> str:
    current = read_parameter(ssm, plan.parameter.name)
    if write_parameter(ssm, current=current, endpoint=endpoint):
        return f"{plan.parameter.name} = {endpoint} (was {current.value or 'missing'})"
    return f"{plan.parameter.name} already {endpoint}, skipped"


def repoint_secret(secrets: Any, plan: FailoverPlan, endpoint: Endpoint) -> str:
    if write_secret_endpoint(secrets, secret_arn=plan.secret_arn, endpoint=endpoint,
                             instance_identifier=plan.target):
        return f"host/port = {endpoint} (new secret version; value not shown)"
    return f"host/port already {endpoint}, skipped"


# (f) and the whole runbook ---------------------------------------------------------------------

def next_steps(plan: FailoverPlan) -> list[str]:
    env, old, new = plan.env, plan.old_writer, plan.target
    return [
        f"Applications: read the writer from SSM {plan.parameter.name} or the secret's host "
        f"({plan.target_endpoint}); restart connection pools that cached {old}.",
        f"Old writer {old} ({plan.old_writer_health.status}): it is out of the stack's path but "
        "not deleted; keep it for forensics, and make sure nothing writes to it.",
        f"Before the next deploy, make the template match reality: the stack still declares "
        f"{new} as a read replica of {old}. Deploying the database stack unchanged can replace "
        f"the promoted instance. Change the env's config so that {new} is declared as the "
        f"writer, then check `cdk diff -c env={env}` replaces no DB instance.",
        f"Recreate the read replicas: `cdk deploy -c env={env} {plan.stack_name}` "
        "(redundancy is reduced until then).",
        f"Check: `python -m ops verify --env {env}` (the promoted writer passes; the demoted "
        "primary and the reduced redundancy show as WARN until the deploy).",
    ]


def print_plan(plan: FailoverPlan, out: TextIO) -> None:
    print(f"Failover plan for env {plan.env} ({plan.stack_name}, account {plan.account}, "
          f"region {plan.region})", file=out)
    print(f"  writer now:  {plan.old_writer} ({plan.old_writer_health.reason})", file=out)
    print(f"  promote:     {plan.target} ({plan.target_status}) - {plan.reason}", file=out)
    for candidate in plan.candidates:
        if candidate.problem:
            print(f"  not chosen:  {candidate.identifier} {candidate.problem}", file=out)
    print("  steps:", file=out)
    for number, step in enumerate(plan.steps(), 1):
        print(f"    {number}. {step}", file=out)


def execute(clients: Clients, plan: FailoverPlan, *, options: FailoverOptions, clock: Clock,
            out: TextIO) -> None:
    """Carry out `plan`; every step first checks whether it is already done."""
    def step(text: str) -> None:
        print(f"==> {text}", file=out, flush=True)

    step(f"journal: {TAG_PHASE}={plan.resumed_phase or PHASE_STARTED} on {plan.target}")
    if plan.resumed_phase is None:
        write_journal(clients.rds, plan, phase=PHASE_STARTED, clock=clock)
    try:
        outcome = promote(clients.rds, plan)
    except OpsError:
        # Nothing changed: drop the journal so a re-run may choose again (e.g. another replica).
        clear_journal(clients.rds, plan)
        raise
    step(f"promote {plan.target}: {outcome}")
    write_journal(clients.rds, plan, phase=PHASE_PROMOTE_REQUESTED, clock=clock)
    step(f"wait for {plan.target} (timeout {options.timeout_seconds:.0f}s, poll "
         f"{options.poll_seconds:.0f}s)")
    instance = wait_until_promoted(clients.rds, plan, options=options, clock=clock, out=out)
    address, port = endpoint_of(instance) or (plan.target_endpoint.host,
                                              plan.target_endpoint.port)
    endpoint = Endpoint(host=address, port=port)
    step(f"repoint SSM parameter: {repoint_parameter(clients.ssm, plan, endpoint)}")
    step(f"repoint secret: {repoint_secret(clients.secretsmanager, plan, endpoint)}")
    write_journal(clients.rds, plan, phase=PHASE_COMPLETE, clock=clock)
    step(f"failover complete: {plan.target} is the writer at {endpoint}")


def run_failover(clients: Clients, *, config: DatabaseConfig, outputs: DatabaseOutputs,
                 options: FailoverOptions, clock: Clock, out: TextIO) -> None:
    """The runbook: plan, then (unless --dry-run) execute and print the next steps."""
    plan = build_plan(clients, config=config, outputs=outputs, options=options, clock=clock)
    if plan.resumed_phase is not None:
        print(f"Resuming an unfinished failover to {plan.target} (journal phase "
              f"{plan.resumed_phase}).", file=out)
    elif plan.old_writer_health.healthy:
        print(f"--force: failing over although {plan.old_writer} is healthy.", file=out)
    print_plan(plan, out)
    if options.dry_run:
        print("Dry run: nothing was changed.", file=out)
        return
    execute(clients, plan, options=options, clock=clock, out=out)
    print("Next steps:", file=out)
    for number, line in enumerate(next_steps(plan), 1):
        print(f"  {number}. {line}", file=out)
