"""`failover`: promote an in-region read replica and repoint the writer endpoint.

This module decides; the promotion engine (`ops.promotion`) journals, promotes, waits, repoints
and prints. The decision, from the Database stack's outputs and the live instances:

  (a) the writer is the instance the writer-endpoint parameter names    `current_writer`
  (b) a healthy writer is refused unless --force (a planned failover)
  (c) the replica: --replica, or the eligible one with the lowest ReplicaLag, then stack
      order                                                            `choose_target`
  (d) a failover a previous run left unfinished (its journal in a replica's tags) is resumed
      instead, without (b) and (c)                                      `find_in_progress`

A planned failover (a healthy writer, --force) is refused when the chosen replica's ReplicaLag
is above --max-lag (`refuse_lagging_target`): the writes of that lag would be lost.

Repointed: the writer parameter and the secret (both required), and with a DR region the DR
region's copy of the parameter, best effort (`dr_mirror`): failing over within the primary region
must not depend on the DR region.

With --write-load (`execute_under_write_load`), a bounded write load runs through the failover,
writing to the writer the parameter names, as an application would; the runbook then reports the
write unavailability (the old writer's last acknowledged commit -> the new writer's first) and
the rows lost: those the old writer acknowledged at or before the replica's replay position at
promotion and the new writer lacks (must be 0; `ops.datapath.measure_failover`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from config import DatabaseConfig
from ops import datapath
from ops.aws import Clients, region_problem
from ops.clock import Clock
from ops.errors import OpsError, Refusal
from ops.instances import (
    Health,
    assess_health,
    describe_instance,
    source_of,
    status_of,
    tags_of,
)
from ops.outputs import DatabaseOutputs, load_dr_outputs
from ops.promotion import (
    IN_PROGRESS,
    TAG_FROM,
    TAG_PHASE,
    TAG_STARTED,
    FailoverOptions,
    Instances,
    ParameterRepoint,
    PromotionPlan,
    SecretRepoint,
    candidate_problem,
    current_writer,
    lag_sample,
    plan_promotion,
    refuse_healthy_writer,
    require_account,
    run,
)
from ops.writer import Endpoint, ParameterValue, read_parameter, read_secret_endpoint

LOAD_WARM_UP_ROWS = 20  # commits on the old writer before the failover starts
LOAD_SETTLED_ROWS = 20  # commits on the new writer before the load stops
LOAD_START_SECONDS = 30.0


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


def assess_candidates(clients: Clients, outputs: DatabaseOutputs, *, writer: str,
                      writer_exists: bool, clock: Clock,
                      instances: Instances) -> tuple[Candidate, ...]:
    candidates = []
    for replica in outputs.replicas:
        if replica.identifier == writer:
            continue
        instance = instances.get(replica.identifier)
        problem = candidate_problem(instance, writer=writer, writer_exists=writer_exists)
        sample = lag_sample(clients.cloudwatch, replica.identifier, clock=clock) \
            if problem is None else None
        candidates.append(Candidate(
            identifier=replica.identifier, number=replica.number, status=status_of(instance),
            source=source_of(instance) if instance else None,
            lag_seconds=None if sample is None else sample.seconds, problem=problem))
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


def refuse_lagging_target(chosen: Candidate, *, writer: str, health: Health,
                          limit: float | None) -> None:
    """`Refusal` of a planned failover (healthy writer) to a replica lagging above `limit`."""
    if not health.healthy or limit is None or chosen.lag_seconds is None or \
            chosen.lag_seconds <= limit:
        return
    raise Refusal(f"replica {chosen.identifier} lags {chosen.lag_seconds:g}s behind the healthy "
                  f"writer {writer} (ReplicaLag; limit {limit:g}s, --max-lag): a planned "
                  "failover now would lose the writes of that lag. Stop the application's "
                  "writes and wait for the lag to drain (`python -m ops switchover` does both), "
                  "or raise --max-lag")


def new_decision(clients: Clients, *, outputs: DatabaseOutputs, options: FailoverOptions,
                 instances: Instances, parameter: ParameterValue, clock: Clock) -> Decision:
    """(a) the writer must be unhealthy (or --force), (c) then the best eligible replica, not
    lagging above the limit when the writer is healthy."""
    old_writer = current_writer(outputs, parameter, instances)
    health = assess_health(instances.get(old_writer))
    refuse_healthy_writer(old_writer, health, force=options.force,
                          planned="failover stop the application's writes")
    candidates = assess_candidates(clients, outputs, writer=old_writer,
                                   writer_exists=instances.get(old_writer) is not None,
                                   clock=clock, instances=instances)
    chosen, reason = choose_target(candidates, requested=options.replica, writer=old_writer)
    refuse_lagging_target(chosen, writer=old_writer, health=health,
                          limit=options.max_lag_seconds)
    return Decision(old_writer=old_writer, target=chosen.identifier, reason=reason,
                    candidates=candidates)


def notes(decision: Decision, health: Health) -> tuple[tuple[str, str], ...]:
    """The plan's lines on the replicas not chosen, and on the lag of a planned failover."""
    lines = []
    for candidate in decision.candidates:
        if candidate.problem:
            lines.append(("not chosen", f"{candidate.identifier} {candidate.problem}"))
        elif candidate.identifier == decision.target and health.healthy and \
                candidate.lag_seconds:
            lines.append(("warning", f"{decision.target} lags {candidate.lag_seconds:g}s behind "
                          f"{decision.old_writer}: writes of those seconds are lost unless the "
                          "application has stopped writing and the lag is 0"))
    return tuple(lines)


