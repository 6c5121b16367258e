"""`switchover`: a planned failover that loses no write.

An emergency failover promotes a replica that may lag its writer: the writes of that lag are
lost. A planned one can wait for the lag to be zero, once nothing writes any more:

  (1) decide as `failover` does (or `failover --region-dr` with --region-dr): the target, the
      repoints; the writer must be healthy (a switchover is planned)
  (2) fence the writer: its parameter group's read-only parameter, applied immediately (a
      dynamic parameter): MySQL and MariaDB `read_only=1` (it refuses writes from every user
      without SUPER or CONNECTION_ADMIN, which the RDS master user does not have); PostgreSQL
      `default_transaction_read_only=on` (new transactions are read-only; a session can
      override it with SET, so stop the application's writers too)
  (3) wait until the target's `ReplicaLag` is 0 in a datapoint taken after the fence (CloudWatch,
      one-minute periods); if it is not within --drain-timeout, lift the fence (the parameter
      set to its open value, the engine's default) and refuse: nothing was promoted
  (4) promote and repoint with the failover engine (`ops.promotion`)

The old writer stays read-only: it is retired by the reconcile that follows (docs/operations.md,
'After a failover'), and nothing can write to it by mistake meanwhile.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import Any, TextIO

from botocore.exceptions import ClientError

from config import DatabaseConfig
from ops.aws import ClientFactory
from ops.clock import Clock
from ops.errors import OpsError, Refusal, describe_client_error
from ops.failover import build_plan, dr_mirror
from ops.instances import describe_instance
from ops.outputs import load_outputs
from ops.promotion import FailoverOptions, PromotionPlan, print_plan, run
from ops.regional import build_regional_plan, no_dr_configured
from ops.topology import Placement

#: The parameter that makes an engine refuse writes: (name, fenced value, open value, which is
#: the engine's default).
READ_ONLY = {"mysql": ("read_only", "1", "0"), "mariadb": ("read_only", "1", "0"),
             "postgres": ("default_transaction_read_only", "on", "off")}


def _engine(instance: dict[str, Any]) -> str:
    engine = str(instance.get("Engine", ""))
    for name in READ_ONLY:
        if engine.startswith(name):
            return name
    raise OpsError(f"{instance.get('DBInstanceIdentifier')}: engine {engine!r} has no read-only "
                   f"parameter here ({', '.join(READ_ONLY)})")


def parameter_group_of(instance: dict[str, Any]) -> str:
    groups = instance.get("DBParameterGroups") or []
    if not groups:
        raise OpsError(f"{instance.get('DBInstanceIdentifier')} has no parameter group to fence")
    name = str(groups[0]["DBParameterGroupName"])
    if name.startswith("default."):
        raise Refusal(f"{instance.get('DBInstanceIdentifier')} uses the default parameter group "
                      f"{name}, which cannot be modified: fence its writers by hand, then "
                      "fail over with --force")
    return name


def _set(rds: Any, group: str, parameter: str, value: str) -> None:
    rds.modify_db_parameter_group(DBParameterGroupName=group, Parameters=[{
        "ParameterName": parameter, "ParameterValue": value, "ApplyMethod": "immediate"}])


def fence(rds: Any, writer: str) -> tuple[str, str, str]:
    """Make `writer` read-only through its parameter group; (group, parameter, open value)."""
    instance = describe_instance(rds, writer)
    if instance is None:
        raise OpsError(f"the writer {writer} does not exist: use `failover`")
    parameter, value, open_value = READ_ONLY[_engine(instance)]
    group = parameter_group_of(instance)
    try:
        _set(rds, group, parameter, value)
    except ClientError as error:
        raise OpsError(f"cannot fence {writer} ({group}: {parameter}={value}): "
                       f"{describe_client_error(error)}; nothing was changed") from error
    return group, parameter, open_value


def unfence(rds: Any, group: str, parameter: str, open_value: str) -> None:
    _set(rds, group, parameter, open_value)


def wait_drained(cloudwatch: Any, target: str, *, since: datetime, timeout: float, poll: float,
                 clock: Clock, out: TextIO) -> float:
    """Wait until `target`'s ReplicaLag is 0 in a datapoint at or after `since`; the seconds
    waited. `Refusal` after `timeout`."""
    start = clock.monotonic()
    while True:
        elapsed = clock.monotonic() - start
        end = clock.now() + timedelta(minutes=1)
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/RDS", MetricName="ReplicaLag",
            Dimensions=[{"Name": "DBInstanceIdentifier", "Value": target}],
            StartTime=since - timedelta(minutes=1), EndTime=end, Period=60,
            Statistics=["Maximum"])["Datapoints"]
        fresh = [p for p in points if p["Timestamp"] >= since - timedelta(seconds=60)]
        latest = max(fresh, key=lambda p: p["Timestamp"]) if fresh else None
        lag = "no datapoint yet" if latest is None else f"{latest['Maximum']:g}s"
        print(f"    [{elapsed:6.0f}s / {timeout:.0f}s] {target}: ReplicaLag {lag}", file=out,
              flush=True)
        if latest is not None and float(latest["Maximum"]) == 0.0:
            return elapsed
        if elapsed >= timeout:
            raise Refusal(f"{target}'s ReplicaLag did not reach 0 within {timeout:.0f}s "
                          f"(latest: {lag})")
        clock.sleep(min(poll, max(timeout - elapsed, 0.0)))


def switch_over(args: argparse.Namespace, *, config: DatabaseConfig, placement: Placement,
                factory: ClientFactory, out: TextIO, clock: Clock) -> PromotionPlan | None:
    """Steps (1)-(4) of the module doc; the promotion's plan (None for a dry run)."""
    options = FailoverOptions(replica=getattr(args, "replica", None), dry_run=args.dry_run,
                              force=True, timeout_seconds=args.timeout, poll_seconds=args.poll,
                              planned=True)
    writer_region = placement.writer_region
    if writer_region is None:
        raise ValueError("no primary region: pass --region or pin region in the env's config")
    writer_clients = factory(writer_region, False)
    if args.region_dr:
        if placement.standby_stack is None or placement.standby_region is None:
            raise no_dr_configured(config)
        target_clients = factory(placement.standby_region, False)
        plan = build_regional_plan(target_clients, writer_clients, config=config,
                                   dr_stack=placement.standby_stack,
                                   primary_stack=placement.writer_stack, options=options,
                                   clock=clock)
    else:
        target_clients = writer_clients
        outputs = load_outputs(writer_clients.cloudformation, stack_name=placement.writer_stack)
        mirrors = () if placement.standby_region is None or placement.standby_stack is None \
            else (dr_mirror(factory(placement.standby_region, True),
                            stack_name=placement.standby_stack),)
        plan = build_plan(writer_clients, config=config, outputs=outputs, options=options,
                          clock=clock, mirrors=mirrors)
    if plan.resumed_phase is not None:  # the writes were fenced and drained by the first run
        run(target_clients.rds, plan, options=options, clock=clock, out=out)
        return plan
    if not plan.old_writer_health.healthy:
        raise Refusal(f"the writer {plan.old_writer} is not healthy "
                      f"({plan.old_writer_health.reason}): a switchover needs a writer to drain; "
                      "use `failover`")
    instance = describe_instance(writer_clients.rds, plan.old_writer)
    assert instance is not None
    parameter, value, _ = READ_ONLY[_engine(instance)]
    group = parameter_group_of(instance)
    print(f"Switchover for env {config.name}: no write is lost", file=out)
    print(f"  1. fence {plan.old_writer}: parameter group {group}: {parameter}={value} "
          "(immediate)", file=out)
    print(f"  2. wait for {plan.target}'s ReplicaLag = 0 after the fence (timeout "
          f"{args.drain_timeout:.0f}s; on timeout the fence is lifted and nothing is promoted)",
          file=out)
    print("  3. the failover below", file=out)
    if args.dry_run:
        print_plan(plan, out)
        print("Dry run: nothing was changed.", file=out)
        return None
    since = clock.now()
    _, _, open_value = fence(writer_clients.rds, plan.old_writer)
    print(f"==> fenced {plan.old_writer}: {group} {parameter}={value}", file=out, flush=True)
    try:
        waited = wait_drained(target_clients.cloudwatch, plan.target, since=since,
                              timeout=args.drain_timeout, poll=args.poll, clock=clock, out=out)
    except Refusal as refusal:
        unfence(writer_clients.rds, group, parameter, open_value)
        raise Refusal(f"{refusal}: the fence is lifted ({group} {parameter}={open_value}), "
                      f"{plan.old_writer} takes writes again and nothing was promoted") from None
    print(f"==> {plan.target} caught up ({waited:.0f}s): promoting", file=out, flush=True)
    run(target_clients.rds, plan, options=options, clock=clock, out=out)
    return plan
