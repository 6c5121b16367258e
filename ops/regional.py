"""`failover --region-dr`: promote the cross-region DR replica and repoint the writer endpoint.

For the loss of the primary region (or, with --force, a planned switch of regions). Everything
the failover must do happens in the DR region; what it does in the primary region is best effort,
because that region may be down:

  (a) find the DR replica (`RedundantDb-<env>-DrReplica` outputs, DR region)
  (b) probe the primary region with short timeouts: its writer's health, its writer parameter and
      the secret; a region that does not answer counts as an unhealthy writer   `probe_primary`
  (c) the RPO estimate from the DR replica's ReplicaLag and replication status    `estimate_rpo`
  (d) journal, promote, wait (shared with the in-region failover: `ops.failover`)
  (e) repoint the DR region's writer parameter (must succeed)
  (f) best effort in the primary region: its writer parameter and the secret's host/port; a
      failure is a WARN saying what to do once the region is back, and the journal stays at
      `primary-region-pending` so that re-running the same command finishes those steps.

Refusals are those of the in-region failover: a healthy writer (unless --force), a replica that is
not available or replicates from something else than the writer, an unfinished failover is
resumed without the health gate, a completed one leaves a healthy writer and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from config import DatabaseConfig
from ops.aws import Clients, unreachable
from ops.clock import Clock
from ops.errors import OpsError, Refusal, describe_client_error, error_code
from ops.failover import (
    IN_PROGRESS,
    PHASE_COMPLETE,
    PHASE_PRIMARY_REGION_PENDING,
    PHASE_PROMOTE_REQUESTED,
    TAG_FROM,
    TAG_PHASE,
    TAG_RPO,
    TAG_STARTED,
    FailoverOptions,
    Instances,
    LagSample,
    candidate_problem,
    check_account,
    current_writer,
    journal_step,
    lag_sample,
    promote_and_wait,
    promote_step,
    repoint_parameter,
    repoint_secret,
    step,
    write_journal,
)
from ops.instances import (
    Health,
    assess_health,
    describe_instance,
    endpoint_of,
    source_of,
    status_of,
    tags_of,
)
from ops.outputs import DatabaseOutputs, DrOutputs, load_dr_outputs, load_outputs
from ops.writer import (
    Endpoint,
    ParameterValue,
    SecretEndpoint,
    names_instance,
    read_parameter,
    read_secret_endpoint,
)

RESUMABLE = (*IN_PROGRESS, PHASE_PRIMARY_REGION_PENDING)
# A ReplicaLag datapoint older than this does not describe the replica at promotion time.
FRESH_LAG_SECONDS = 120.0


def no_dr_configured(config: DatabaseConfig) -> Refusal:
    return Refusal(f"env {config.name} has no DR region: config field dr_region is None "
                   "(config/environments.py). Set dr_region and deploy the DR stacks "
                   "(`cdk deploy -c env=...`) before a regional failover")


# (b) the primary region, best effort -------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class PrimaryRegion:
    """What the primary region answered (probe clients: one attempt, short timeouts). `problem`
    says why a read failed; `down` when the region did not answer at all."""

    region: str
    problem: str | None = None
    down: bool = False
    outputs: DatabaseOutputs | None = None
    instances: Instances = field(default_factory=dict)
    parameter: ParameterValue | None = None
    secret_endpoint: SecretEndpoint | None = None
    secret_problem: str | None = None


def _problem(error: Exception, region: str) -> str:
    if isinstance(error, ClientError):
        what = describe_client_error(error)
    else:
        what = str(error)
    return (f"{region} does not answer ({what})" if unreachable(error)
            else f"{region} refused ({what})")


def probe_primary(clients: Clients, *, stack_name: str) -> PrimaryRegion:
    """Read the primary region's stack outputs, instances, writer parameter and secret
    endpoint, stopping at the first failure (kept in `problem`)."""
    region = clients.region
    found: dict[str, Any] = {}
    try:
        outputs = load_outputs(clients.cloudformation, stack_name=stack_name)
        found["outputs"] = outputs
        found["instances"] = {i: describe_instance(clients.rds, i)
                              for i in outputs.instance_identifiers}
        found["parameter"] = read_parameter(clients.ssm, outputs.writer_parameter)
    except (BotoCoreError, ClientError) as error:
        return PrimaryRegion(region=region, problem=_problem(error, region),
                             down=unreachable(error), **found)
    except OpsError as error:  # e.g. the stack does not exist there
        return PrimaryRegion(region=region, problem=f"{region}: {error}", **found)
    try:
        found["secret_endpoint"] = read_secret_endpoint(clients.secretsmanager,
                                                        outputs.secret_arn)
    except (BotoCoreError, ClientError) as error:
        found["secret_problem"] = _problem(error, region)
    except OpsError as error:
        found["secret_problem"] = str(error)
    return PrimaryRegion(region=region, **found)


# (c) the RPO estimate ------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RpoEstimate:
    seconds: float | None  # None: unknown
    text: str  # one sentence for the operator

    @property
    def tag(self) -> str:
        return "unknown" if self.seconds is None else f"{self.seconds:.0f}s"


def replication_status(instance: dict[str, Any]) -> tuple[str, bool]:
    """(text, healthy) of the read-replication status RDS reports in `StatusInfos`."""
    for info in instance.get("StatusInfos") or []:
        if info.get("StatusType") == "read replication":
            status = str(info.get("Status", "unknown"))
            message = f": {info['Message']}" if info.get("Message") else ""
            return f"{status}{message}", status == "replicating" and bool(info.get("Normal"))
    return "not reported by RDS", False


def estimate_rpo(instance: dict[str, Any], sample: LagSample | None, *, primary_region: str,
                 dr_region: str, now: datetime) -> RpoEstimate:
    """How many seconds of the primary's writes the DR replica may not have.

    The latest ReplicaLag datapoint L says the replica was L seconds behind at that time. If RDS
    reports replication as healthy and the datapoint is fresh, L is the estimate; otherwise the
    writes made since the datapoint may be missing too, so the estimate is L + its age."""
    identifier = instance.get("DBInstanceIdentifier", "the DR replica")
    replication, healthy = replication_status(instance)
    if sample is None or sample.seconds < 0:
        why = ("no ReplicaLag datapoint in the last 10 minutes" if sample is None
               else f"ReplicaLag is {sample.seconds:g} (replication is not running)")
        return RpoEstimate(seconds=None, text=(
            f"unknown: {why} for {identifier} in {dr_region} (replication "
            f"{replication}). Every write made in {primary_region} since the replica last "
            "caught up may be lost: the replica's events and the DR replica-lag alarm say "
            "since when"))
    age = max((now - sample.timestamp).total_seconds(), 0.0)
    counted = healthy and age <= FRESH_LAG_SECONDS
    seconds = sample.seconds if counted else sample.seconds + age
    detail = (f"latest ReplicaLag {sample.seconds:g} s at "
              f"{sample.timestamp:%Y-%m-%dT%H:%M:%SZ}, {age:.0f} s before now; replication "
              f"{replication}")
    if not counted and age > 0:
        why = "it is stale" if age > FRESH_LAG_SECONDS else "replication is not reported healthy"
        detail += f"; the {age:.0f} s since that datapoint are counted too, as {why}"
    return RpoEstimate(seconds=seconds, text=(
        f"up to {seconds:.0f} s of writes made in {primary_region} may be lost ({detail})"))


# The plan -----------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RegionalPlan:
    """What the regional failover will do, decided before anything changes."""

    env: str
    dr: DrOutputs
    account: str
    primary: PrimaryRegion
    old_writer: str
    old_writer_health: Health
    target: str
    target_arn: str
    target_status: str
    target_endpoint: Endpoint
    reason: str
    resumed_phase: str | None
    promote_needed: bool
    rpo: RpoEstimate
    dr_parameter: ParameterValue
    backup_retention_days: int
    backup_window: str
    dr_secret_arn: str | None = None  # the secret's replica in the DR region, when it exists

    @property
    def primary_parameter_name(self) -> str:
        outputs = self.primary.outputs
        return outputs.writer_parameter if outputs else self.dr.writer_parameter

    @property
    def secret_arn(self) -> str | None:
        return self.primary.outputs.secret_arn if self.primary.outputs else None

    def steps(self) -> list[str]:
        t, e, dr, pr = self.target, self.target_endpoint, self.dr.region, self.primary.region
        now = self.dr_parameter.value or "missing"
        parameter = (f"set SSM parameter {self.dr_parameter.name} in {dr} to {e} (now {now})"
                     if self.dr_parameter.value != str(e) else
                     f"SSM parameter {self.dr_parameter.name} in {dr} already names {t}, skipped")
        primary_parameter = (f"best effort: set SSM parameter {self.primary_parameter_name} in "
                             f"{pr} to {e}")
        if self.primary.parameter is not None:
            primary_parameter += f" (now {self.primary.parameter.value or 'missing'})"
        elif self.primary.problem:
            primary_parameter += f" (unreadable now: {self.primary.problem})"
        if self.secret_arn is None:
            secret = (f"best effort: set host/port of the credentials secret in {pr} to {e} "
                      f"(not located: {self.primary.problem or 'no stack outputs'})")
        else:
            s = self.primary.secret_endpoint
            now_secret = (f"now {s.host}:{s.port}" if s is not None else
                          f"unreadable now: {self.primary.secret_problem}")
            secret = (f"best effort: set host/port of secret {self.secret_arn} in {pr} to {e} "
                      f"({now_secret}; other fields kept, value never shown)")
        return [
            journal_step(self) + f", with the RPO estimate ({TAG_RPO}={self.rpo.tag})",
            promote_step(self, where=f" in {dr}"),
            f"wait until {t} is available and detached from {self.old_writer} ({pr})",
            parameter,
            primary_parameter,
            secret,
            f"mark the failover complete in {t}'s tags ({PHASE_PRIMARY_REGION_PENDING} if a "
            "best-effort step failed: re-run to finish it)",
        ]


def _source_region(instance: dict[str, Any]) -> str | None:
    source = str(instance.get("ReadReplicaSourceDBInstanceIdentifier") or "")
    return source.split(":")[3] if source.startswith("arn:") and source.count(":") >= 5 else None


def find_secret_replica(secrets: Any, arn: str | None) -> str | None:
    """The ARN of the replica secret `arn` (an ARN or a name) names in the DR region (read-only:
    it follows the primary region's secret); None when there is none."""
    if arn is None:
        return None
    try:
        found = secrets.describe_secret(SecretId=arn)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return None
        raise
    if not found.get("PrimaryRegion") or found.get("DeletedDate"):
        return None
    return str(found.get("ARN") or arn)


def assess_primary(primary: PrimaryRegion, *, dr: DrOutputs, dr_instance: dict[str, Any] | None,
                   config: DatabaseConfig, force: bool) -> tuple[str, Health, bool]:
    """(the writer, its health, whether it exists) as far as the primary region tells."""
    if primary.problem is not None:
        # The writer cannot be read: the DR replica's source is the writer it protects.
        writer = (source_of(dr_instance) if dr_instance else None) or \
            config.instance_identifier("primary")
        if not primary.down and not force:
            raise Refusal(f"cannot assess the writer: {primary.problem}. Check the "
                          f"credentials' permissions in {primary.region}; if that region is "
                          "impaired, re-run with --force")
        status = "unreachable" if primary.down else "unknown"
        return writer, Health(healthy=False, status=status, reason=primary.problem), True
    assert primary.outputs is not None and primary.parameter is not None
    instances = primary.instances | {dr.replica_identifier: dr_instance}
    writer = current_writer(primary.outputs, primary.parameter, instances,
                            also_known={dr.replica_endpoint: dr.replica_identifier})
    instance = instances.get(writer)
    return writer, assess_health(instance), instance is not None


def build_regional_plan(dr_clients: Clients, primary_clients: Clients, *, config: DatabaseConfig,
                        dr_stack: str, primary_stack: str, options: FailoverOptions,
                        clock: Clock) -> RegionalPlan:
    """Read the live state of both regions and decide; `Refusal` when failing over is unsafe or
    pointless."""
    if config.dr_region is None:
        raise no_dr_configured(config)
    account = str(dr_clients.sts.get_caller_identity()["Account"])
    check_account(config, account)
    dr = load_dr_outputs(dr_clients.cloudformation, stack_name=dr_stack)
    dr_instance = describe_instance(dr_clients.rds, dr.replica_identifier)
    dr_parameter = read_parameter(dr_clients.ssm, dr.writer_parameter)
    primary = probe_primary(primary_clients, stack_name=primary_stack)
    target = dr.replica_identifier
    if dr_instance is None:
        raise Refusal(f"the DR replica {target} does not exist in {dr.region}: nothing to "
                      "promote; restore from the DR vault's backup copies instead")
    tags = tags_of(dr_clients.rds, dr_instance)
    phase = tags.get(TAG_PHASE)
    if phase in RESUMABLE:
        old_writer = tags.get(TAG_FROM) or config.instance_identifier("primary")
        health = Health(healthy=False, status="failed over",
                        reason=f"a regional failover started {tags.get(TAG_STARTED, '?')}")
        reason = f"resuming the regional failover started {tags.get(TAG_STARTED, '?')}"
        resumed: str | None = phase
    else:
        resumed = None
        if names_instance(dr_parameter, identifier=target, endpoint=dr.replica_endpoint,
                          instance=dr_instance):  # a regional failover repointed it
            old_writer, health, exists = target, assess_health(dr_instance), True
        else:
            old_writer, health, exists = assess_primary(primary, dr=dr, dr_instance=dr_instance,
                                                        config=config, force=options.force)
        if health.healthy and not options.force:
            raise Refusal(f"the writer {old_writer} is healthy ({health.reason}): refusing to "
                          "fail over. For a planned regional failover stop the application's "
                          "writes, wait for a replica lag of 0, then re-run with --force")
        if old_writer == target:
            raise Refusal(f"no replica to promote: the DR replica {target} is already the "
                          f"writer (status {status_of(dr_instance)})")
        problem = candidate_problem(dr_instance, writer=old_writer, writer_exists=exists)
        source_region = _source_region(dr_instance)
        if problem is None and source_region not in (None, primary.region):
            problem = (f"replicates from {source_region}, not from the primary region "
                       f"{primary.region}")
        if problem is not None:
            raise Refusal(f"the DR replica {target} {problem}: refusing to promote it")
        reason = f"the cross-region replica of {old_writer} ({dr.stack_name} output)"
    endpoint = endpoint_of(dr_instance)
    if endpoint is None:
        raise OpsError(f"the DR replica {target} has no endpoint (status "
                       f"{status_of(dr_instance)})")
    if resumed in (PHASE_PROMOTE_REQUESTED, PHASE_PRIMARY_REGION_PENDING) or (
            resumed is not None and source_of(dr_instance) is None):
        recorded = tags.get(TAG_RPO, "unknown")
        seconds = recorded.removesuffix("s")
        rpo = RpoEstimate(seconds=float(seconds) if seconds.isdigit() else None,
                          text=f"estimated when the promotion was requested: {recorded} "
                               f"(journal tag {TAG_RPO})")
    else:
        rpo = estimate_rpo(dr_instance, lag_sample(dr_clients.cloudwatch, target, clock=clock),
                           primary_region=primary.region, dr_region=dr.region, now=clock.now())
    return RegionalPlan(
        env=config.name, dr=dr, account=account, primary=primary, old_writer=old_writer,
        old_writer_health=health, target=target, target_arn=str(dr_instance["DBInstanceArn"]),
        target_status=status_of(dr_instance),
        target_endpoint=Endpoint(host=endpoint[0], port=endpoint[1]), reason=reason,
        resumed_phase=resumed,
        promote_needed=(resumed not in (PHASE_PROMOTE_REQUESTED, PHASE_PRIMARY_REGION_PENDING)
                        and source_of(dr_instance) is not None),
        rpo=rpo, dr_parameter=dr_parameter,
        backup_retention_days=config.backup_retention_days, backup_window=config.backup_window,
        dr_secret_arn=find_secret_replica(dr_clients.secretsmanager, dr.secret_replica_arn(
            primary.outputs.secret_arn if primary.outputs else None)))


# (d)-(f) the changes --------------------------------------------------------------------------------

def print_regional_plan(plan: RegionalPlan, out: TextIO) -> None:
    print(f"Regional failover plan for env {plan.env} (account {plan.account}): "
          f"{plan.primary.region} -> {plan.dr.region}", file=out)
    print(f"  writer now:  {plan.old_writer} in {plan.primary.region} "
          f"({plan.old_writer_health.reason})", file=out)
    print(f"  promote:     {plan.target} in {plan.dr.region} ({plan.target_status}) - "
          f"{plan.reason}", file=out)
    print(f"  RPO:         {plan.rpo.text}", file=out)
    if plan.old_writer_health.healthy:
        print(f"  warning:     {plan.old_writer} is healthy: stop the application's writes and "
              "wait for a ReplicaLag of 0 before a planned regional failover", file=out)
    print("  steps:", file=out)
    for number, line in enumerate(plan.steps(), 1):
        print(f"    {number}. {line}", file=out)


def _warn(text: str, out: TextIO) -> None:
    print(f"WARN  {text}", file=out, flush=True)


def execute_regional(dr_clients: Clients, primary_clients: Clients, plan: RegionalPlan, *,
                     options: FailoverOptions, clock: Clock, out: TextIO) -> list[str]:
    """Carry out `plan`; returns the best-effort steps still pending (each already WARNed)."""
    endpoint = promote_and_wait(dr_clients.rds, plan, options=options, clock=clock, out=out,
                                journal={TAG_RPO: plan.rpo.tag})
    dr, pr = plan.dr.region, plan.primary.region
    step(f"repoint SSM parameter ({dr}): "
         f"{repoint_parameter(dr_clients.ssm, plan.dr.writer_parameter, endpoint)}", out)
    rerun = (f"once {pr} answers, re-run `python -m ops failover --env {plan.env} --region-dr` "
             "(it resumes and finishes this step)")
    pending = []
    name = plan.primary_parameter_name
    try:
        step(f"repoint SSM parameter ({pr}): "
             f"{repoint_parameter(primary_clients.ssm, name, endpoint)}", out)
    except (BotoCoreError, ClientError) as error:
        pending.append(f"SSM parameter {name}")
        _warn(f"SSM parameter {name} in {pr} not repointed: {_problem(error, pr)}. "
              f"Applications in {pr} that read it still get the old writer; {rerun}", out)
    secret_arn = plan.secret_arn
    if plan.dr_secret_arn:
        no_copy = (f"The DR region {dr} holds a read-only replica of the secret "
                   f"({plan.dr_secret_arn}): applications there read the credentials from it and "
                   f"the endpoint from SSM {plan.dr.writer_parameter} in {dr} (the replica's "
                   "host/port follow once the secret is repointed)")
    else:
        no_copy = (f"The DR region {dr} has no copy of the secret: applications there need the "
                   "credentials from your break-glass store until then")
    if secret_arn is None:
        pending.append("the credentials secret")
        _warn(f"credentials secret in {pr} not repointed: not located "
              f"({plan.primary.problem or 'no stack outputs'}). {no_copy}; {rerun}", out)
    else:
        try:
            outcome = repoint_secret(primary_clients.secretsmanager, secret_arn=secret_arn,
                                     endpoint=endpoint, target=plan.target)
            step(f"repoint secret ({pr}): {outcome}", out)
        except (BotoCoreError, ClientError, OpsError) as error:
            pending.append(f"secret {secret_arn}")
            problem = str(error) if isinstance(error, OpsError) else _problem(error, pr)
            _warn(f"secret {secret_arn} not repointed: {problem}. {no_copy}; {rerun}", out)
    phase = PHASE_PRIMARY_REGION_PENDING if pending else PHASE_COMPLETE
    write_journal(dr_clients.rds, plan, phase=phase, clock=clock)
    if pending:
        step(f"failover done in {dr}: {plan.target} is the writer at {endpoint}; pending in "
             f"{pr}: {', '.join(pending)} (journal {TAG_PHASE}={phase})", out)
    else:
        step(f"failover complete: {plan.target} is the writer at {endpoint}", out)
    return pending


def regional_next_steps(plan: RegionalPlan, *, pending: list[str]) -> list[str]:
    env, old, new, pr, dr = plan.env, plan.old_writer, plan.target, plan.primary.region, \
        plan.dr.region
    lines = [
        f"Applications: read the writer from SSM {plan.dr.writer_parameter} in {dr} "
        f"({plan.target_endpoint}); run them in {dr} (or route to it) and restart connection "
        f"pools that cached {old}.",
        f"Split-brain risk: when {pr} comes back, {old} comes back as a writable instance that no "
        f"longer replicates to {new}. Nothing may write to it: stop the application in {pr} (or "
        f"point it at {plan.target_endpoint}); keep {old} for forensics (writes it took after "
        "the promotion are not in the new writer), then delete it (deletion protection is on).",
    ]
    lines.append(f"Secret rotation runs in {pr} and cannot reach {new} until the redeploy: "
                 "expect failed rotations (they do not change the password); do not rotate by "
                 "hand.")
    if pending:
        lines.append(f"Pending in {pr}: {', '.join(pending)}. Once {pr} answers, re-run "
                     f"`python -m ops failover --env {env} --region-dr`: it resumes and "
                     "repoints them (nothing else changes).")
    lines += [
        f"Do not deploy env {env}'s stacks yet: {new} in {dr} is the writer now, while the "
        f"stacks still declare {old} in {pr} as the primary and {new} as its replica, and the "
        "config cannot yet declare a promoted writer (docs/operations.md, 'After a regional "
        "failover'). There is no regional redundancy until the topology is rebuilt.",
        f"Check: `python -m ops verify --env {env}` (writer: {new}; the old primary region shows "
        "as WARN until the redeploy).",
    ]
    return lines


def run_regional_failover(dr_clients: Clients, primary_clients: Clients, *,
                          config: DatabaseConfig, dr_stack: str, primary_stack: str,
                          options: FailoverOptions, clock: Clock, out: TextIO) -> None:
    """The regional runbook: plan, then (unless --dry-run) execute and print the next steps."""
    plan = build_regional_plan(dr_clients, primary_clients, config=config, dr_stack=dr_stack,
                               primary_stack=primary_stack, options=options, clock=clock)
    if plan.resumed_phase is not None:
        print(f"Resuming an unfinished regional failover to {plan.target} (journal phase "
              f"{plan.resumed_phase}).", file=out)
    elif plan.old_writer_health.healthy:
        print(f"--force: failing over although {plan.old_writer} is healthy.", file=out)
    print_regional_plan(plan, out)
    if options.dry_run:
        print("Dry run: nothing was changed.", file=out)
        return
    pending = execute_regional(dr_clients, primary_clients, plan, options=options, clock=clock,
                               out=out)
    print("Next steps:", file=out)
    for number, line in enumerate(regional_next_steps(plan, pending=pending), 1):
        print(f"  {number}. {line}", file=out)
