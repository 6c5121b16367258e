"""The acknowledgment register stays honest: every entry silences exactly one real finding on
one resource, with a reason a reviewer can check."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import config
from policy.acknowledgments import (
    DISABLED_CONTROL_TOWER_RULES,
    Acknowledgment,
    ScannerSkip,
    acknowledgments_for,
    scanner_metadata,
    scanner_skips_for,
)
from policy.gate import AcknowledgmentError, _find, check_finding
from policy.rules import RULE_IDS
from tests.conftest import Synthesized

ENVS = sorted(config.ENVIRONMENTS)
VAGUE = re.compile(r"\b(todo|tbd|fixme|false positive|not needed|n/a|ignore|temporary)\b", re.I)


def _register(environments: dict[str, Synthesized], env: str) -> list[Acknowledgment]:
    """The register's entries for `env`, on the session's stacks of it."""
    return acknowledgments_for(environments[env].stacks)


def _suppressed(cdk_out: Path) -> set[tuple[str, str]]:
    report = json.loads((cdk_out / "validation-report.json").read_text())
    return {(s["acknowledgedId"], c["constructPath"])
            for p in report["pluginReports"] for s in p.get("suppressedViolations", [])
            if "acknowledgedId" in s for c in s["violatingConstructs"]}


@pytest.mark.parametrize("env", ENVS)
def test_every_acknowledgment_matches_a_finding(env: str, environments: dict[str, Synthesized],
                                                cdk_out: dict[str, Path]) -> None:
    suppressed = _suppressed(cdk_out[env])
    unmatched = [a for a in _register(environments, env)
                 if (a.finding, a.path) not in suppressed]
    assert not unmatched, f"acknowledgments that match no finding: {unmatched}"


@pytest.mark.parametrize("env", ENVS)
def test_every_suppressed_finding_is_in_the_register(env: str,
                                                     environments: dict[str, Synthesized],
                                                     cdk_out: dict[str, Path]) -> None:
    registered = {(a.finding, a.path) for a in _register(environments, env)}
    nag = {s for s in _suppressed(cdk_out[env]) if not s[0].startswith("CloudFormation")}
    assert nag <= registered


@pytest.mark.parametrize("env", ENVS)
def test_entries_are_narrow_and_explained(env: str, environments: dict[str, Synthesized]) -> None:
    app, stacks = environments[env].app, environments[env].stacks
    entries = acknowledgments_for(stacks)
    assert len({(a.finding, a.path) for a in entries}) == len(entries), "duplicate entry"
    for ack in entries:
        assert "*" not in ack.path and "*" not in ack.finding
        assert isinstance(_find(app, ack.path), cdk.CfnResource), f"{ack.path}: not one resource"
        assert "::" in ack.finding, f"{ack.finding}: must be namespaced to be reported"
        assert len(ack.reason) >= 80, f"{ack.finding}: reason too short to be checked"
        assert not VAGUE.search(ack.reason), f"{ack.finding}: vague reason"
        # Our own rules are never acknowledged, but for one property an escape hatch changes
        # on purpose (Redundancy-TemplateMatchesConstructs[Property::<name>]).
        check_finding(ack)


@pytest.mark.parametrize("env", ENVS)
def test_scanner_skips_are_narrow_exact_and_explained(
        env: str, environments: dict[str, Synthesized]) -> None:
    """One check of one resource each, with ids as the scanners spell them (whether checkov
    still reports each one: tests/test_scanners.py)."""
    app, stacks = environments[env].app, environments[env].stacks
    skips = scanner_skips_for(stacks)
    assert len({(s.checkov, s.path) for s in skips}) == len(skips), "duplicate entry"
    twins: dict[str, str] = {}
    for skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip.checkov), skip.checkov
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", skip.guard), skip.guard
        assert twins.setdefault(skip.checkov, skip.guard) == skip.guard, "one twin per check"
        assert "*" not in skip.path
        assert isinstance(_find(app, skip.path), cdk.CfnResource), f"{skip.path}: not one resource"
        assert len(skip.reason) >= 80, f"{skip.checkov}: reason too short to be checked"
        assert not VAGUE.search(skip.reason), f"{skip.checkov}: vague reason"


def test_scanner_metadata_is_written_as_each_scanner_reads_it() -> None:
    skips = [ScannerSkip("CKV_AWS_16", "RDS_STORAGE_ENCRYPTED", "S/Replica", "why 16"),
             ScannerSkip("CKV_AWS_115", "LAMBDA_CONCURRENCY_CHECK", "S/Handler", "why 115"),
             ScannerSkip("CKV_AWS_116", "LAMBDA_DLQ_CHECK", "S/Handler", "why 116")]
    assert scanner_metadata(skips) == {
        "S/Replica": {"checkov": {"skip": [{"id": "CKV_AWS_16", "comment": "why 16"}]},
                      "guard": {"SuppressedRules": ["RDS_STORAGE_ENCRYPTED"]}},
        "S/Handler": {"checkov": {"skip": [{"id": "CKV_AWS_115", "comment": "why 115"},
                                           {"id": "CKV_AWS_116", "comment": "why 116"}]},
                      "guard": {"SuppressedRules": ["LAMBDA_CONCURRENCY_CHECK",
                                                    "LAMBDA_DLQ_CHECK"]}},
    }


@pytest.mark.parametrize("env", ENVS)
def test_templates_carry_the_register_and_nothing_else(
        env: str, environments: dict[str, Synthesized], templates: Any) -> None:
    """Scanner suppressions come from the register through the gate, never by hand."""
    expected = scanner_metadata(scanner_skips_for(environments[env].stacks))
    found = {body["Metadata"]["aws:cdk:path"]: {k: body["Metadata"][k]
                                                for k in ("checkov", "guard")
                                                if k in body["Metadata"]}
             for template in templates[env].values()
             for body in template["Resources"].values()
             if {"checkov", "guard"} & set(body.get("Metadata") or {})}
    assert found == expected


def test_disabled_control_tower_rules_are_explained() -> None:
    for rule, reason in DISABLED_CONTROL_TOWER_RULES.items():
        assert len(reason) >= 80 and not VAGUE.search(reason), rule


def test_reasons_for_replica_encryption_name_the_proving_rule(
        environments: dict[str, Synthesized]) -> None:
    for ack in _register(environments, "prod"):
        if "StorageEncrypted" in ack.finding or ack.rule == "AwsSolutions-RDS2":
            assert "Redundancy-ReplicaSourceEncrypted" in ack.reason
            for rule_id in re.findall(r"Redundancy-\w+", ack.reason):
                assert rule_id in RULE_IDS


def test_fails_on_a_stack_wide_acknowledgment(environments: dict[str, Synthesized]) -> None:
    app, stacks = environments["dev"].app, environments["dev"].stacks
    with pytest.raises(AcknowledgmentError, match="not a single CloudFormation resource"):
        _find(app, stacks.database.node.path)


def test_fails_on_a_path_that_does_not_exist(environments: dict[str, Synthesized]) -> None:
    app, stacks = environments["dev"].app, environments["dev"].stacks
    with pytest.raises(AcknowledgmentError, match="no construct 'Replica9'"):
        _find(app, f"{stacks.database.node.path}/Database/Replica9/Instance/Resource")


def test_acknowledgment_is_a_cdk_acknowledgment(environments: dict[str, Synthesized]) -> None:
    ack = _register(environments, "dev")[0]
    assert cdk.Acknowledgment(id=ack.finding, reason=ack.reason).id == ack.finding
