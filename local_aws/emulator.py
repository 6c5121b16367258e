"""Start, find and stop the local AWS emulator (one per state directory).

The state directory (default `<repo>/.local-aws/`) holds `server.json` (pid, port; written by the
server once it listens) and `server.log`. `start()` reuses a running emulator, cleans up after one
that died, and otherwise starts a new server process and waits until it listens. `stop()` ends it
(SIGTERM, then SIGKILL) and removes the state directory. The emulator keeps everything in memory:
once its process is gone, so is every stack deployed to it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from local_aws.processes import alive
from local_aws.server import HOST, STATE_FILE

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = REPO_ROOT / ".local-aws"
LOG_FILE = "server.log"
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
# moto's fixed account; the emulator accepts any credentials.
ACCOUNT = "123456789012"


class EmulatorError(RuntimeError):
    """The emulator could not be started, found or stopped; the message says what to do."""


@dataclass(frozen=True, kw_only=True)
class Emulator:
    pid: int
    port: int
    state_dir: Path
    limits: dict[str, str] = field(default_factory=dict, compare=False)
    """{resource type: what the emulator still does differently from AWS}."""

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / LOG_FILE

    def is_alive(self) -> bool:
        return alive(self.pid) and _listening(self.port)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _read_state(state_dir: Path) -> Emulator | None:
    path = state_dir / STATE_FILE
    try:
        data = json.loads(path.read_text())
        return Emulator(pid=int(data["pid"]), port=int(data["port"]), state_dir=state_dir,
                        limits=dict(data.get("limits", {})))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as error:
        raise EmulatorError(f"{path} is unreadable ({error}); run `python -m local_aws stop` "
                            f"(or remove {state_dir}) and start again") from error


def status(*, state_dir: Path = DEFAULT_STATE_DIR) -> Emulator | None:
    """The running emulator of `state_dir`, or None (no state, or its process is gone)."""
    emulator = _read_state(state_dir)
    if emulator is None or not emulator.is_alive():
        return None
    return emulator


def stale_pid(*, state_dir: Path = DEFAULT_STATE_DIR) -> int | None:
    """The pid recorded by an emulator that is no longer running, if any."""
    emulator = _read_state(state_dir)
    return emulator.pid if emulator is not None and not emulator.is_alive() else None


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(*, state_dir: Path = DEFAULT_STATE_DIR, port: int = 0,
          timeout_seconds: float = START_TIMEOUT_SECONDS) -> tuple[Emulator, bool]:
    """(emulator, reused): the running emulator of `state_dir`, or a new one on `port` (0 = free).

    A new emulator replacing a dead one takes the dead one's port when `port` is 0 and it is free.

    Raises `EmulatorError` with the server log's tail when a new server does not come up.
    """
    recorded = _read_state(state_dir)
    if recorded is not None and recorded.is_alive():
        return recorded, True
    if recorded is not None:
        stop(state_dir=state_dir)
        if port == 0:
            # Keep the endpoint a user may have exported; a free port if it is taken.
            try:
                emulator = _launch(state_dir, port=recorded.port,
                                   timeout_seconds=timeout_seconds)
                return emulator, False
            except EmulatorError:
                pass
    return _launch(state_dir, port=port, timeout_seconds=timeout_seconds), False


def _launch(state_dir: Path, *, port: int, timeout_seconds: float) -> Emulator:
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    log_path = state_dir / LOG_FILE
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_aws.server", "--state-dir", str(state_dir),
             "--port", str(port)],
            cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmulatorError(f"the emulator exited with code {process.returncode} while "
                                f"starting on port {port or 'any'}; last lines of {log_path}:\n"
                                f"{_log_tail(log_path)}")
        emulator = _read_state(state_dir)
        if emulator is not None and emulator.pid == process.pid and _listening(emulator.port):
            return emulator
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise EmulatorError(f"the emulator did not listen within {timeout_seconds:.0f}s; last lines "
                        f"of {log_path}:\n{_log_tail(log_path)}")


def stop(*, state_dir: Path = DEFAULT_STATE_DIR) -> int | None:
    """Stop the emulator of `state_dir` and remove the directory (also after a crash).

    Returns the pid of the emulator it stopped, None when none was running.
    """
    emulator = _read_state(state_dir)
    pid = emulator.pid if emulator is not None and alive(emulator.pid) else None
    if pid is not None:
        _terminate(pid)
    clean_up(state_dir)  # servers a killed emulator left, before their data goes
    if state_dir.exists():
        shutil.rmtree(state_dir)
    return pid


def clean_up(state_dir: Path) -> list[str]:
    """Stop what an emulator of `state_dir` that is gone left running (its PostgreSQL servers)
    and remove their data; one line per server, saying what was done."""
    from local_aws.engine import reap
    from local_aws.server import engine_root

    return reap(engine_root(state_dir))


def _terminate(pid: int) -> None:
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    except PermissionError as error:
        raise EmulatorError(f"cannot stop the emulator (pid {pid}): {error}") from error


def aws_environment(emulator: Emulator, *, region: str) -> dict[str, str]:
    """Environment variables that point the AWS CLI, CDK and boto3 at the emulator only.

    Dummy credentials, no profile, no shared config or credential files: nothing can reach a
    real account by accident. Callers drop every other `AWS_*` variable (`deploy.tool_environment`).
    """
    return _environment(emulator.endpoint_url, emulator.state_dir, region)


CLOSED_PORT = 9  # "discard": nothing listens on it on this machine's loopback


def offline_environment(*, state_dir: Path, region: str) -> dict[str, str]:
    """`aws_environment` before the emulator listens (`cdk synth` runs while it starts): a synth
    calls no AWS API, and one that tried would meet a closed loopback port with dummy
    credentials, never an account."""
    return _environment(f"http://localhost:{CLOSED_PORT}", state_dir, region)


def _environment(endpoint_url: str, state_dir: Path, region: str) -> dict[str, str]:
    blank = str(state_dir / "no-aws-config")
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_CONFIG_FILE": blank,
        "AWS_SHARED_CREDENTIALS_FILE": blank,
    }

