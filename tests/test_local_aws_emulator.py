"""The emulator launcher: start, reuse, notice a dead emulator, restart, stop; and the CLI."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from local_aws import __main__ as cli
from local_aws import emulator as emu
from local_aws.processes import alive


def _wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_start_reuse_crash_restart_stop(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    first, reused = emu.start(state_dir=state)
    try:
        assert not reused and first.is_alive()
        assert first.endpoint_url == f"http://localhost:{first.port}"
        recorded = json.loads((state / "server.json").read_text())
        assert (recorded["pid"], recorded["port"]) == (first.pid, first.port)
        assert "rds-promote-read-replica" in recorded["extensions"]
        assert "AWS::SecretsManager::RotationSchedule" in first.limits

        again, reused = emu.start(state_dir=state)
        assert reused and again == first
        assert cli.main(["status", "--state-dir", str(state)]) == 0
        assert f"running at {first.endpoint_url}" in capsys.readouterr().out
        assert cli.main(["env", "--state-dir", str(state)]) == 0
        exports = capsys.readouterr().out.splitlines()
        assert exports[0].startswith("unset AWS_PROFILE ")
        assert f"export AWS_ENDPOINT_URL={first.endpoint_url}" in exports

        os.kill(first.pid, signal.SIGKILL)  # a crash: no chance to clean up
        _wait_gone(first.pid)
        assert emu.status(state_dir=state) is None
        assert emu.stale_pid(state_dir=state) == first.pid
        assert cli.main(["status", "--state-dir", str(state)]) == 1
        assert f"pid {first.pid} is gone" in capsys.readouterr().err

        second, reused = emu.start(state_dir=state)
        assert not reused and second.pid != first.pid
        assert second.port == first.port  # the endpoint a user exported keeps working
    finally:
        stopped = emu.stop(state_dir=state)
    assert stopped == second.pid
    _wait_gone(second.pid)
    assert not alive(second.pid)
    assert not state.exists()


def test_env_points_only_at_the_emulator(tmp_path: Path) -> None:
    emulator = emu.Emulator(pid=1, port=4321, state_dir=tmp_path)
    env = emu.aws_environment(emulator, region="us-east-1")
    assert env["AWS_ENDPOINT_URL"] == "http://localhost:4321"
    assert env["AWS_CONFIG_FILE"] == env["AWS_SHARED_CREDENTIALS_FILE"]
    assert not Path(env["AWS_CONFIG_FILE"]).exists()
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"


def test_fails_on_an_unreadable_state_file(tmp_path: Path) -> None:
    (tmp_path / "server.json").write_text("{not json")
    with pytest.raises(emu.EmulatorError, match=r"server\.json is unreadable .* local_aws stop"):
        emu.status(state_dir=tmp_path)


def test_stop_without_an_emulator_is_a_no_op(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert emu.stop(state_dir=tmp_path / "never-started") is None
    assert cli.main(["stop", "--state-dir", str(tmp_path / "never-started")]) == 0
    assert "was not running" in capsys.readouterr().out
