"""`failover --region-dr`: promote the cross-region DR replica and repoint the writer endpoint.

For the loss of the primary region (or, with --force, a planned switch of regions). This module
decides; the promotion engine (`ops.promotion`) journals, promotes, waits, repoints and prints.
Everything the failover must do happens in the DR region; what it does in the primary region is
best effort, because that region may be down:

  (a) find the DR replica (`RedundantDb-<env>-DrReplica` outputs, DR region)
  (b) probe the primary region with short timeouts: its writer's health, its writer parameter and
      the secret; a region that does not answer counts as an unhealthy writer   `probe_primary`
  (c) the RPO estimate from the DR replica's ReplicaLag and replication status    `estimate_rpo`,
      recorded in the journal (`redundantdb:failover-rpo`)
  (d) repoint the DR region's writer parameter (required), then the primary region's parameter
      and the secret's host/port (best effort: a miss is a WARN, the journal stays at
      `primary-region-pending`, and re-running the same command finishes those steps)

Refusals are those of the in-region failover: a healthy writer (unless --force), a replica that is
not available or replicates from something else than the writer; an unfinished failover is
resumed without the health gate, a completed one leaves a healthy writer and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from config import DatabaseConfig
from ops.aws import Clients, region_problem, unreachable
from ops.clock import Clock
from ops.errors import OpsError, Refusal, error_code
from ops.instances import (
    Health,
    assess_health,
    describe_instance,
    source_of,
    status_of,
    tags_of,
)
from ops.outputs import DatabaseOutputs, DrOutputs, load_dr_outputs, load_outputs
from ops.promotion import (
    IN_PROGRESS,
    PHASE_PRIMARY_REGION_PENDING,
    PHASE_PROMOTE_REQUESTED,
    TAG_FROM,
    TAG_PHASE,
    TAG_RPO,
    TAG_STARTED,
    FailoverOptions,
    Instances,
    JournalTag,
    LagSample,
    ParameterRepoint,
    PromotionPlan,
    SecretRepoint,
    candidate_problem,
    current_writer,
    lag_sample,
    plan_promotion,
    refuse_healthy_writer,
    require_account,
)
from ops.writer import (
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
        return PrimaryRegion(region=region, problem=region_problem(error, region),
                             down=unreachable(error), **found)
    except OpsError as error:  # e.g. the stack does not exist there
        return PrimaryRegion(region=region, problem=f"{region}: {error}", **found)
    try:
        found["secret_endpoint"] = read_secret_endpoint(clients.secretsmanager,
                                                        outputs.secret_arn)
    except (BotoCoreError, ClientError) as error:
        found["secret_problem"] = region_problem(error, region)
    except OpsError as error:
        found["secret_problem"] = str(error)
    return PrimaryRegion(region=region, **found)


# (c) the RPO estimate ----------------------------------------------------------------------------

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


# The plan ----------------------------------------------------------------------------------------

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
                        clock: Clock) -> PromotionPlan:
    """Read the live state of both regions and decide; `Refusal` when failing over is unsafe or
    pointless. `primary_clients`: probe clients (the primary region may not answer)."""
    account = require_account(dr_clients.sts, config)
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
        refuse_healthy_writer(old_writer, health, force=options.force,
                              planned="regional failover stop the application's writes, wait "
                                      "for a replica lag of 0")
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
    notes = [("RPO", rpo.text)]
    if health.healthy:
        notes.append(("warning", f"{old_writer} is healthy: stop the application's writes and "
                      "wait for a ReplicaLag of 0 before a planned regional failover"))
    outputs = primary.outputs
    secret_arn = outputs.secret_arn if outputs else None
    return plan_promotion(
        dr_instance, config=config, resumed_phase=resumed, account=account,
        stack_name=dr.stack_name, region=dr.region, old_region=primary.region,
        old_writer=old_writer, old_writer_health=health, reason=reason, notes=tuple(notes),
        journal=(JournalTag(key=TAG_RPO, value=rpo.tag, meaning="the RPO estimate"),),
        repoints=(
            ParameterRepoint(region=dr.region, ssm=dr_clients.ssm, name=dr.writer_parameter,
                             current=dr_parameter),
            ParameterRepoint(region=primary.region, ssm=primary_clients.ssm,
                             name=outputs.writer_parameter if outputs else dr.writer_parameter,
                             current=primary.parameter, problem=primary.problem,
                             best_effort=True),
            SecretRepoint(region=primary.region, secrets=primary_clients.secretsmanager,
                          arn=secret_arn, current=primary.secret_endpoint,
                          problem=primary.secret_problem if secret_arn else
                          primary.problem or "no stack outputs", best_effort=True,
                          if_missed=secret_in_dr(dr_clients, dr, primary_secret=secret_arn)),
        ),
        resume_command=f"python -m ops failover --env {config.name} --region-dr")


def secret_in_dr(dr_clients: Clients, dr: DrOutputs, *, primary_secret: str | None) -> str:
    """Where applications in the DR region find the credentials while the secret in the primary
    region is not repointed."""
    replica = find_secret_replica(dr_clients.secretsmanager, dr.secret_replica_arn(primary_secret))
    if replica is None:
        return (f"The DR region {dr.region} has no copy of the secret: applications there need "
                "the credentials from your break-glass store until then")
    return (f"The DR region {dr.region} holds a read-only replica of the secret ({replica}): "
            "applications there read the credentials from it and the endpoint from SSM "
            f"{dr.writer_parameter} in {dr.region} (the replica's host/port follow once the "
            "secret is repointed)")
