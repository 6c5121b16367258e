"""The README stays true: it documents every config field, every rule and every make target it
names, and starts with the two commands."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from config.schema import AlarmThresholds, DatabaseConfig
from policy.rules import RULE_IDS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def test_starts_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()[1:]] == [
        "make deploy", "make test"]


def test_config_reference_lists_every_field_with_its_default() -> None:
    for f in dataclasses.fields(DatabaseConfig):
        if f.name == "alarms":
            continue
        assert re.search(rf"^\| `{f.name}` \|", README, re.M), f.name
    for f in dataclasses.fields(AlarmThresholds):
        row = re.search(rf"^\| `alarms\.{f.name}` \| `(\d+)` \|", README, re.M)
        assert row and int(row.group(1)) == f.default, f.name
    defaults = DatabaseConfig(name="x")
    for name in ("replica_count", "backup_retention_days", "port", "log_retention_days",
                 "monitoring_interval_seconds", "secret_rotation_days"):
        row = re.search(rf"^\| `{name}` \| `([^`]+)` \|", README, re.M)
        assert row and row.group(1) == str(getattr(defaults, name)), name


def test_every_rule_is_documented() -> None:
    for rule_id in RULE_IDS:
        assert f"| `{rule_id}` |" in README


def test_every_make_target_named_exists() -> None:
    named = set(re.findall(r"`make ([a-z-]+)`", README))
    defined = set(re.findall(r"^([a-z-]+):", MAKEFILE, re.M))
    assert named and named <= defined, named - defined
