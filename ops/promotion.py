"""The promotion engine of both failovers: one plan type, one executor, one printer.

The in-region failover (`ops.failover`) and the regional one (`ops.regional`, `failover
--region-dr`) differ only in how they decide: which instance is the writer, which replica replaces
it, when to refuse. Each builds a `PromotionPlan` with `plan_promotion`; from there this module
does the same for both, and what it says differs only where the promotion crosses regions
(`PromotionPlan.cross_region`: split brain, rotation, which regions to name):

  (1) journal the failover in the target's tags          `write_journal`
  (2) promote the target, unless already requested/done  `promote`
  (3) wait until it is available and detached            `wait_until_promoted`
  (4) repoint what applications read the writer from     `ParameterRepoint`, `SecretRepoint`
  (5) close the journal, say what to do next             `execute`, `next_steps`

The journal makes a re-run safe. The target carries it in its tags, written before each
irreversible call: `redundantdb:failover` = started | promote-requested | primary-region-pending |
complete, `redundantdb:failover-from` (the old writer), `redundantdb:failover-started`, and what
the plan adds (`JournalTag`, e.g. the regional RPO estimate). A builder that finds a journal in
progress resumes that failover (no new choice, no health gate); the promotion is skipped when it
was requested or the target has no source left, and each repoint writes only when the value
differs. A completed failover leaves the target as the writer, refused like any healthy writer.

Repoints are required or best effort. A required one (in the target's region) that fails stops
the run: exit 1, and the same command resumes. A best-effort one (a region that may not answer)
that fails is a WARN saying what is missed and what to do: re-run the plan's `resume_command`
when it has one (the journal then stays at `primary-region-pending`, so the re-run resumes and
retries), otherwise the command that does the step by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from config import DatabaseConfig
from ops.account import account_problem, caller_account
from ops.aws import region_problem
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
)
from ops.outputs import DatabaseOutputs
from ops.writer import (
    Endpoint,
    ParameterValue,
    SecretEndpoint,
    identify_endpoint,
    read_parameter,
    write_parameter,
    write_secret_endpoint,
)

TAG_PHASE = "redundantdb:failover"
TAG_FROM = "redundantdb:failover-from"
TAG_STARTED = "redundantdb:failover-started"
TAG_RPO = "redundantdb:failover-rpo"  # the regional failover's RPO estimate at promotion time
PHASE_STARTED = "started"
PHASE_PROMOTE_REQUESTED = "promote-requested"
# Promoted and the required repoints done, but a best-effort one (in a region that did not
# answer) is still to do: re-running the plan's `resume_command` finishes it.
PHASE_PRIMARY_REGION_PENDING = "primary-region-pending"
PHASE_COMPLETE = "complete"
IN_PROGRESS = (PHASE_STARTED, PHASE_PROMOTE_REQUESTED)
JOURNAL_TAGS = (TAG_PHASE, TAG_FROM, TAG_STARTED, TAG_RPO)
LAG_WINDOW = timedelta(minutes=10)

Instances = dict[str, dict[str, Any] | None]  # identifier -> DBInstance description or None


@dataclass(frozen=True, kw_only=True)
class FailoverOptions:
    replica: str | None = None  # in-region: the replica to promote; None: the healthiest
    dry_run: bool = False
    force: bool = False  # fail over even though the writer is healthy (planned failover)
    timeout_seconds: float = 1800.0
    poll_seconds: float = 15.0
    planned: bool = False  # a switchover: the writer was fenced and its lag drained first
    # A planned failover (healthy writer, --force) is refused to a replica lagging more.
    max_lag_seconds: float | None = None  # None: no limit
    write_load: bool = False  # run a bounded write load through it and measure (in-region)


# Deciding: what both builders check the same way -------------------------------------------------

def require_account(sts: Any, config: DatabaseConfig) -> str:
    """The credentials' account; `Refusal` when env `config` lives in another one."""
    account = caller_account(sts)
    problem = account_problem(config, account)
    if problem is not None:
        raise Refusal(problem)
    return account


def refuse_healthy_writer(writer: str, health: Health, *, force: bool, planned: str) -> None:
    """`Refusal` unless the writer is unhealthy or --force says the failover is planned
    (`planned`: what to do before a planned one)."""
    if health.healthy and not force:
        raise Refusal(f"the writer {writer} is healthy ({health.reason}): refusing to fail over. "
                      f"For a planned {planned}, then re-run with --force")


