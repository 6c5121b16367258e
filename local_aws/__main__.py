"""`python -m local_aws start|stop|status|env|run|psql` — manage and use the local AWS emulator.

`run -- CMD ...` runs CMD against the running emulator (endpoint, dummy credentials, no profile),
e.g. `python -m local_aws run -- python -m ops verify --env local`.

`psql [--member writer|replica-N|dr-replica]` prints a psql command line that connects to that
member of env local's database over TLS (verified against the emulator's CA) with the generated
secret's user; the password is read from the secret when the line runs, never printed. `--exec`
runs psql itself (the password in its environment only); arguments after `--` go to psql.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import ConfigError
from local_aws import emulator as emu
from local_aws.server import engine_root
from ops.errors import OpsError

MEMBERS_HELP = "writer, replica-1 ... replica-N, dr-replica (default writer)"


def _reap(state_dir: Path) -> None:
    """Clean up what an emulator that is gone left running (its PostgreSQL servers), saying so."""
    for line in emu.clean_up(state_dir):
        print(f"cleanup: {line}")


@dataclass(frozen=True, kw_only=True)
class PsqlTarget:
    member: str
    identifier: str
    region: str
    host: str
    port: int
    username: str
    database: str
    secret_arn: str
    secret_region: str  # the writer's region, where the secret is written
    ca_file: Path

    @property
    def conninfo(self) -> str:
        return (f"host={self.host} port={self.port} dbname={self.database} user={self.username} "
                f"sslmode=verify-full sslrootcert={self.ca_file}")


def psql_target(emulator: emu.Emulator, *, env: str, member: str) -> PsqlTarget:
    """Where `member` of `env`'s declared topology listens, and the secret to log in with."""
    import boto3

    import config
    from config.naming import stack_name
    from ops.outputs import load_outputs

    cfg = config.ENVIRONMENTS.get(env)
    if cfg is None:
        raise emu.EmulatorError(f"unknown env {env!r}; known: {', '.join(config.ENVIRONMENTS)}")
    layout = config.with_declared_topology(cfg).layout
    members = {"writer": layout.writer, **{f"replica-{n}": r for n, r in
                                           enumerate(layout.replicas, start=1)}}
    if layout.standby is not None:
        members["dr-replica"] = layout.standby
    chosen = members.get(member)
    if chosen is None:
        raise emu.EmulatorError(f"--member {member!r} is not a member of env {env}; allowed: "
                                f"{', '.join(members)}")
    region = chosen.region or cfg.region or "us-east-1"
    writer_region = layout.writer.region or cfg.region or "us-east-1"

    def client(service: str, where: str) -> Any:
        return boto3.session.Session(aws_access_key_id="testing",
                                     aws_secret_access_key="testing",
                                     region_name=where).client(
            service, endpoint_url=emulator.endpoint_url)

    from botocore.exceptions import ClientError

    try:
        found = client("rds", region).describe_db_instances(
            DBInstanceIdentifier=chosen.identifier)["DBInstances"][0]
        outputs = load_outputs(client("cloudformation", writer_region),
                               stack_name=stack_name(env, layout.writer_stack))
        document = client("secretsmanager", writer_region).get_secret_value(
            SecretId=outputs.secret_arn)["SecretString"]
    except ClientError as error:
        raise emu.EmulatorError(f"{member} ({chosen.identifier} in {region}) is not deployed "
                                f"on the emulator ({error}); run `make deploy`") from None
    if found.get("Engine") != "postgres":
        raise emu.EmulatorError(
            f"{chosen.identifier} is a {found.get('Engine')} instance: the emulator runs no "
            "server for it (only PostgreSQL instances are real)")
    username = json.loads(document).get("username")
    if not username:
        raise emu.EmulatorError(f"the secret {outputs.secret_arn} has no username field")
    return PsqlTarget(member=member, identifier=chosen.identifier, region=region,
                      host=found["Endpoint"]["Address"], port=int(found["Endpoint"]["Port"]),
                      username=str(username), database=cfg.database_name,
                      secret_arn=outputs.secret_arn, secret_region=writer_region,
                      ca_file=engine_root(emulator.state_dir) / "ca.pem")


