"""The compliance evidence CI uploads: Markdown for humans, SARIF 2.1.0 for code scanning."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

import config
from app import build_app, write_compliance_reports
from policy.rules import RULE_IDS
from tests.conftest import Synthesized
from tests.fixtures.mutations import BY_NAME
from tests.helpers import add_gated, gated_app, without_dr_region

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "policy" / "schemas" / "sarif-2.1.0-rtm.5.json").read_text())
ENVS = sorted(config.ENVIRONMENTS)


@pytest.fixture(scope="module")
def reports(environments: dict[str, Synthesized],
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, dict]]:
    out = tmp_path_factory.mktemp("compliance")
    result = {}
    for env, s in environments.items():
        md, sarif = write_compliance_reports(s.app, s.stacks, out)
        result[env] = (md.read_text(), json.loads(sarif.read_text()))
    return result


@pytest.mark.parametrize("env", ENVS)
def test_sarif_is_valid_2_1_0(reports: dict, env: str) -> None:
    jsonschema.validate(reports[env][1], SCHEMA)
    assert reports[env][1]["version"] == "2.1.0"


@pytest.mark.parametrize("env", ENVS)
def test_sarif_lists_every_rule_and_its_results(reports: dict, env: str) -> None:
    runs = {run["tool"]["driver"]["name"]: run for run in reports[env][1]["runs"]}
    ours = runs["Redundancy"]
    assert [r["id"] for r in ours["tool"]["driver"]["rules"]] == list(RULE_IDS)
    evaluated = {r["ruleId"] for r in ours["results"]}
    assert evaluated == set(RULE_IDS)
    assert {r["kind"] for r in ours["results"]} <= {"pass", "notApplicable"}
    assert {r["ruleId"] for r in ours["results"] if r["kind"] == "pass"} >= {
        "Redundancy-StorageEncryptedCMK", "Redundancy-BackupRetention"}
    for plugin in ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321"):
        suppressed = [r for r in runs[plugin]["results"] if r.get("suppressions")]
        assert suppressed and all(s["suppressions"][0]["justification"] for s in suppressed)


@pytest.mark.parametrize("env", ENVS)
def test_markdown_states_verdict_rules_and_acknowledgments(reports: dict, env: str) -> None:
    md = reports[env][0]
    assert md.startswith(f"# Compliance report: env `{env}` — PASS")
    for rule_id in RULE_IDS:
        assert f"| {rule_id} |" in md
    assert "## Acknowledged findings" in md and "inherits storage encryption" in md


def test_a_violation_shows_as_failure_in_both_reports(tmp_path: Path) -> None:
    """The primary's encryption turned off by an escape hatch, on env local's stacks in its
    region (where it acts)."""
    app = gated_app(tmp_path / "cdk.out")
    stacks = add_gated(app, without_dr_region(config.ENVIRONMENTS["local"]))
    BY_NAME["encryption-off"].apply(stacks)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    md, sarif = write_compliance_reports(app, stacks, tmp_path / "reports")
    assert md.read_text().startswith("# Compliance report: env `local` — FAIL")
    log = json.loads(sarif.read_text())
    jsonschema.validate(log, SCHEMA)
    failed = [r for r in log["runs"][0]["results"] if r["kind"] == "fail"]
    assert {r["ruleId"] for r in failed} >= {"Redundancy-StorageEncryptedCMK"}
    assert any("[template]" in r["message"]["text"] for r in failed)


def test_github_workflow_passes_actionlint() -> None:
    actionlint = shutil.which("actionlint") or str(ROOT / ".venv" / "bin" / "actionlint")
    run = subprocess.run([actionlint, "-no-color", ".github/workflows/policy-gate.yml"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_workflow_runs_the_gate_and_uploads_every_sarif() -> None:
    workflow = (ROOT / ".github" / "workflows" / "policy-gate.yml").read_text()
    assert "make synth" in workflow and "make test" in workflow
    for env in ENVS:
        assert f"sarif_file: build/compliance/{env}.sarif" in workflow


def test_every_environment_in_one_app_reports_each_on_its_own(tmp_path: Path) -> None:
    """`make synth` (`-c env=all`): one App, one synth, one report per environment."""
    import aws_cdk as cdk

    from app import cdk_context

    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=cdk_context(),
                  builtin_cloud_formation_validation=False)  # as app.main
    built = [build_app(env, app=app)[1] for env in ENVS]
    app.synth()
    for stacks in built:
        md, sarif = write_compliance_reports(app, stacks, tmp_path / "reports")
        env = stacks.config.name
        others = [e for e in ENVS if e != env]
        text = md.read_text()
        assert text.startswith(f"# Compliance report: env `{env}` — PASS")
        assert not any(f"RedundantDb-{other}-" in text for other in others)
        log = json.loads(sarif.read_text())
        names = {loc["fullyQualifiedName"].split("/")[0]
                 for run in log["runs"] for r in run["results"] for loc in
                 r["locations"][0]["logicalLocations"] if "fullyQualifiedName" in loc}
        assert names and all(n.startswith(f"RedundantDb-{env}-") for n in names)