def current_writer(outputs: DatabaseOutputs, parameter: ParameterValue,
                   instances: Instances, *, also_known: dict[str, str] | None = None) -> str:
    """The instance the writer-endpoint parameter names; the stack's primary when it names none.
    `also_known` (address -> identifier) adds instances outside the stack (the DR replica)."""
    endpoint = Endpoint.parse(parameter.value or "")
    if endpoint is None:
        return outputs.primary_identifier
    return identify_endpoint(endpoint.host, known=outputs.endpoints | (also_known or {}),
                             instances=instances) or outputs.primary_identifier


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


# The plan ----------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ParameterRepoint:
    """An SSM parameter holding the writer's `host:port`, in `region`."""

    region: str
    ssm: Any  # an SSM client of `region`
    name: str  # a placeholder when not `located`
    current: ParameterValue | None = None  # None: not read (`problem` says why)
    problem: str | None = None  # why it is not located or not read
    located: bool = True
    best_effort: bool = False
    kind: ClassVar[str] = "SSM parameter"

    @property
    def subject(self) -> str:
        return f"SSM parameter {self.name} in {self.region}"

    @property
    def label(self) -> str:
        return f"SSM parameter {self.name}"

    @property
    def if_missed(self) -> str:
        return f"Applications in {self.region} that read it still get the old writer"

    def reader(self, where: str) -> str:
        return f"SSM {self.name}{where}"

    def planned(self, plan: PromotionPlan, where: str) -> str:
        if self.current is not None and self.current.value == str(plan.target_endpoint):
            return f"SSM parameter {self.name}{where} already names {plan.target}, skipped"
        now = (f" (now {self.current.value or 'missing'})" if self.current is not None else
               f" (unreadable now: {self.problem})" if self.problem else "")
        return (f"{'best effort: ' if self.best_effort else ''}set SSM parameter "
                f"{self.name}{where} to {plan.target_endpoint}{now}")

    def apply(self, endpoint: Endpoint, target: str) -> str:
        return repoint_parameter(self.ssm, self.name, endpoint)

    def by_hand(self, endpoint: Endpoint) -> str:
        return (f"once {self.region} answers, set it: aws ssm put-parameter --region "
                f"{self.region} --name {self.name} --value {endpoint} --overwrite")


@dataclass(frozen=True, kw_only=True)
class SecretRepoint:
    """The host/port (and `dbInstanceIdentifier`) of the credentials secret, in `region`; its
    other fields are kept and never shown."""

    region: str
    secrets: Any  # a Secrets Manager client of `region`
    arn: str | None  # None: not located (`problem` says why)
    current: SecretEndpoint | None = None  # None: not read (`problem` says why)
    problem: str | None = None
    best_effort: bool = False
    if_missed: str = ""  # what a miss means for the applications (best effort only)
    kind: ClassVar[str] = "secret"

    @property
    def located(self) -> bool:
        return self.arn is not None

    @property
    def subject(self) -> str:
        return f"secret {self.arn}" if self.arn else f"credentials secret in {self.region}"

    @property
    def label(self) -> str:
        return f"secret {self.arn}" if self.arn else "the credentials secret"

    def reader(self, where: str) -> str:
        return f"the secret's host{where}"

    def planned(self, plan: PromotionPlan, where: str) -> str:
        e, c = plan.target_endpoint, self.current
        if c is not None and (c.host, c.port) == (e.host, e.port) and \
                c.instance_identifier in (None, plan.target):
            return f"secret {self.arn}{where} already names {plan.target}, skipped"
        best = "best effort: " if self.best_effort else ""
        if self.arn is None:
            return (f"{best}set host/port of the credentials secret{where} to {e} (not located: "
                    f"{self.problem})")
        now = f"now {c.host}:{c.port}" if c is not None else f"unreadable now: {self.problem}"
        return (f"{best}set host/port of secret {self.arn}{where} to {e} ({now}; other fields "
                "kept, value never shown)")

    def apply(self, endpoint: Endpoint, target: str) -> str:
        assert self.arn is not None
        return repoint_secret(self.secrets, secret_arn=self.arn, endpoint=endpoint, target=target)

    def by_hand(self, endpoint: Endpoint) -> str:
        return f"once {self.region} answers, set its host and port to {endpoint}"


Repoint = ParameterRepoint | SecretRepoint


@dataclass(frozen=True, kw_only=True)
class JournalTag:
    """A tag the first journal entry adds, e.g. the RPO estimate."""

    key: str
    value: str
    meaning: str  # e.g. "the RPO estimate"


