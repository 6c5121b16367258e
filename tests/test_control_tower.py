"""The AWS Control Tower proactive controls (cfn-guard via cdk-validator-cfnguard), which CI runs
with `make synth`: every environment passes them, and they do catch what they promise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import build_app
from constructs_lib.logs import retention_period

PLUGIN = "cdk-validator-cfnguard"


def _report(outdir: Path) -> dict[str, dict]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return {p["pluginName"]: p for p in report["pluginReports"]}


@pytest.fixture(scope="module")
def local_with_controls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("ct.local")
    app, _ = build_app("local", control_tower=True, outdir=str(outdir))
    app.synth()
    return outdir


def test_local_passes_the_control_tower_controls(local_with_controls: Path) -> None:
    # CDK lists a plugin in the report only when it has findings: none here, nothing silenced.
    assert PLUGIN not in _report(local_with_controls)
    assert (local_with_controls / "manifest.json").exists()


def test_control_tower_catches_short_log_retention(tmp_path: Path) -> None:
    # dev: two templates, so two cfn-guard runs instead of five
    app, stacks = build_app("dev", control_tower=True, outdir=str(tmp_path))
    group = next(iter(stacks.database.database.primary.log_groups.groups.values()))
    group.node.default_child.add_property_override("RetentionInDays", 30)  # type: ignore[union-attr]
    assert retention_period(30)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    failed = {v["ruleName"] for v in _report(tmp_path)[PLUGIN]["violations"]}
    assert "cloudwatch_log_group_retention_period_check" in failed
    assert "rds_instance_logging_enabled_check" not in failed  # disabled in the register
