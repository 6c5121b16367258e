"""The AWS Control Tower proactive controls (cfn-guard via cdk-validator-cfnguard), which CI runs
with `make synth`: every environment passes them, and they do catch what they promise.

cfn-guard runs once per template (~0.5 s each), so one synthesis of `local` serves every test
here: its templates as synthesized, except one log group whose retention an escape hatch cuts to
30 days (the config refuses less than a year, so only an override gets there). CDK lists the
plugin in its report only when it has findings, so a clean run would look the same as a run
that never happened: the one broken log group proves the controls ran over the templates, and
that nothing else in them fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app import build_app
from config.schema import MIN_LOG_RETENTION_DAYS

PLUGIN = "cdk-validator-cfnguard"
SHORT_RETENTION_DAYS = 30
RETENTION_RULE = "cloudwatch_log_group_retention_period_check"  # CT.CLOUDWATCH.PR.2


def _report(outdir: Path) -> dict[str, dict[str, Any]]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return {p["pluginName"]: p for p in report["pluginReports"]}


@pytest.fixture(scope="module")
def local_with_one_short_retention(tmp_path_factory: pytest.TempPathFactory
                                   ) -> tuple[Path, str, list[str]]:
    """(cdk.out, the broken log group's path, the paths of its untouched siblings)."""
    outdir = tmp_path_factory.mktemp("ct.local")
    app, stacks = build_app("local", control_tower=True, outdir=str(outdir))
    groups = [g.node.default_child for g in
              stacks.database.database.primary.log_groups.groups.values()]
    broken, *siblings = groups
    broken.add_property_override("RetentionInDays", SHORT_RETENTION_DAYS)  # type: ignore[union-attr]
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    return outdir, broken.node.path, [g.node.path for g in siblings]  # type: ignore[union-attr]


def _violations(outdir: Path) -> set[tuple[str, str]]:
    """{(rule, construct path)} of every Control Tower finding."""
    return {(v["ruleName"], c["constructPath"])
            for v in _report(outdir)[PLUGIN]["violations"] for c in v["violatingConstructs"]}


def test_local_passes_every_control_but_the_one_broken_on_purpose(
        local_with_one_short_retention: tuple[Path, str, list[str]]) -> None:
    outdir, broken, siblings = local_with_one_short_retention
    assert _violations(outdir) == {(RETENTION_RULE, broken)}
    assert siblings  # the same kind of resource, with the configured retention, passes
    assert _report(outdir)[PLUGIN]["conclusion"] == "failure"
    # The cdk-nag packs (listed for their acknowledged findings) have nothing open: the synth
    # failed on the Control Tower finding alone.
    others = {p["conclusion"] for name, p in _report(outdir).items()
              if name not in (PLUGIN, "Redundancy")}
    assert others == {"success"}
    # The gate refuses the escape hatch too: the template differs from the construct tree, and
    # the retention is below the configured one.
    assert {v["ruleName"] for v in _report(outdir)["Redundancy"]["violations"]} == {
        "Redundancy-TemplateMatchesConstructs[Property::RetentionInDays]",
        "Redundancy-LogRetentionAsConfigured[Property::RetentionInDays]"}


def test_control_tower_catches_short_log_retention(
        local_with_one_short_retention: tuple[Path, str, list[str]]) -> None:
    outdir, broken, _ = local_with_one_short_retention
    assert SHORT_RETENTION_DAYS < MIN_LOG_RETENTION_DAYS
    (violation,) = _report(outdir)[PLUGIN]["violations"]
    assert violation["ruleName"] == RETENTION_RULE
    assert "CT.CLOUDWATCH.PR.2" in violation["description"]
    (construct,) = violation["violatingConstructs"]
    resource = construct["cloudFormationResource"]
    assert resource["templatePath"] == "RedundantDb-local-Database.template.json"
    assert set(resource["propertyPaths"]) == {
        f"/Resources/{resource['logicalId']}/Properties/RetentionInDays"}


def test_the_controls_turned_off_in_the_register_report_nothing(
        local_with_one_short_retention: tuple[Path, str, list[str]]) -> None:
    # CT.RDS.PR.14 wants the MySQL general log that local's primary does not export on purpose
    # (policy/acknowledgments.py DISABLED_CONTROL_TOWER_RULES); it would fire here if enabled.
    outdir, _, _ = local_with_one_short_retention
    assert "rds_instance_logging_enabled_check" not in {rule for rule, _ in _violations(outdir)}