@dataclass(frozen=True, kw_only=True)
class PromotionPlan:
    """What a failover will do, decided before anything changes."""

    env: str
    account: str
    stack_name: str  # the stack that declares the target
    region: str  # the target's: the promotion and the required repoints happen there
    old_region: str  # the old writer's
    old_writer: str
    old_writer_health: Health
    target: str
    target_arn: str
    target_status: str
    target_endpoint: Endpoint
    reason: str  # why this target
    resumed_phase: str | None  # the journal's phase when resuming, None for a new failover
    promote_needed: bool
    backup_retention_days: int
    backup_window: str
    notes: tuple[tuple[str, str], ...] = ()  # (label, text) lines printed under the target
    journal: tuple[JournalTag, ...] = ()
    repoints: tuple[Repoint, ...] = ()
    # The command whose re-run finishes a missed best-effort repoint; None: the WARN gives the
    # command that does it by hand, and the journal is closed anyway.
    resume_command: str | None = None

    @property
    def cross_region(self) -> bool:
        return self.region != self.old_region

    @property
    def kind(self) -> str:
        return "regional failover" if self.cross_region else "failover"

    @property
    def title(self) -> str:
        if self.cross_region:
            return (f"Regional failover plan for env {self.env} (account {self.account}): "
                    f"{self.old_region} -> {self.region}")
        return (f"Failover plan for env {self.env} ({self.stack_name}, account {self.account}, "
                f"region {self.region})")

    def shows_region(self, repoint: Repoint) -> bool:
        return self.cross_region or repoint.region != self.region

    def steps(self) -> list[str]:
        """The plan as numbered lines; a step already done says so."""
        t, old = self.target, self.old_writer
        where = f" in {self.region}" if self.cross_region else ""
        journal = f"journal the failover in {t}'s tags ({TAG_PHASE}, {TAG_FROM}={old})" + "".join(
            f", with {tag.meaning} ({tag.key}={tag.value})" for tag in self.journal)
        promote = (f"promote {t}{where}: already requested or done, skipped"
                   if not self.promote_needed else
                   f"promote {t}{where} (promote_read_replica, BackupRetentionPeriod="
                   f"{self.backup_retention_days}, PreferredBackupWindow={self.backup_window})")
        detached = f"{old} ({self.old_region})" if self.cross_region else old
        complete = f"mark the failover complete in {t}'s tags"
        if self.resume_command and any(r.best_effort for r in self.repoints):
            complete += (f" ({PHASE_PRIMARY_REGION_PENDING} if a best-effort step failed: re-run "
                         "to finish it)")
        return [
            journal,
            promote,
            f"wait until {t} is available and detached from {detached}",
            *(r.planned(self, f" in {r.region}" if self.shows_region(r) else "")
              for r in self.repoints),
            complete,
        ]


def plan_promotion(instance: dict[str, Any], *, config: DatabaseConfig,
                   resumed_phase: str | None, **fields: Any) -> PromotionPlan:
    """The plan to promote `instance` (its DBInstance description); `fields`: the plan's fields
    that the builder decides (`PromotionPlan`)."""
    target = str(instance["DBInstanceIdentifier"])
    endpoint = endpoint_of(instance)
    if endpoint is None:
        raise OpsError(f"the failover target {target} has no endpoint (status "
                       f"{status_of(instance)})")
    return PromotionPlan(
        env=config.name, target=target, target_arn=str(instance["DBInstanceArn"]),
        target_status=status_of(instance),
        target_endpoint=Endpoint(host=endpoint[0], port=endpoint[1]),
        resumed_phase=resumed_phase,
        promote_needed=(resumed_phase not in (PHASE_PROMOTE_REQUESTED,
                                              PHASE_PRIMARY_REGION_PENDING)
                        and source_of(instance) is not None),
        backup_retention_days=config.backup_retention_days, backup_window=config.backup_window,
        **fields)


# The changes, each idempotent --------------------------------------------------------------------

