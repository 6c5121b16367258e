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

The promotion half (journal, promote, wait) and the repoint steps are shared with the regional
failover (`ops.regional`, `failover --region-dr`): they take any `PromotionPlan`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TextIO

from botocore.exceptions import BotoCoreError, ClientError

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
TAG_RPO = "redundantdb:failover-rpo"  # regional failover: the RPO estimate at promotion time
PHASE_STARTED = "started"
PHASE_PROMOTE_REQUESTED = "promote-requested"
# Regional failover: promoted and the DR-region parameter repointed, but a best-effort step in
# the primary region (its parameter, the secret) is still to do once that region answers.
PHASE_PRIMARY_REGION_PENDING = "primary-region-pending"
PHASE_COMPLETE = "complete"
IN_PROGRESS = (PHASE_STARTED, PHASE_PROMOTE_REQUESTED)
JOURNAL_TAGS = (TAG_PHASE, TAG_FROM, TAG_STARTED, TAG_RPO)
LAG_WINDOW = timedelta(minutes=10)

Instances = dict[str, dict[str, Any] | None]  # identifier -> DBInstance description or None


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


class PromotionPlan(Protocol):
    """What the shared promotion steps need from a plan (in-region or regional)."""

    @property
    def target(self) -> str: ...
    @property
    def target_arn(self) -> str: ...
    @property
    def old_writer(self) -> str: ...
    @property
    def promote_needed(self) -> bool: ...
    @property
    def resumed_phase(self) -> str | None: ...
    @property
    def backup_retention_days(self) -> int: ...
    @property
    def backup_window(self) -> str: ...


def promote_step(plan: PromotionPlan, *, where: str = "") -> str:
    """The plan line of the promotion (`where`: e.g. " in eu-central-1")."""
    if not plan.promote_needed:
        return f"promote {plan.target}{where}: already requested or done, skipped"
    return (f"promote {plan.target}{where} (promote_read_replica, BackupRetentionPeriod="
            f"{plan.backup_retention_days}, PreferredBackupWindow={plan.backup_window})")


def journal_step(plan: PromotionPlan) -> str:
    return (f"journal the failover in {plan.target}'s tags ({TAG_PHASE}, "
            f"{TAG_FROM}={plan.old_writer})")


@dataclass(frozen=True, kw_only=True)
class MirrorParameter:
    """The writer parameter's copy in the DR region: an in-region failover repoints it best
    effort (the DR region is not needed to fail over within the primary region)."""

    region: str
    ssm: Any  # an SSM client of `region`
    name: str | None  # None: the DR stack's outputs could not be read
    problem: str | None = None  # why `name` is None


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
    mirrors: tuple[MirrorParameter, ...] = ()

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
            journal_step(self),
            promote_step(self),
            f"wait until {t} is available and detached from {self.old_writer}",
            parameter,
            secret,
            *(f"best effort: set SSM parameter {m.name or '(unknown)'} in {m.region} to "
              f"{self.target_endpoint}" for m in self.mirrors),
            f"mark the failover complete in {t}'s tags",
        ]


# (a) the current writer ------------------------------------------------------------------------

def current_writer(outputs: DatabaseOutputs, parameter: ParameterValue,
                   instances: Instances, *, also_known: dict[str, str] | None = None) -> str:
    """The instance the writer-endpoint parameter names; the stack's primary when it names none.
    `also_known` (address -> identifier) adds instances outside the stack (the DR replica)."""
    endpoint = Endpoint.parse(parameter.value or "")
    if endpoint is None:
        return outputs.primary_identifier
    return identify_endpoint(endpoint.host, known=outputs.endpoints | (also_known or {}),
                             instances=instances) or outputs.primary_identifier


# (b) the replica to promote --------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class LagSample:
    seconds: float  # the maximum ReplicaLag of the latest one-minute period with data
    timestamp: datetime  # the start of that period


def lag_sample(cloudwatch: Any, identifier: str, *, clock: Clock) -> LagSample | None:
    """The latest `ReplicaLag` datapoint of the last 10 minutes; None if CloudWatch has none."""
    end = clock.now() + timedelta(minutes=1)  # EndTime is exclusive: include the last minute
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
    latest = max(points, key=lambda p: p["Timestamp"])
    return LagSample(seconds=float(latest["Maximum"]), timestamp=latest["Timestamp"])


