"""Escape hatches cannot bypass the gate: every non-compliant change made to the real app through
a raw override, a removal policy or a removed construct fails synthesis with its rule id."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from app import build_app
from config.topology import TOPOLOGY_FILE_VARIABLE
from policy.gate import policy_of
from tests.fixtures.mutations import DR_MUTATIONS, MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[1]


def _failed_rules(outdir: Path) -> dict[str, set[str]]:
    report = json.loads((outdir / "validation-report.json").read_text())
    return {p["pluginName"]: {v["ruleName"] for v in p["violations"]}
            for p in report["pluginReports"] if p["conclusion"] == "failure"}


def test_there_are_at_least_twelve_distinct_mutations() -> None:
    assert len({m.name for m in MUTATIONS}) >= 12
    assert len({m.rule for m in MUTATIONS}) >= 12


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_mutation_is_refused(mutation: Mutation, tmp_path: Path) -> None:
    app, stacks = build_app("local", outdir=str(tmp_path))
    mutation.apply(stacks)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    failed = _failed_rules(tmp_path)
    assert mutation.rule in failed.get("Redundancy", set()), failed
    views = {e.view for e in policy_of(app).evaluations
             if e.rule.id == mutation.rule and e.compliance.value == "non_compliant"}
    assert "template" in views
    if mutation.invisible_to_cdk_nag:
        # The point of the template view: the construct tree (what cdk-nag reads) looks fine.
        assert views == {"template"}


@pytest.fixture
def promoted_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Env local with replica-1 promoted (config/topology.json of the test's own)."""
    topology = tmp_path / "topology.json"
    topology.write_text(json.dumps({"local": {"promotions": [
        {"writer": "local-mysql-replica-1", "region": "us-east-1"}]}}))
    monkeypatch.setenv(TOPOLOGY_FILE_VARIABLE, str(topology))


def test_every_mutation_is_refused_on_a_promoted_topology(tmp_path: Path,
                                                          promoted_local: None) -> None:
    """The same escape hatches on the promoted writer, which carries no StorageEncrypted of its
    own: the gate still refuses each one with its rule. All in one synth (each mutation alone
    is `test_mutation_is_refused`); the writer's rules name the promoted writer."""
    app, stacks = build_app("local", outdir=str(tmp_path))
    assert stacks.config.layout.writer.identifier == "local-mysql-replica-1"
    for mutation in MUTATIONS:
        mutation.apply(stacks)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert {m.rule for m in MUTATIONS} <= _failed_rules(tmp_path).get("Redundancy", set())
    writer = "RedundantDb-local-Database/Database/Replica1/Instance/Resource"
    failed_on_writer = {e.rule.id for e in policy_of(app).evaluations
                        if e.resource.path == writer and e.compliance.value == "non_compliant"}
    assert {"Redundancy-StorageEncryptedCMK", "Redundancy-BackupRetention",
            "Redundancy-DeletionProtection", "Redundancy-NoPlaintextPassword",
            "Redundancy-NotPublic", "Redundancy-PrimaryHasReplica"} <= failed_on_writer


def test_unmutated_promoted_topology_passes(tmp_path: Path, promoted_local: None) -> None:
    app, _ = build_app("local", outdir=str(tmp_path))
    app.synth()
    assert not _failed_rules(tmp_path)


@pytest.mark.parametrize("mutation", DR_MUTATIONS, ids=lambda m: m.name)
def test_disaster_recovery_mutation_is_refused(mutation: Mutation, tmp_path: Path) -> None:
    app, stacks = build_app("prod", outdir=str(tmp_path))
    assert stacks.dr is not None
    mutation.apply(stacks)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    assert mutation.rule in _failed_rules(tmp_path).get("Redundancy", set())


def test_unmutated_app_passes(tmp_path: Path) -> None:
    app, _ = build_app("local", outdir=str(tmp_path))
    app.synth()
    assert not _failed_rules(tmp_path)


def test_cdk_cli_exits_non_zero_naming_rule_path_and_environment(tmp_path: Path) -> None:
    """One mutation through the real `cdk synth`, as CI runs it."""
    env = {**os.environ, "MUTATION": "encryption-off", "CDK_DISABLE_CLI_TELEMETRY": "true",
           "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    run = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--no-notices", "--quiet",
         "--app", f"{ROOT / '.venv' / 'bin' / 'python'} tests/fixtures/mutations.py",
         "--output", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert "Redundancy-StorageEncryptedCMK" in output
    assert "RedundantDb-local-Database/Database/Primary/Instance/Resource" in output
    assert "[env=local]" in output