def dr_mirror(dr: Clients, *, stack_name: str) -> ParameterRepoint:
    """The DR region's copy of the writer parameter (DrReplica stack `stack_name`), to repoint
    best effort; `dr`: probe clients. What cannot be read is said in the plan, never fatal."""
    try:
        name = load_dr_outputs(dr.cloudformation, stack_name=stack_name).writer_parameter
    except (OpsError, BotoCoreError, ClientError) as error:
        problem = str(error) if isinstance(error, OpsError) else region_problem(error, dr.region)
        return ParameterRepoint(
            region=dr.region, ssm=dr.ssm, name="<the DrReplica stack's WriterEndpointParameter "
            "output>", located=False, best_effort=True, problem=problem)
    try:
        current = read_parameter(dr.ssm, name)
    except (BotoCoreError, ClientError) as error:
        return ParameterRepoint(region=dr.region, ssm=dr.ssm, name=name, best_effort=True,
                                problem=region_problem(error, dr.region))
    return ParameterRepoint(region=dr.region, ssm=dr.ssm, name=name, current=current,
                            best_effort=True)


def build_plan(clients: Clients, *, config: DatabaseConfig, outputs: DatabaseOutputs,
               options: FailoverOptions, clock: Clock,
               mirrors: tuple[ParameterRepoint, ...] = ()) -> PromotionPlan:
    """Read the live state and decide; raises `Refusal` when failing over is unsafe/pointless.
    `mirrors`: copies of the writer parameter in other regions, repointed best effort."""
    account = require_account(clients.sts, config)
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
    health = assess_health(instances.get(decision.old_writer))
    region = clients.region
    return plan_promotion(
        instance, config=config, resumed_phase=decision.resumed_phase, account=account,
        stack_name=outputs.stack_name, region=region, old_region=region,
        old_writer=decision.old_writer, old_writer_health=health, reason=decision.reason,
        notes=notes(decision, health),
        repoints=(
            ParameterRepoint(region=region, ssm=clients.ssm, name=parameter.name,
                             current=parameter),
            SecretRepoint(region=region, secrets=clients.secretsmanager, arn=outputs.secret_arn,
                          current=read_secret_endpoint(clients.secretsmanager,
                                                       outputs.secret_arn)),
            *mirrors,
        ))


def execute_failover(clients: Clients, plan: PromotionPlan, *, config: DatabaseConfig,
                     outputs: DatabaseOutputs, options: FailoverOptions, clock: Clock,
                     out: TextIO) -> datapath.FailoverMeasurement | None:
    """Run the plan; under a write load with --write-load, whose measurement is returned (a
    dry run writes nothing: no load)."""
    if not options.write_load or options.dry_run:
        run(clients.rds, plan, options=options, clock=clock, out=out)
        return None
    return execute_under_write_load(clients, plan, config=config, outputs=outputs,
                                    options=options, clock=clock, out=out)


def execute_under_write_load(clients: Clients, plan: PromotionPlan, *, config: DatabaseConfig,
                             outputs: DatabaseOutputs, options: FailoverOptions, clock: Clock,
                             out: TextIO) -> datapath.FailoverMeasurement:
    """The failover with a bounded write load running through it: the load writes to the
    writer the parameter names (read before each row), starts before the promotion and stops
    once the new writer acknowledged a few rows. `OpsError` when a row acknowledged at lag
    zero is missing on the new writer."""
    credentials = datapath.read_credentials(clients.secretsmanager, outputs.secret_arn,
                                            database=config.database_name, engine=config.engine)
    name = outputs.writer_parameter

    def writer() -> Endpoint:
        value = read_parameter(clients.ssm, name).value
        endpoint = Endpoint.parse(value or "")
        if endpoint is None:
            raise OpsError(f"SSM parameter {name} names no writer ({value!r})")
        return endpoint

    load = datapath.WriteLoad(credentials, writer,
                              max_seconds=options.timeout_seconds + 2 * LOAD_START_SECONDS)
    with load:
        if not load.wait(LOAD_WARM_UP_ROWS, timeout=LOAD_START_SECONDS):
            failed = load.report()
            raise OpsError(f"the write load did not commit {LOAD_WARM_UP_ROWS} rows on the "
                           f"writer within {LOAD_START_SECONDS:g}s ({failed.stopped}; last "
                           f"errors: {'; '.join(failed.errors) or 'none'}): nothing was "
                           "changed")
        print(f"Write load: writing to the writer SSM {name} names ({len(load.report().acks)} "
              "rows so far)", file=out, flush=True)
        run(clients.rds, plan, options=options, clock=clock, out=out)
        load.wait(LOAD_SETTLED_ROWS, timeout=LOAD_START_SECONDS, on=plan.target_endpoint)
    measurement = datapath.measure_failover(credentials, load.report(),
                                            new=plan.target_endpoint)
    print("Write load through the failover:", file=out)
    for line in measurement.lines():
        print(f"  {line}", file=out)
    if measurement.lost:
        raise OpsError(f"{len(measurement.lost)} rows the old writer acknowledged at or before "
                       f"{plan.target}'s replay position at promotion are missing on it: the "
                       "failover lost acknowledged writes")
    return measurement