def replica_lag(cloudwatch: Any, identifier: str, *, clock: Clock) -> float | None:
    """The latest `ReplicaLag` (seconds) of the last 10 minutes; None if CloudWatch has none."""
    sample = lag_sample(cloudwatch, identifier, clock=clock)
    return None if sample is None else sample.seconds


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
                      instances: Instances) -> tuple[Candidate, ...]:
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
                     instances: Instances) -> tuple[str, dict[str, str]] | None:
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


@dataclass(frozen=True, kw_only=True)
class Decision:
    """Which replica replaces which writer, and why."""

    old_writer: str
    target: str
    reason: str
    resumed_phase: str | None = None
    candidates: tuple[Candidate, ...] = ()


def resume_decision(*, target: str, tags: dict[str, str], outputs: DatabaseOutputs,
                    requested: str | None) -> Decision:
    """Finish the unfinished failover to `target` (no health gate: the change is half made)."""
    started = tags.get(TAG_STARTED, "?")
    if requested is not None and requested != target:
        raise Refusal(f"a failover to {target} is unfinished (started {started}): re-run without "
                      f"--replica, or with --replica {target}, to finish it first")
    return Decision(old_writer=tags.get(TAG_FROM) or outputs.primary_identifier, target=target,
                    reason=f"resuming the failover started {started}",
                    resumed_phase=tags[TAG_PHASE])


def new_decision(clients: Clients, *, outputs: DatabaseOutputs, options: FailoverOptions,
                 instances: Instances, parameter: ParameterValue,
                 clock: Clock) -> Decision:
    """(a) the writer must be unhealthy (or --force), (b) then the best eligible replica."""
    old_writer = current_writer(outputs, parameter, instances)
    health = assess_health(instances.get(old_writer))
    if health.healthy and not options.force:
        raise Refusal(f"the writer {old_writer} is healthy ({health.reason}): refusing to fail "
                      "over. For a planned failover stop the application's writes, then re-run "
                      "with --force")
    candidates = assess_candidates(clients, outputs, writer=old_writer,
                                   writer_exists=instances.get(old_writer) is not None,
                                   clock=clock, instances=instances)
    chosen, reason = choose_target(candidates, requested=options.replica, writer=old_writer)
    return Decision(old_writer=old_writer, target=chosen.identifier, reason=reason,
                    candidates=candidates)


def check_account(config: DatabaseConfig, account: str) -> None:
    if config.account is not None and account != config.account:
        raise Refusal(f"the credentials are for account {account}, but env {config.name} lives "
                      f"in account {config.account}: check --profile")


def build_plan(clients: Clients, *, config: DatabaseConfig, outputs: DatabaseOutputs,
               options: FailoverOptions, clock: Clock,
               mirrors: tuple[MirrorParameter, ...] = ()) -> FailoverPlan:
    """Read the live state and decide; raises `Refusal` when failing over is unsafe/pointless."""
    account = str(clients.sts.get_caller_identity()["Account"])
    check_account(config, account)
    instances = {i: describe_instance(clients.rds, i) for i in outputs.instance_identifiers}
    parameter = read_parameter(clients.ssm, outputs.writer_parameter)
    unfinished = find_in_progress(clients.rds, outputs, instances)
    if unfinished is not None:
        decision = resume_decision(target=unfinished[0], tags=unfinished[1], outputs=outputs,
                                   requested=options.replica)
    else:
        decision = new_decision(clients, outputs=outputs, options=options, instances=instances,
                                parameter=parameter, clock=clock)
    instance = instances.get(decision.target)
    if instance is None:
        raise OpsError(f"the failover target {decision.target} does not exist")
    endpoint = endpoint_of(instance)
    if endpoint is None:
        raise OpsError(f"replica {decision.target} has no endpoint (status "
                       f"{status_of(instance)})")
    return FailoverPlan(
        env=config.name,
        stack_name=outputs.stack_name,
        account=account,
        region=clients.region,
        old_writer=decision.old_writer,
        old_writer_health=assess_health(instances.get(decision.old_writer)),
        target=decision.target,
        target_arn=str(instance["DBInstanceArn"]),
        target_status=status_of(instance),
        target_endpoint=Endpoint(host=endpoint[0], port=endpoint[1]),
        reason=decision.reason,
        resumed_phase=decision.resumed_phase,
        promote_needed=(decision.resumed_phase != PHASE_PROMOTE_REQUESTED
                        and source_of(instance) is not None),
        parameter=parameter,
        secret_arn=outputs.secret_arn,
        secret_endpoint=read_secret_endpoint(clients.secretsmanager, outputs.secret_arn),
        backup_retention_days=config.backup_retention_days,
        backup_window=config.backup_window,
        candidates=decision.candidates,
        mirrors=mirrors,
    )


