"""Command line: `python -m ops verify|failover --env ENV [options]`.

Exit codes: 0 done (verify: every check passed); 1 a check failed or an operation failed;
2 bad usage; 3 the failover refused to act (the message says why and what would allow it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from config import DatabaseConfig
from config.environments import ENVIRONMENTS
from ops.aws import Clients, make_clients, make_session
from ops.clock import Clock, SystemClock
from ops.errors import OpsError, describe_client_error
from ops.failover import FailoverOptions, run_failover
from ops.keys import KeyResolver
from ops.outputs import DEFAULT_STACK_PREFIX, database_stack_name, load_outputs
from ops.report import print_results
from ops.verify import evaluate, gather

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
    parser = argparse.ArgumentParser(
        prog="python -m ops", description="Operate a deployed RedundantDb environment. "
        "Honours AWS_ENDPOINT_URL (e.g. the local emulator).")
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", parents=[common], help="check the live resources "
                                 "against the stack outputs and the config")
    verify.add_argument("--strict", action="store_true",
                        help="fail on warnings too (e.g. a failover not yet reconciled)")
    failover = commands.add_parser("failover", parents=[common],
                                   help="promote a read replica and repoint the writer endpoint")
    failover.add_argument("--replica", help="the replica to promote (default: the healthiest)")
    failover.add_argument("--dry-run", action="store_true",
                          help="print the plan and change nothing")
    failover.add_argument("--force", action="store_true",
                          help="fail over even though the writer is healthy (planned failover)")
    failover.add_argument("--timeout", type=_positive, default=1800.0, metavar="SECONDS",
                          help="how long to wait for the promotion (default 1800)")
    failover.add_argument("--poll", type=_positive, default=15.0, metavar="SECONDS",
                          help="seconds between status checks (default 15)")
    return parser


def _clients(args: argparse.Namespace, config: DatabaseConfig) -> Clients:
    session = make_session(profile=args.profile, region=args.region or config.region)
    return make_clients(session)


def verify(args: argparse.Namespace, *, clients: Clients, out: TextIO) -> int:
    config = ENVIRONMENTS[args.env]
    stack = database_stack_name(env=args.env, prefix=args.stack_prefix)
    outputs = load_outputs(clients.cloudformation, stack_name=stack)
    state = gather(clients, outputs)
    writer, results = evaluate(config=config, outputs=outputs, state=state,
                               keys=KeyResolver(clients.kms))
    print(f"Verifying {stack} (env {args.env}, account {state.account}, region "
          f"{clients.region}); writer: {writer}", file=out)
    summary = print_results(results, out)
    return EXIT_OK if summary.ok(strict=args.strict) else EXIT_FAILED


def failover(args: argparse.Namespace, *, clients: Clients, out: TextIO, clock: Clock) -> int:
    config = ENVIRONMENTS[args.env]
    stack = database_stack_name(env=args.env, prefix=args.stack_prefix)
    outputs = load_outputs(clients.cloudformation, stack_name=stack)
    options = FailoverOptions(replica=args.replica, dry_run=args.dry_run, force=args.force,
                              timeout_seconds=args.timeout, poll_seconds=args.poll)
    run_failover(clients, config=config, outputs=outputs, options=options, clock=clock, out=out)
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None, clock: Clock | None = None,
         clients: Clients | None = None) -> int:
    """Run the CLI; `out`, `err`, `clock` and `clients` are seams for tests."""
    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        config = ENVIRONMENTS[args.env]
        clients = clients or _clients(args, config)
        if args.command == "verify":
            return verify(args, clients=clients, out=out)
        return failover(args, clients=clients, out=out, clock=clock or SystemClock())
    except OpsError as error:
        print(f"error: {error}", file=err)
        return error.exit_code
    except ClientError as error:
        print(f"error: AWS call failed: {describe_client_error(error)}", file=err)
        return EXIT_FAILED
    except (BotoCoreError, ValueError) as error:
        print(f"error: {error}", file=err)
        return EXIT_FAILED
