"""Escape hatches cannot bypass the gate: every non-compliant change made to the real app through
a raw override, a removal policy or a removed construct fails synthesis with its rule id.

Each mutation is applied to a copy of an environment's stacks of its own, and every copy goes
into ONE app, synthesized once through the gate's Redundancy rules (a synth per mutation costs
about a second): a copy is the environment's config under another name (`m00`, `m01`...), so
its stacks, its identifiers and the gate's settings are its own, and a finding belongs to the
copy whose stack its construct path names. An unmutated copy in the same app has no finding at
all. The mutations of the primary region are applied to env `local` without its DR region (its
network and database stacks: where they act), those of the DR region to env `local` with it;
all of them at once to a promoted `local`. cdk-nag's packs stay out of that app (no test here
reads them, and they are half its synthesis): env `local` as configured passes the whole gate
unmutated (the session's synthesis), and one mutation goes through the real `cdk synth` with
the whole gate, as CI runs it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import config
from config.topology import TOPOLOGY_FILE_VARIABLE, Promotion, Topology
from policy.gate import policy_of
from tests.fixtures.mutations import DR_MUTATIONS, MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parents[1]
UNMUTATED = "unmutated"
PROMOTED = "promoted"
PROMOTED_WRITER = f"{PROMOTED}-postgres-replica-1"


def _failed_rules(report: dict[str, Any], stacks: set[str] | None = None) -> dict[str, set[str]]:
    """{plugin: rule names} of every open violation, on the constructs of `stacks` (default:
    anywhere)."""
    failed: dict[str, set[str]] = {}
    for plugin in report["pluginReports"]:
        for violation in plugin["violations"]:
            for construct in violation["violatingConstructs"]:
                if stacks is None or construct["constructPath"].split("/", 1)[0] in stacks:
                    failed.setdefault(plugin["pluginName"], set()).add(violation["ruleName"])
    return failed


def _report(outdir: Path) -> dict[str, Any]:
    return dict(json.loads((outdir / "validation-report.json").read_text()))


@dataclass(frozen=True)
class Mutated:
    """The app holding every copy, synthesized once; each copy's env name and stack names."""

    app: Any  # cdk.App (aws_cdk is imported by the fixture, not at collection)
    report: dict[str, Any]
    envs: dict[str, str]  # mutation name (or UNMUTATED, PROMOTED) -> env name of its copy
    stacks: dict[str, set[str]]  # env name of a copy -> its stack names

    def failed(self, name: str) -> dict[str, set[str]]:
        """{plugin: rule names} of the open violations on the copy of `name`."""
        return _failed_rules(self.report, self.stacks[self.envs[name]])

    def views(self, name: str, rule: str) -> set[str]:
        """The views in which `rule` found the copy of `name` non-compliant."""
        env = self.envs[name]
        return {e.view for e in policy_of(self.app).evaluations
                if e.environment == env and e.rule.id == rule
                and e.compliance.value == "non_compliant"}


def _copy(base: config.DatabaseConfig, name: str, **changes: Any) -> config.DatabaseConfig:
    return config.validate(dataclasses.replace(base, name=name, **changes))


@pytest.fixture(scope="module")
def mutated(tmp_path_factory: pytest.TempPathFactory) -> Mutated:
    from tests.helpers import add_gated, redundancy_only_app, without_dr_region

    outdir = tmp_path_factory.mktemp("mutated")
    app = redundancy_only_app(outdir)
    local = config.ENVIRONMENTS["local"]
    copies: list[tuple[str, config.DatabaseConfig, tuple[Mutation, ...]]] = [
        (m.name, without_dr_region(local, name=f"m{i:02d}"), (m,))
        for i, m in enumerate(MUTATIONS)]
    copies += [(m.name, _copy(local, f"m{i:02d}"), (m,))
               for i, m in enumerate(DR_MUTATIONS, start=len(MUTATIONS))]
    copies.append((UNMUTATED, without_dr_region(local, name=UNMUTATED), ()))
    copies.append((PROMOTED, without_dr_region(local, name=PROMOTED, topology=Topology(
        promotions=(Promotion(writer=PROMOTED_WRITER, region=local.region),))), MUTATIONS))
    envs, stacks = {}, {}
    for name, cfg, mutations in copies:
        built = add_gated(app, cfg)
        for mutation in mutations:
            mutation.apply(built)
        envs[name] = cfg.name
        stacks[cfg.name] = {s.stack_name for s in built.all}
    assert stacks[envs[PROMOTED]] and built.config.layout.writer.identifier == PROMOTED_WRITER
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    return Mutated(app, _report(outdir), envs, stacks)


