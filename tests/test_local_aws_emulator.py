"""The emulator launcher and its CLI without an emulator process. A real one is started, reused,
found dead after a crash, restarted on its port and stopped in tests/test_local_engine_emulator.py,
whose emulator also serves PostgreSQL: one process for both (a start costs ~2.5 s of CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_aws import __main__ as cli
from local_aws import emulator as emu


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