def psql_lines(target: PsqlTarget, *, state_dir: Path) -> list[str]:
    """What `psql` prints: the `--exec` helper, then psql itself with the password read from the
    secret when the line runs (never the password)."""
    from local_aws.engine import psql_path

    python = shlex.quote(sys.executable)
    state = [] if state_dir == emu.DEFAULT_STATE_DIR else ["--state-dir", str(state_dir)]
    helper = " ".join([python, "-m", "local_aws", "psql", "--member", target.member, "--exec",
                       *map(shlex.quote, state)])
    read = ('import boto3, json; print(json.loads(boto3.client("secretsmanager")'
            f'.get_secret_value(SecretId="{target.secret_arn}")["SecretString"])["password"])')
    password = " ".join([python, "-m", "local_aws", "run", "--region", target.secret_region,
                         *map(shlex.quote, state), "--", python, "-c", shlex.quote(read)])
    return [
        f"# {target.member}: {target.identifier} ({target.region}) at {target.host}:"
        f"{target.port}, TLS verified against the emulator's CA",
        helper,
        "# or psql itself (the password read from the secret when the line runs):",
        f'PGPASSWORD="$({password})" {shlex.quote(str(psql_path()))} '
        f"{shlex.quote(target.conninfo)}",
    ]


def exec_psql(target: PsqlTarget, emulator: emu.Emulator, arguments: Sequence[str]) -> None:
    """Replace this process with psql, the password in its environment only."""
    import boto3

    from local_aws.engine import psql_path

    secrets = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=target.secret_region).client(
        "secretsmanager", endpoint_url=emulator.endpoint_url)
    document = json.loads(secrets.get_secret_value(SecretId=target.secret_arn)["SecretString"])
    environment = {**os.environ, "PGPASSWORD": str(document["password"])}
    psql = str(psql_path())
    os.execve(psql, [psql, target.conninfo, *arguments], environment)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws", usage="%(prog)s [options] {start,stop,status,env,run,psql} "
        "[-- CMD [ARGS...]]", description="The embedded local AWS (moto server).")
    parser.add_argument("command", choices=("start", "stop", "status", "env", "run", "psql"))
    parser.add_argument("--state-dir", type=Path, default=emu.DEFAULT_STATE_DIR,
                        help=f"where the emulator keeps its pid/port and log "
                             f"(default {emu.DEFAULT_STATE_DIR})")
    parser.add_argument("--port", type=int, default=0,
                        help="port for a new emulator (default: a free one)")
    parser.add_argument("--region", default="us-east-1",
                        help="region for `env` and `run` (default us-east-1)")
    parser.add_argument("--env", default="local", help="environment for `psql` (default local)")
    parser.add_argument("--member", default="writer", help=f"for `psql`: {MEMBERS_HELP}")
    parser.add_argument("--exec", action="store_true", dest="execute",
                        help="for `psql`: run psql instead of printing its command line")
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Everything after the first `--` is the command of `run` (or psql's arguments).
    split = arguments.index("--") if "--" in arguments else len(arguments)
    arguments, command = arguments[:split], arguments[split + 1:]
    args = parser.parse_args(arguments)
    if args.command == "run" and not command:
        parser.error("`run` needs a command after `--` (python -m local_aws run -- CMD [ARGS...])")
    if command and args.command not in ("run", "psql"):
        parser.error(f"`{args.command}` takes nothing after `--` (only `run` and `psql` do)")
    if command and not args.execute and args.command == "psql":
        parser.error("psql arguments after `--` need --exec")
    try:
        if args.command == "start":
            if emu.status(state_dir=args.state_dir) is None:
                _reap(args.state_dir)
            started, reused = emu.start(state_dir=args.state_dir, port=args.port)
            verb = "reusing" if reused else "started"
            print(f"{verb} local AWS at {started.endpoint_url} (pid {started.pid}; "
                  f"log {started.log_path})")
            return 0
        if args.command == "stop":
            if emu.status(state_dir=args.state_dir) is None:
                _reap(args.state_dir)
            pid = emu.stop(state_dir=args.state_dir)
            print(f"stopped local AWS (pid {pid})" if pid else "local AWS was not running")
            return 0
        running = emu.status(state_dir=args.state_dir)
        if running is None:
            stale = emu.stale_pid(state_dir=args.state_dir)
            hint = f" (pid {stale} is gone; its state was lost)" if stale else ""
            print(f"local AWS is not running{hint}; start it with `make deploy` (or "
                  "`python -m local_aws start`)", file=sys.stderr)
            return 1
        if args.command == "run":
            from local_aws.deploy import tool_environment

            env = tool_environment(running, region=args.region)
            return subprocess.run(command, env=env, check=False).returncode
        if args.command == "psql":
            target = psql_target(running, env=args.env, member=args.member)
            if args.execute:
                exec_psql(target, running, command)
            for line in psql_lines(target, state_dir=args.state_dir):
                print(line)
            return 0
        if args.command == "status":
            print(f"local AWS running at {running.endpoint_url} (pid {running.pid}; "
                  f"log {running.log_path})")
        else:
            # A profile or session token left in the shell would override the dummy credentials.
            print("unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN "
                  "AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE")
            for name, value in emu.aws_environment(running, region=args.region).items():
                print(f"export {name}={value}")
        return 0
    except (emu.EmulatorError, ConfigError, OpsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
