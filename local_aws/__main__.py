"""`python -m local_aws start|stop|status|env|run` — manage and use the local AWS emulator.

`run -- CMD ...` runs CMD against the running emulator (endpoint, dummy credentials, no profile),
e.g. `python -m local_aws run -- python -m ops verify --env local`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from local_aws import emulator as emu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws", usage="%(prog)s [options] {start,stop,status,env,run} "
        "[-- CMD [ARGS...]]", description="The embedded local AWS (moto server).")
    parser.add_argument("command", choices=("start", "stop", "status", "env", "run"))
    parser.add_argument("--state-dir", type=Path, default=emu.DEFAULT_STATE_DIR,
                        help=f"where the emulator keeps its pid/port and log "
                             f"(default {emu.DEFAULT_STATE_DIR})")
    parser.add_argument("--port", type=int, default=0,
                        help="port for a new emulator (default: a free one)")
    parser.add_argument("--region", default="us-east-1",
                        help="region for `env` and `run` (default us-east-1)")
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Everything after the first `--` is the command of `run`, options included.
    split = arguments.index("--") if "--" in arguments else len(arguments)
    arguments, command = arguments[:split], arguments[split + 1:]
    args = parser.parse_args(arguments)
    if (args.command == "run") != bool(command):
        parser.error("`run` needs a command after `--` (python -m local_aws run -- CMD [ARGS...]);"
                     " the other commands take none")
    try:
        if args.command == "start":
            started, reused = emu.start(state_dir=args.state_dir, port=args.port)
            verb = "reusing" if reused else "started"
            print(f"{verb} local AWS at {started.endpoint_url} (pid {started.pid}; "
                  f"log {started.log_path})")
            return 0
        if args.command == "stop":
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
    except emu.EmulatorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
