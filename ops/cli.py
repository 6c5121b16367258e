"""Command line: `python -m ops verify|failover|switchover|reconcile|upgrade|bluegreen --env ENV
[options]` (`failover --region-dr`: the regional failover, `ops.regional`; `switchover`: a
planned failover without data loss, `ops.switchover`; `reconcile`: what the deploy that follows
the declared topology needs, `ops.reconcile`; `upgrade`: a staged engine upgrade, one deploy per
stage, `ops.upgrade`; `bluegreen`: an engine upgrade through an RDS blue/green deployment,
`ops.bluegreen`).

Every command reads the env's declared topology (config/topology.json) to know which stacks
hold the writer and its standby (`ops.topology`).

Exit codes: 0 done (verify: every check passed); 1 a check failed or an operation failed;
2 bad usage; 3 the runbook refused to act (the message says why and what would allow it).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from config import ConfigError, DatabaseConfig, with_declared_topology
from config.environments import ENVIRONMENTS
from config.topology import TopologyError
from ops import bluegreen as blue_green
from ops import reconcile as reconciling
from ops import upgrade as upgrading
from ops.aws import ClientFactory, Clients, make_session, session_factory
from ops.clock import Clock, SystemClock
from ops.errors import OpsError, describe_client_error
from ops.failover import build_plan, dr_mirror, execute_failover
from ops.keys import KeyResolver
from ops.outputs import DEFAULT_STACK_PREFIX, load_outputs
from ops.promotion import FailoverOptions, PromotionPlan, require_account, run
from ops.record import record
from ops.regional import build_regional_plan, no_dr_configured
from ops.report import compare, print_results
from ops.switchover import switch_over
from ops.topology import Placement, as_seen, deployed, place
from ops.verify import check_data, check_engine, check_topology, evaluate, gather, gather_dr

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env", required=True, choices=sorted(ENVIRONMENTS),
                        help="environment name (config/environments.py)")
    common.add_argument("--region", help="AWS region (default: the env's region, then the "
                        "profile's or AWS_REGION)")
    common.add_argument("--profile", help="AWS named profile (default: the standard chain)")
    common.add_argument("--stack-prefix", default=DEFAULT_STACK_PREFIX,
                        help=f"stack name prefix: <prefix>-<env>-Database "
                        f"(default {DEFAULT_STACK_PREFIX})")
    # The runbooks that wait on RDS.
    waits = argparse.ArgumentParser(add_help=False)
    waits.add_argument("--poll", type=_positive, default=15.0, metavar="SECONDS",
                       help="seconds between status checks (default 15)")
    parser = argparse.ArgumentParser(
        prog="python -m ops", description="Operate a deployed RedundantDb environment. "
        "Honours AWS_ENDPOINT_URL (e.g. the local emulator).")
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", parents=[common], help="check the live resources "
                                 "against the stack outputs and the config")
    verify.add_argument("--strict", action="store_true",
                        help="fail on warnings too (e.g. a failover not yet reconciled)")
    failover = commands.add_parser("failover", parents=[common, waits],
                                   help="promote a read replica and repoint the writer endpoint")
    failover.add_argument("--region-dr", action="store_true",
                          help="regional failover: promote the cross-region DR replica (config "
                          "dr_region) and repoint the writer endpoint; the primary region's "
                          "parameter and secret are repointed best effort")
    failover.add_argument("--force", action="store_true",
                          help="fail over even though the writer is healthy (planned failover)")
    failover.add_argument("--max-lag", type=_positive, metavar="SECONDS",
                          help="refuse a planned failover (--force) to a replica whose "
                          "ReplicaLag is above this (default: the env's replica-lag alarm "
                          "threshold)")
    failover.add_argument("--write-load", action="store_true",
                          help="run a bounded write load through the failover and report the "
                          "write unavailability and the rows lost (PostgreSQL; in-region)")
    switchover = commands.add_parser(
        "switchover", parents=[common, waits], help="planned failover without data loss: make the "
        "writer read-only, wait for a replica lag of 0, then promote")
    switchover.add_argument("--region-dr", action="store_true",
                            help="switch over to the cross-region DR replica")
    switchover.add_argument("--drain-timeout", type=_positive, default=600.0, metavar="SECONDS",
                            help="how long to wait for a replica lag of 0 (default 600)")
    for command in (failover, switchover):
        command.add_argument("--replica",
                             help="the replica to promote (default: the healthiest)")
        command.add_argument("--dry-run", action="store_true",
                             help="print the plan and change nothing")
        command.add_argument("--timeout", type=_positive, default=1800.0, metavar="SECONDS",
                             help="how long to wait for the promotion (default 1800)")
        command.add_argument("--record", action="store_true",
                             help="write the promotion into config/topology.json (the config "
                             "change is printed either way)")
    reconcile = commands.add_parser(
        "reconcile", parents=[common], help="check that the declared topology can be deployed "
        "over the live one, and release the replicas the deploy replaces")
    reconcile.add_argument("--dry-run", action="store_true",
                           help="print the plan and change nothing")
    upgrade = commands.add_parser(
        "upgrade", parents=[common, waits], help="upgrade the engine of the writer and its replicas "
        "in the order RDS accepts, one deploy per stage (prints the plan; --execute acts)")
    upgrade.add_argument("--target-version", metavar="VERSION",
                         help="the engine version to reach (default: an unfinished upgrade's, "
                         "else the newest the config declares)")
    upgrade.add_argument("--execute", action="store_true",
                         help="carry the plan out: record each stage in config/topology.json, "
                         "deploy it, wait for its instances")
    upgrade.add_argument("--deploy-command", metavar="COMMAND",
                         help="the command that deploys the recorded config (default: "
                         "node_modules/.bin/cdk deploy --all -c env=ENV --require-approval "
                         "never; env local: '.venv/bin/python -m local_aws.deploy --no-verify')")
    upgrade.add_argument("--timeout", type=_positive, default=3600.0, metavar="SECONDS",
                         help="how long each stage's deploy, and then its wait, may take "
                         "(default 3600)")
    bluegreen = commands.add_parser(
        "bluegreen", parents=[common, waits], help="upgrade the engine with an RDS blue/green "
        "deployment of the writer and its replicas, switched over in under a minute")
    bluegreen.add_argument("--target-version", metavar="VERSION", required=True,
                           help="the engine version of the green environment")
    bluegreen.add_argument("--dry-run", action="store_true",
                           help="print the plan and change nothing")
    bluegreen.add_argument("--record", action="store_true",
                           help="write the upgraded version into config/topology.json (the "
                           "config change is printed either way)")
    bluegreen.add_argument("--max-lag", type=_positive, default=60.0, metavar="SECONDS",
                           help="refuse to switch over while a green member lags more "
                           "(default 60)")
    bluegreen.add_argument("--switchover-timeout", type=int, default=300, metavar="SECONDS",
                           help="how long RDS may take to switch over before it rolls back "
                           "(RDS's SwitchoverTimeout, 30-3600; default 300)")
    bluegreen.add_argument("--timeout", type=_positive, default=3600.0, metavar="SECONDS",
                           help="how long to wait for the green environment, then for the "
                           "switchover (default 3600)")
    bluegreen.add_argument("--deploy-command", metavar="COMMAND",
                           help="with a DR replica, the command that deploys its recorded "
                           "detach and rebuild (default: as upgrade's)")
    return parser


def _factory(args: argparse.Namespace, config: DatabaseConfig,
             clients: Clients | None) -> ClientFactory:
    """Clients per region: from the session of --profile, or only `clients` (a test seam)."""
    if clients is None:
        return session_factory(make_session(profile=args.profile,
                                            region=args.region or config.region))
    fixed = clients

    def only(region: str, probe: bool) -> Clients:
        if region != fixed.region:
            raise ValueError(f"no clients for region {region} (only {fixed.region})")
        return fixed
    return only


def _primary_region(args: argparse.Namespace, config: DatabaseConfig) -> str:
    region = args.region or config.region or make_session(profile=args.profile).region_name
    if not region:
        raise ValueError("no AWS region: pass --region, set AWS_REGION or configure the profile")
    return str(region)


def _placement(args: argparse.Namespace, config: DatabaseConfig, factory: ClientFactory,
               region: str | None) -> Placement:
    """Where the deployed generation's writer and standby are (`ops.topology.deployed`)."""
    return deployed(config, cloudformation_of=lambda r: factory(r, False).cloudformation,
                    prefix=args.stack_prefix, region=region)


