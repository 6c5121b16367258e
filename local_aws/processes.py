"""Whether a process is alive, for the emulator's server and the engine's PostgreSQL servers."""

from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """True while `pid` runs. Another user's process (the engine's servers run as an
    unprivileged user when started as root) is alive too; a zombie (an exited child not yet
    reaped) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return True
