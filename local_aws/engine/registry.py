"""What runs, on disk: `registry.json` in the engine's directory lists every server started.

The engine rewrites it after every change. Its reader is `reap()`: a new emulator (or
`python -m local_aws start|stop`) calls it for the state directory of one that is gone, stops
any server still running there (it checks the process is that server, never a pid reused by
another program) and removes the data. With the parent-death signal (`_process`) servers stop
with a killed emulator at once; the registry is what makes sure, and what says so.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_aws.processes import alive

REGISTRY_FILE = "registry.json"
STOP_SECONDS = 5.0


@dataclass(frozen=True, kw_only=True)
class Entry:
    name: str
    pid: int | None
    directory: Path
    host: str
    port: int
    socket_dir: Path
    """Where the superuser reaches it from this machine (`psql -h SOCKET_DIR -p PORT -U
    rdsadmin postgres`): what a drill outside the emulator uses, e.g. to pause a replay."""

    def as_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "directory": str(self.directory), "host": self.host,
                "port": self.port, "socket_dir": str(self.socket_dir)}


def write(root: Path, *, owner: int, data_root: Path, entries: list[Entry]) -> None:
    """Replace the registry atomically (a reader never sees half a file)."""
    path = root / REGISTRY_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"owner": owner, "data_root": str(data_root),
                               "servers": {e.name: e.as_json() for e in entries}}, indent=1))
    tmp.replace(path)


def read(root: Path) -> tuple[int | None, Path | None, list[Entry]]:
    """(owner pid, data root, entries); nothing when there is no readable registry."""
    try:
        data = json.loads((root / REGISTRY_FILE).read_text())
        entries = [Entry(name=name, pid=item.get("pid"), directory=Path(item["directory"]),
                         host=str(item["host"]), port=int(item["port"]),
                         socket_dir=Path(item["socket_dir"]))
                   for name, item in dict(data["servers"]).items()]
        return int(data["owner"]), Path(data["data_root"]), entries
    except (OSError, ValueError, KeyError, TypeError):
        return None, None, []


def is_server(pid: int, directory: Path) -> bool:
    """Whether `pid` is the postmaster of the data directory under `directory`."""
    data = directory / "data"
    try:
        if (data / "postmaster.pid").read_text().split("\n", 1)[0].strip() == str(pid):
            return alive(pid)
    except OSError:
        pass
    try:  # its data directory was removed under it: its command line still names it
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return str(data).encode() in arguments


def stop_process(pid: int, *, seconds: float = STOP_SECONDS) -> None:
    """SIGQUIT (PostgreSQL's immediate shutdown), then SIGKILL if it is still there."""
    for sig in (signal.SIGQUIT, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not alive(pid):
                return
            time.sleep(0.02)


def reap(root: Path) -> list[str]:
    """Stop what a gone emulator left running under `root` and remove `root`: one line per
    server, saying what was done. The caller knows the emulator that owned it is gone."""
    owner, data_root, entries = read(root)
    done = []
    for entry in entries:
        where = f"{entry.name} ({entry.host}:{entry.port})"
        if entry.pid is not None and is_server(entry.pid, entry.directory):
            stop_process(entry.pid)
            done.append(f"stopped PostgreSQL server {where}, pid {entry.pid}, left running by "
                         f"the emulator (pid {owner}) that is gone, and removed its data")
        else:
            done.append(f"removed the data of PostgreSQL server {where}, left by the emulator "
                        f"(pid {owner}) that is gone (the server had stopped)")
    if data_root is not None and not data_root.is_relative_to(root):
        shutil.rmtree(data_root, ignore_errors=True)
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
    return done