def verify(args: argparse.Namespace, *, config: DatabaseConfig, placement: Placement,
           clients: Clients, factory: ClientFactory, out: TextIO) -> int:
    stack = placement.writer_stack
    outputs = load_outputs(clients.cloudformation, stack_name=stack)
    state = gather(clients, outputs)
    dr, dr_failure = None, []
    if placement.standby_stack is not None and placement.standby_region is not None:
        dr_stack, dr_region = placement.standby_stack, placement.standby_region
        try:
            dr = gather_dr(factory(dr_region, False), stack_name=dr_stack,
                           primary_region=clients.region,
                           foundation_stack_name=placement.foundation_stack)
        except (OpsError, BotoCoreError, ClientError) as error:
            # The DR side cannot be read: one FAIL line, the primary region is still verified.
            actual = describe_client_error(error) if isinstance(error, ClientError) else error
            dr_failure = [compare(False, resource=f"stack {dr_stack}",
                                  check=f"readable in {dr_region}",
                                  expected="the DR replica stack's outputs", actual=actual)]
    writer, results = evaluate(config=as_seen(config, placement), outputs=outputs, state=state,
                               keys=KeyResolver(clients.kms), dr=dr)
    results += dr_failure
    results += check_topology(config=config, placement=placement, writer=writer,
                              outputs=outputs, clients=clients, factory=factory)
    live = dict(state.instances)
    if dr is not None:
        live[dr.outputs.replica_identifier] = dr.instance
    results += check_engine(config, live)
    results += check_data(config=config, outputs=outputs, writer=writer, instances=live,
                          clients=clients)
    print(f"Verifying {stack} (env {args.env}, account {state.account}, region "
          f"{clients.region}); writer: {writer}", file=out)
    summary = print_results(results, out)
    return EXIT_OK if summary.ok(strict=args.strict) else EXIT_FAILED


