"""The emulator process: moto's `ThreadedMotoServer` with every fidelity extension installed.

Started by `local_aws.emulator.start()` as `python -m local_aws.server --state-dir D --port P`
in its own session (Ctrl-C in the terminal that started it does not stop it). It binds the loopback
interface under the name `localhost` (moto only parses template URLs that contain `localhost`), and
once it listens writes `D/server.json` with its pid and port: that file is the launcher's proof that
the server is up. SIGTERM or SIGINT stop it and remove the file.

Its PostgreSQL DB instances run real servers (`local_aws.engine`, attached to the
`rds_postgres_engine` extension) under `D/postgres/`: they stop with the emulator (and die with
it when it is killed); what a killed one left there is cleaned up first, and logged.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

HOST = "localhost"
STATE_FILE = "server.json"
ENGINE_DIR = "postgres"
REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_CACHE = REPO_ROOT / "build" / "local-aws"
"""Where the PostgreSQL data directory template is kept between emulators (initdb, ~2 s)."""


def engine_root(state_dir: Path) -> Path:
    """The PostgreSQL servers' directory of an emulator's state directory."""
    return state_dir / ENGINE_DIR


def write_state(state_dir: Path, *, pid: int, port: int, extensions: Sequence[str],
                limits: dict[str, str]) -> Path:
    """Write `server.json` atomically (a reader never sees half a file).

    `limits` ({resource type: what still differs from AWS}) lets `make deploy` report them
    without importing moto itself.
    """
    path = state_dir / STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": pid, "port": port, "host": HOST,
                               "started_at": time.time(), "extensions": list(extensions),
                               "limits": limits}))
    tmp.replace(path)
    return path


def _port_free(port: int) -> bool:
    """Whether `port` can be bound (moto's server thread would hang on a failed bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def share_botocore_loader() -> None:
    """Every botocore session of this process, and moto's own model look-ups, share one loader
    of botocore's JSON models.

    Importing moto's CloudFormation (which imports every resource model) lists EC2's regions
    through three new boto3 sessions, and each new session parses the whole EC2 service model
    again (~0.35 s of CPU each); moto's response serializer makes a new loader for each service
    it answers for, and each new loader lists botocore's ~400 service directories again. A
    loader only reads botocore's data files and caches what it read; what each user gets from
    it is the same. The emulator's process calls it before importing moto, and so does the
    test session (tests/conftest.py), whose tests make many sessions.
    """
    import botocore.loaders
    import botocore.session

    loaders: dict[str | None, Any] = {}
    create_loader = botocore.loaders.create_loader

    def shared(search_path_string: str | None = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = create_loader(search_path_string)
        return loaders[search_path_string]

    botocore.session.create_loader = shared
    botocore.loaders.create_loader = shared  # what moto.core.utils imports
    moto_utils = sys.modules.get("moto.core.utils")
    if moto_utils is not None:  # imported already, with the loader's own
        moto_utils.create_loader = shared  # type: ignore[attr-defined]


def list_moto_modules_once() -> None:
    """moto's server finds the service of every request by first asking whether its host is the
    name of one of moto's packages, and lists moto's ~180 package directories for that, twice a
    request. The packages do not change while the server runs: list them once."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws.server")
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)

    # Our stacks launch no EC2 instance; loading moto's ~50k default AMIs costs every new EC2
    # backend a second or more.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    share_botocore_loader()
    list_moto_modules_once()
    from moto.server import ThreadedMotoServer

    from local_aws import fidelity
    from local_aws.engine import Engine, reap
    from local_aws.fidelity import rds_postgres_engine

    if args.port and not _port_free(args.port):
        print(f"error: port {args.port} on {HOST} is in use", file=sys.stderr, flush=True)
        return 2
    state_dir: Path = args.state_dir
    for line in reap(engine_root(state_dir)):
        print(f"cleanup: {line}", flush=True)
    engine = Engine(engine_root(state_dir), template_cache=TEMPLATE_CACHE)
    rds_postgres_engine.attach(engine)
    extensions = fidelity.install()
    server = ThreadedMotoServer(ip_address=HOST, port=args.port, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    state_dir.mkdir(parents=True, exist_ok=True)
    limits = {e.resource_type: e.limit for e in fidelity.EXTENSIONS
              if e.name in extensions and e.resource_type and e.limit}
    for extension in fidelity.EXTENSIONS:
        if extension.name in extensions:
            limits.update(extension.property_limits)
    state_path = write_state(state_dir, pid=os.getpid(), port=port, extensions=extensions,
                             limits=limits)
    print(f"local AWS listening on http://{HOST}:{port} (pid {os.getpid()}); "
          f"extensions: {', '.join(extensions)}", flush=True)
    # Everything loaded so far (moto, botocore's models, the extensions) lives as long as the
    # process: out of the collector's way, full collections walk only what requests create.
    gc.freeze()

    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopped.wait(timeout=0.1):
        pass
    server.stop()
    rds_postgres_engine.detach()
    engine.close()
    state_path.unlink(missing_ok=True)
    print("local AWS stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