def write_journal(rds: Any, plan: PromotionPlan, *, phase: str, clock: Clock,
                  extra: tuple[JournalTag, ...] = ()) -> None:
    tags = [{"Key": TAG_PHASE, "Value": phase}, {"Key": TAG_FROM, "Value": plan.old_writer}]
    if phase == PHASE_STARTED:
        tags.append({"Key": TAG_STARTED, "Value": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")})
    tags += [{"Key": tag.key, "Value": tag.value} for tag in extra]
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


def promote_and_wait(rds: Any, plan: PromotionPlan, *, options: FailoverOptions, clock: Clock,
                     out: TextIO) -> Endpoint:
    """Journal, promote (unless done), wait until standalone and available; returns the
    promoted instance's endpoint."""
    _step(f"journal: {TAG_PHASE}={plan.resumed_phase or PHASE_STARTED} on {plan.target}", out)
    if plan.resumed_phase is None:
        write_journal(rds, plan, phase=PHASE_STARTED, clock=clock, extra=plan.journal)
    try:
        outcome = promote(rds, plan)
    except OpsError:
        # Nothing changed: drop the journal so a re-run may choose again (e.g. another replica).
        clear_journal(rds, plan)
        raise
    _step(f"promote {plan.target}: {outcome}", out)
    if plan.resumed_phase in (None, *IN_PROGRESS):
        write_journal(rds, plan, phase=PHASE_PROMOTE_REQUESTED, clock=clock)
    _step(f"wait for {plan.target} (timeout {options.timeout_seconds:.0f}s, poll "
         f"{options.poll_seconds:.0f}s)", out)
    instance = wait_until_promoted(rds, plan, options=options, clock=clock, out=out)
    address, port = endpoint_of(instance) or ("", 0)
    if not address:
        raise OpsError(f"{plan.target} is promoted but has no endpoint yet: re-run the same "
                       "command to repoint the writer endpoint")
    return Endpoint(host=address, port=port)


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


def repoint(plan: PromotionPlan, place: Repoint, endpoint: Endpoint, out: TextIO) -> bool:
    """Point `place` at `endpoint`. A required repoint that fails raises; a best-effort one is
    a WARN saying what is missed and what to do, and returns False."""
    if not place.located:
        if not place.best_effort:
            raise OpsError(f"{place.subject} cannot be repointed: not located ({place.problem})")
        problem = f"not located ({place.problem})"
    else:
        tag = f" ({place.region})" if plan.shows_region(place) else ""
        try:
            _step(f"repoint {place.kind}{tag}: {place.apply(endpoint, plan.target)}", out)
            return True
        except (BotoCoreError, ClientError, OpsError) as error:
            if not place.best_effort:
                raise
            problem = str(error) if isinstance(error, OpsError) else \
                region_problem(error, place.region)
    remedy = (f"once {place.region} answers, re-run `{plan.resume_command}` (it resumes and "
              "finishes this step)") if plan.resume_command else place.by_hand(endpoint)
    print(f"WARN  {place.subject} not repointed: {problem}. {place.if_missed}; {remedy}",
          file=out, flush=True)
    return False


def _step(text: str, out: TextIO) -> None:
    print(f"==> {text}", file=out, flush=True)


# The whole runbook ------------------------------------------------------------------------------

def execute(rds: Any, plan: PromotionPlan, *, options: FailoverOptions, clock: Clock,
            out: TextIO) -> list[Repoint]:
    """Carry out `plan` (`rds`: a client of the target's region); every step first checks
    whether it is already done. Returns the missed best-effort repoints that re-running the
    plan's `resume_command` finishes (each already WARNed)."""
    endpoint = promote_and_wait(rds, plan, options=options, clock=clock, out=out)
    missed = [r for r in plan.repoints if not repoint(plan, r, endpoint, out)]
    pending = missed if plan.resume_command else []
    phase = PHASE_PRIMARY_REGION_PENDING if pending else PHASE_COMPLETE
    write_journal(rds, plan, phase=phase, clock=clock)
    if pending:
        _step(f"failover done in {plan.region}: {plan.target} is the writer at {endpoint}; "
             f"pending in {_regions(pending)}: {', '.join(r.label for r in pending)} (journal "
             f"{TAG_PHASE}={phase})", out)
    else:
        _step(f"failover complete: {plan.target} is the writer at {endpoint}", out)
    return pending


def _regions(repoints: list[Repoint]) -> str:
    return ", ".join(sorted({r.region for r in repoints}))


def next_steps(plan: PromotionPlan, *, pending: list[Repoint]) -> list[str]:
    """What the operator does after `plan` ran: the same advice for both failovers, with what a
    move to another region adds (split brain, rotation, the whole env to reconcile)."""
    env, old, new, endpoint = plan.env, plan.old_writer, plan.target, plan.target_endpoint
    old_region, region = plan.old_region, plan.region
    readers = " or ".join(r.reader(f" in {r.region}" if plan.cross_region else "")
                          for r in plan.repoints if not r.best_effort)
    move = f"run them in {region} (or route to it) and " if plan.cross_region else ""
    lines = [f"Applications: read the writer from {readers} ({endpoint}); {move}restart "
             f"connection pools that cached {old}."]
    if plan.cross_region:
        lines += [
            f"Split-brain risk: when {old_region} comes back, {old} comes back as a writable "
            f"instance that no longer replicates to {new}. Nothing may write to it: stop the "
            f"application in {old_region} (or point it at {endpoint}); keep {old} for "
            "forensics (writes it took after the promotion are not in the new writer): the "
            "reconcile retires it (deletion protection stays on).",
            f"Secret rotation runs in {old_region} and cannot reach {new} until the reconcile, "
            f"which gives {new} a credentials secret of {region}: expect failed rotations until "
            "then (they do not change the password); do not rotate by hand.",
        ]
    elif plan.old_writer_health.status == "missing":
        lines.append(f"Old writer {old} no longer exists; nothing to fence.")
    else:
        lines.append(f"Old writer {old} ({plan.old_writer_health.status}) still exists: make "
                     "sure nothing writes to it (it is no longer replicated); the reconcile "
                     "retires it (kept for forensics, deletion protection on, its security "
                     "group admitting no one) until you decommission it.")
    if pending:
        where = _regions(pending)
        lines.append(f"Pending in {where}: {', '.join(r.label for r in pending)}. Once {where} "
                     f"answers, re-run `{plan.resume_command}`: it resumes and repoints them "
                     "(nothing else changes).")
    wait = f" once {old_region} answers" if plan.cross_region else ""
    lines.append(
        f"Reconcile the stacks{wait}: declare {new} the writer (the config change is printed "
        f"below; --record writes it into config/topology.json), commit it, run `python -m ops "
        f"reconcile --env {env}`, then deploy (`cdk deploy -c env={env} --all`). The deploy "
        f"promotes nothing more and replaces nothing: it renders {new} as the writer, creates "
        f"replicas of it (the replicas of {old} are replaced: RDS cannot re-parent them), moves "
        f"the backup plan, the alarms and the secret to it, and retires {old} (kept outside "
        "the stack, deletion protection on) (docs/operations.md, 'After a failover').")
    if plan.cross_region:
        lines.append(f"Until then there is no regional redundancy, no replica of {new}, and "
                     f"the backup plan and the alarms still watch {old}.")
        check = (f"writer: {new}; the old primary region and the undeclared promotion show as "
                 "WARN until the reconcile")
    else:
        lines.append(f"Until then no replica follows {new} (the DR replica follows {old}: "
                     "`failover --region-dr` refuses to promote it), and the AWS Backup plan "
                     f"and the primary's alarms still watch {old}.")
        check = ("the promoted writer must pass; the demoted primary, the reduced redundancy "
                 "and the undeclared promotion show as WARN until the reconcile")
    lines.append(f"Check: `python -m ops verify --env {env}` ({check}).")
    return lines


def print_plan(plan: PromotionPlan, out: TextIO) -> None:
    old_where = f" in {plan.old_region}" if plan.cross_region else ""
    where = f" in {plan.region}" if plan.cross_region else ""
    print(plan.title, file=out)
    print(f"  writer now:  {plan.old_writer}{old_where} ({plan.old_writer_health.reason})",
          file=out)
    print(f"  promote:     {plan.target}{where} ({plan.target_status}) - {plan.reason}", file=out)
    for label, text in plan.notes:
        print(f"  {label + ':':<13}{text}", file=out)
    print("  steps:", file=out)
    for number, line in enumerate(plan.steps(), 1):
        print(f"    {number}. {line}", file=out)


def run(rds: Any, plan: PromotionPlan, *, options: FailoverOptions, clock: Clock,
        out: TextIO) -> None:
    """The runbook over a built plan: print it, then (unless --dry-run) execute it and print
    the next steps."""
    if plan.resumed_phase is not None:
        print(f"Resuming an unfinished {plan.kind} to {plan.target} (journal phase "
              f"{plan.resumed_phase}).", file=out)
    elif plan.old_writer_health.healthy and not options.planned:
        print(f"--force: failing over although {plan.old_writer} is healthy.", file=out)
    print_plan(plan, out)
    if options.dry_run:
        print("Dry run: nothing was changed.", file=out)
        return
    pending = execute(rds, plan, options=options, clock=clock, out=out)
    print("Next steps:", file=out)
    for number, line in enumerate(next_steps(plan, pending=pending), 1):
        print(f"  {number}. {line}", file=out)