def _record(args: argparse.Namespace, config: DatabaseConfig, plan: PromotionPlan,
            out: TextIO) -> None:
    if not args.dry_run:
        record(config, plan, write_file=args.record, out=out)


def failover(args: argparse.Namespace, *, config: DatabaseConfig, placement: Placement,
             clients: Clients, factory: ClientFactory, out: TextIO, clock: Clock) -> int:
    outputs = load_outputs(clients.cloudformation, stack_name=placement.writer_stack)
    options = FailoverOptions(replica=args.replica, dry_run=args.dry_run, force=args.force,
                              timeout_seconds=args.timeout, poll_seconds=args.poll,
                              max_lag_seconds=args.max_lag or config.alarms.replica_lag_seconds,
                              write_load=args.write_load)
    # The other region's copy of the writer parameter is kept current, best effort: read with
    # probe clients, a failure is reported and does not stop the failover.
    mirrors = () if placement.standby_region is None or placement.standby_stack is None else (
        dr_mirror(factory(placement.standby_region, True), stack_name=placement.standby_stack),)
    plan = build_plan(clients, config=config, outputs=outputs, options=options, clock=clock,
                      mirrors=mirrors)
    execute_failover(clients, plan, config=config, outputs=outputs, options=options,
                     clock=clock, out=out)
    _record(args, config, plan, out)
    return EXIT_OK


def regional_failover(args: argparse.Namespace, *, config: DatabaseConfig,
                      placement: Placement, factory: ClientFactory, out: TextIO,
                      clock: Clock) -> int:
    """`failover --region-dr`: everything required happens in the standby's region; the
    writer's region is reached with probe clients (one attempt, short timeouts)."""
    if placement.standby_stack is None or placement.standby_region is None:
        raise no_dr_configured(config)
    if placement.writer_region is None:
        raise ValueError("no primary region: pass --region or pin region in the env's config")
    options = FailoverOptions(dry_run=args.dry_run, force=args.force,
                              timeout_seconds=args.timeout, poll_seconds=args.poll)
    dr = factory(placement.standby_region, False)
    plan = build_regional_plan(
        dr, factory(placement.writer_region, True), config=config,
        dr_stack=placement.standby_stack, primary_stack=placement.writer_stack,
        options=options, clock=clock)
    run(dr.rds, plan, options=options, clock=clock, out=out)
    _record(args, config, plan, out)
    return EXIT_OK


def switchover(args: argparse.Namespace, *, config: DatabaseConfig, placement: Placement,
               factory: ClientFactory, out: TextIO, clock: Clock) -> int:
    plan = switch_over(args, config=config, placement=placement, factory=factory, out=out,
                       clock=clock)
    if plan is not None:
        _record(args, config, plan, out)
    return EXIT_OK


def reconcile(args: argparse.Namespace, *, config: DatabaseConfig, factory: ClientFactory,
              region: str | None, out: TextIO) -> int:
    target = place(config, prefix=args.stack_prefix, region=region)
    parameter = f"/{config.resource_prefix}/writer-endpoint"
    reconciling.run(config, factory=factory, parameter_name=parameter, dry_run=args.dry_run,
                    out=out, region=target.writer_region or region)
    return EXIT_OK