def test_there_are_at_least_twelve_distinct_mutations() -> None:
    assert len({m.name for m in MUTATIONS}) >= 12
    assert len({m.rule for m in MUTATIONS}) >= 12


def test_an_unmutated_copy_has_no_finding(mutated: Mutated) -> None:
    """Findings are attributed to the copy they are on: the unmutated one has none."""
    assert mutated.failed(UNMUTATED) == {}
    assert set(mutated.stacks[UNMUTATED]) == {"RedundantDb-unmutated-Network",
                                              "RedundantDb-unmutated-Database"}


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_mutation_is_refused(mutation: Mutation, mutated: Mutated) -> None:
    failed = mutated.failed(mutation.name)
    assert mutation.rule in failed.get("Redundancy", set()), (mutation.name, failed)
    views = mutated.views(mutation.name, mutation.rule)
    assert "template" in views, mutation.name
    if mutation.invisible_to_cdk_nag:
        # The point of the template view: the construct tree (what cdk-nag reads) looks fine.
        assert views == {"template"}, mutation.name


def test_every_mutation_is_refused_on_a_promoted_topology(mutated: Mutated) -> None:
    """The same escape hatches, all on one copy of env local whose replica-1 is promoted: the
    promoted writer carries no StorageEncrypted of its own, and the gate still refuses each one
    with its rule; the writer's rules name the promoted writer."""
    assert {m.rule for m in MUTATIONS} <= mutated.failed(PROMOTED).get("Redundancy", set())
    writer = f"RedundantDb-{PROMOTED}-Database/Database/Replica1/Instance/Resource"
    failed_on_writer = {e.rule.id for e in policy_of(mutated.app).evaluations
                        if e.resource.path == writer and e.compliance.value == "non_compliant"}
    assert {"Redundancy-StorageEncryptedCMK", "Redundancy-BackupRetention",
            "Redundancy-DeletionProtection", "Redundancy-NoPlaintextPassword",
            "Redundancy-NotPublic", "Redundancy-PrimaryHasReplica"} <= failed_on_writer


def test_unmutated_promoted_topology_passes(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Env local with replica-1 promoted, declared in a topology file of the test's own."""
    from app import build_app

    topology = tmp_path / "topology.json"
    topology.write_text(json.dumps({"local": {"promotions": [
        {"writer": "local-postgres-replica-1", "region": "us-east-1"}]}}))
    monkeypatch.setenv(TOPOLOGY_FILE_VARIABLE, str(topology))
    app, stacks = build_app("local", outdir=str(tmp_path / "cdk.out"))
    assert stacks.config.layout.writer.identifier == "local-postgres-replica-1"
    app.synth()
    assert not _failed_rules(_report(tmp_path / "cdk.out"))


@pytest.mark.parametrize("mutation", DR_MUTATIONS, ids=lambda m: m.name)
def test_disaster_recovery_mutation_is_refused(mutation: Mutation, mutated: Mutated) -> None:
    assert mutated.stacks[mutated.envs[mutation.name]] >= {
        f"RedundantDb-{mutated.envs[mutation.name]}-DrReplica"}
    failed = mutated.failed(mutation.name)
    assert mutation.rule in failed.get("Redundancy", set()), (mutation.name, failed)


def test_unmutated_app_passes(cdk_out: dict[str, Path]) -> None:
    """Env local as configured, synthesized through the gate by the session: nothing fails."""
    assert not _failed_rules(_report(cdk_out["local"]))


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