# (c)-(e) the changes, each idempotent ----------------------------------------------------------

def write_journal(rds: Any, plan: PromotionPlan, *, phase: str, clock: Clock,
                  extra: dict[str, str] | None = None) -> None:
    tags = [{"Key": TAG_PHASE, "Value": phase}, {"Key": TAG_FROM, "Value": plan.old_writer}]
    if phase == PHASE_STARTED:
        tags.append({"Key": TAG_STARTED, "Value": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")})
    tags += [{"Key": key, "Value": value} for key, value in (extra or {}).items()]
    rds.add_tags_to_resource(ResourceName=plan.target_arn, Tags=tags)


def clear_journal(rds: Any, plan: PromotionPlan) -> None:
    rds.remove_tags_from_resource(ResourceName=plan.target_arn, TagKeys=list(JOURNAL_TAGS))


def promote(rds: Any, plan: PromotionPlan) -> str:
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


def wait_until_promoted(rds: Any, plan: PromotionPlan, *, options: FailoverOptions, clock: Clock,
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
        health = assess_health(instance)
        if not health.healthy:
            raise OpsError(f"the promotion of {plan.target} failed: {health.reason}. Nothing was "
                           f"repointed: applications still use {plan.old_writer}. Inspect the "
                           f"instance's events; to promote another replica remove the "
                           f"{TAG_PHASE} tag from {plan.target} and re-run with --replica")
        if elapsed >= options.timeout_seconds:
            raise FailoverTimeout(
                f"{plan.target} is not a standalone available instance after "
                f"{options.timeout_seconds:.0f}s (status {status}{detail}). The promotion goes "
                "on in AWS and nothing was repointed; re-run the same command to resume waiting")
        clock.sleep(min(options.poll_seconds, max(options.timeout_seconds - elapsed, 0.0)))


def repoint_parameter(ssm: Any, name: str, endpoint: Endpoint) -> str:
    current = read_parameter(ssm, name)
    if write_parameter(ssm, current=current, endpoint=endpoint):
        return f"{name} = {endpoint} (was {current.value or 'missing'})"
    return f"{name} already {endpoint}, skipped"


def repoint_secret(secrets: Any, *, secret_arn: str, endpoint: Endpoint, target: str) -> str:
    if write_secret_endpoint(secrets, secret_arn=secret_arn, endpoint=endpoint,
                             instance_identifier=target):
        return f"host/port = {endpoint} (new secret version; value not shown)"
    return f"host/port already {endpoint}, skipped"


def repoint_mirror(mirror: MirrorParameter, endpoint: Endpoint, out: TextIO) -> bool:
    """Best effort: a failure is a WARN with the command that finishes the step by hand."""
    problem = mirror.problem
    if mirror.name is not None:
        try:
            step(f"repoint SSM parameter ({mirror.region}): "
                 f"{repoint_parameter(mirror.ssm, mirror.name, endpoint)}", out)
            return True
        except (BotoCoreError, ClientError) as error:
            problem = (describe_client_error(error) if isinstance(error, ClientError)
                       else str(error))
    name = mirror.name or "<the DrReplica stack's WriterEndpointParameter output>"
    print(f"WARN  SSM parameter {name} in {mirror.region} not repointed: {problem}. Set it once "
          f"{mirror.region} answers: aws ssm put-parameter --region {mirror.region} --name "
          f"{name} --value {endpoint} --overwrite", file=out, flush=True)
    return False


def promote_and_wait(rds: Any, plan: PromotionPlan, *, options: FailoverOptions, clock: Clock,
                     out: TextIO, journal: dict[str, str] | None = None) -> Endpoint:
    """Journal, promote (unless done), wait until standalone and available; returns the
    promoted instance's endpoint. `journal`: extra tags written with the first journal entry."""
    step(f"journal: {TAG_PHASE}={plan.resumed_phase or PHASE_STARTED} on {plan.target}", out)
    if plan.resumed_phase is None:
        write_journal(rds, plan, phase=PHASE_STARTED, clock=clock, extra=journal)
    try:
        outcome = promote(rds, plan)
    except OpsError:
        # Nothing changed: drop the journal so a re-run may choose again (e.g. another replica).
        clear_journal(rds, plan)
        raise
    step(f"promote {plan.target}: {outcome}", out)
    if plan.resumed_phase in (None, *IN_PROGRESS):
        write_journal(rds, plan, phase=PHASE_PROMOTE_REQUESTED, clock=clock)
    step(f"wait for {plan.target} (timeout {options.timeout_seconds:.0f}s, poll "
         f"{options.poll_seconds:.0f}s)", out)
    instance = wait_until_promoted(rds, plan, options=options, clock=clock, out=out)
    address, port = endpoint_of(instance) or ("", 0)
    if not address:
        raise OpsError(f"{plan.target} is promoted but has no endpoint yet: re-run the same "
                       "command to repoint the writer endpoint")
    return Endpoint(host=address, port=port)


def step(text: str, out: TextIO) -> None:
    print(f"==> {text}", file=out, flush=True)


# (f) and the whole runbook ---------------------------------------------------------------------

def next_steps(plan: FailoverPlan) -> list[str]:
    env, old, new = plan.env, plan.old_writer, plan.target
    if plan.old_writer_health.status == "missing":
        old_writer = f"Old writer {old} no longer exists; nothing to fence."
    else:
        old_writer = (f"Old writer {old} ({plan.old_writer_health.status}) still exists: make "
                      "sure nothing writes to it (it is no longer replicated), keep it for "
                      "forensics, delete it when done (deletion protection is on).")
    return [
        f"Applications: read the writer from SSM {plan.parameter.name} or the secret's host "
        f"({plan.target_endpoint}); restart connection pools that cached {old}.",
        old_writer,
        f"Do not deploy {plan.stack_name} yet: it still declares {new} as a read replica of "
        f"{old}, and CloudFormation does not see the promotion. The config cannot yet declare "
        f"a promoted writer (docs/operations.md, 'After a failover'); until it can, a deploy "
        f"of that stack may fight the promotion. The AWS Backup plan and the primary's alarms "
        f"still target {old}.",
        f"Restore redundancy by hand if needed: `aws rds create-db-instance-read-replica "
        f"--source-db-instance-identifier {new} ...` (the stack's replicas will not follow "
        f"{new}).",
        f"Check: `python -m ops verify --env {env}` (the promoted writer must pass; the demoted "
        "primary and the reduced redundancy show as WARN).",
    ]


def print_plan(plan: FailoverPlan, out: TextIO) -> None:
    print(f"Failover plan for env {plan.env} ({plan.stack_name}, account {plan.account}, "
          f"region {plan.region})", file=out)
    print(f"  writer now:  {plan.old_writer} ({plan.old_writer_health.reason})", file=out)
    print(f"  promote:     {plan.target} ({plan.target_status}) - {plan.reason}", file=out)
    for candidate in plan.candidates:
        if candidate.problem:
            print(f"  not chosen:  {candidate.identifier} {candidate.problem}", file=out)
        elif (candidate.identifier == plan.target and plan.old_writer_health.healthy
              and candidate.lag_seconds):
            print(f"  warning:     {plan.target} lags {candidate.lag_seconds:g}s behind "
                  f"{plan.old_writer}: writes of those seconds are lost unless the application "
                  "has stopped writing and the lag is 0", file=out)
    print("  steps:", file=out)
    for number, step in enumerate(plan.steps(), 1):
        print(f"    {number}. {step}", file=out)


def execute(clients: Clients, plan: FailoverPlan, *, options: FailoverOptions, clock: Clock,
            out: TextIO) -> None:
    """Carry out `plan`; every step first checks whether it is already done."""
    endpoint = promote_and_wait(clients.rds, plan, options=options, clock=clock, out=out)
    step("repoint SSM parameter: "
         f"{repoint_parameter(clients.ssm, plan.parameter.name, endpoint)}", out)
    secret = repoint_secret(clients.secretsmanager, secret_arn=plan.secret_arn,
                            endpoint=endpoint, target=plan.target)
    step(f"repoint secret: {secret}", out)
    for mirror in plan.mirrors:
        repoint_mirror(mirror, endpoint, out)
    write_journal(clients.rds, plan, phase=PHASE_COMPLETE, clock=clock)
    step(f"failover complete: {plan.target} is the writer at {endpoint}", out)


def run_failover(clients: Clients, *, config: DatabaseConfig, outputs: DatabaseOutputs,
                 options: FailoverOptions, clock: Clock, out: TextIO,
                 mirrors: tuple[MirrorParameter, ...] = ()) -> None:
    """The runbook: plan, then (unless --dry-run) execute and print the next steps."""
    plan = build_plan(clients, config=config, outputs=outputs, options=options, clock=clock,
                      mirrors=mirrors)
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