def upgrade(args: argparse.Namespace, *, config: DatabaseConfig, placement: Placement,
            clients: Clients, factory: ClientFactory, region: str, out: TextIO, clock: Clock,
            deploy: upgrading.Deployer | None) -> int:
    command = (shlex.split(args.deploy_command) if args.deploy_command
               else upgrading.default_deploy_command(config.name))
    options = upgrading.UpgradeOptions(target=args.target_version, execute=args.execute,
                                       timeout_seconds=args.timeout, poll_seconds=args.poll,
                                       deploy_command=tuple(command))
    upgrading.run(config, placement=placement, factory=factory, region=region,
                  account=require_account(clients.sts, config), options=options,
                  deploy=deploy or upgrading.command_deployer(command, timeout=args.timeout,
                                                              out=out),
                  clock=clock, out=out)
    return EXIT_OK


def bluegreen(args: argparse.Namespace, *, config: DatabaseConfig, placement: Placement,
              clients: Clients, factory: ClientFactory, out: TextIO, clock: Clock,
              deploy: upgrading.Deployer | None) -> int:
    require_account(clients.sts, config)
    options = blue_green.BlueGreenOptions(
        target=args.target_version, dry_run=args.dry_run, record=args.record,
        max_lag_seconds=args.max_lag, switchover_timeout_seconds=args.switchover_timeout,
        timeout_seconds=args.timeout, poll_seconds=args.poll)
    command = (shlex.split(args.deploy_command) if args.deploy_command
               else upgrading.default_deploy_command(config.name))
    blue_green.run(config, placement=placement, factory=factory, clients=clients,
                   options=options, clock=clock, out=out,
                   deploy=deploy or upgrading.command_deployer(command, timeout=args.timeout,
                                                               out=out))
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None, clock: Clock | None = None,
         clients: Clients | None = None, factory: ClientFactory | None = None,
         deploy: upgrading.Deployer | None = None) -> int:
    """Run the CLI; `out`, `err`, `clock`, `clients` (the primary region's), `factory`
    (clients per region, probe or not) and `deploy` (what deploys an upgrade's stage) are
    seams for tests."""
    out, err = out or sys.stdout, err or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "bluegreen" and not 30 <= args.switchover_timeout <= 3600:
        parser.error(f"--switchover-timeout {args.switchover_timeout}: RDS takes 30 to 3600 "
                     "seconds")
    if args.command == "failover" and args.write_load and args.region_dr:
        parser.error("--write-load measures an in-region failover: it does not apply with "
                     "--region-dr")
    if args.command in ("failover", "switchover") and args.region_dr and args.replica:
        parser.error("--replica does not apply with --region-dr: the DR replica is the "
                     "DrReplica stack's ReplicaIdentifier output")
    try:
        config = with_declared_topology(ENVIRONMENTS[args.env])
        config.layout  # noqa: B018 - refuses an impossible declared topology with a ConfigError
        factory = factory or _factory(args, config, clients)
        region = args.region or config.region or (
            clients.region if clients else _primary_region(args, config))
        if args.command == "reconcile":
            return reconcile(args, config=config, factory=factory, out=out, region=region)
        placement = _placement(args, config, factory, region)
        if args.command == "switchover":
            return switchover(args, config=config, placement=placement, factory=factory,
                              out=out, clock=clock or SystemClock())
        if args.command == "failover" and args.region_dr:
            return regional_failover(args, config=config, placement=placement,
                                     factory=factory, out=out, clock=clock or SystemClock())
        writer_region = placement.writer_region or region
        clients = clients if clients and clients.region == writer_region else factory(
            writer_region, False)
        if args.command == "verify":
            return verify(args, config=config, placement=placement, clients=clients,
                          factory=factory, out=out)
        if args.command == "bluegreen":
            return bluegreen(args, config=config, placement=placement, clients=clients,
                             factory=factory, out=out, clock=clock or SystemClock(),
                             deploy=deploy)
        if args.command == "upgrade":
            return upgrade(args, config=config, placement=placement, clients=clients,
                           factory=factory, region=writer_region, out=out,
                           clock=clock or SystemClock(), deploy=deploy)
        return failover(args, config=config, placement=placement, clients=clients,
                        factory=factory, out=out, clock=clock or SystemClock())
    except (ConfigError, TopologyError) as error:
        print(f"error: {error}", file=err)
        return EXIT_FAILED
    except OpsError as error:
        print(f"error: {error}", file=err)
        return error.exit_code
    except ClientError as error:
        print(f"error: AWS call failed: {describe_client_error(error)}", file=err)
        return EXIT_FAILED
    except EndpointConnectionError as error:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        hint = (f" (AWS_ENDPOINT_URL={endpoint}: is the local emulator running? `make deploy` "
                "starts it)") if endpoint else ""
        print(f"error: {error}{hint}", file=err)
        return EXIT_FAILED
    except (BotoCoreError, ValueError) as error:
        print(f"error: {error}", file=err)
        return EXIT_FAILED
