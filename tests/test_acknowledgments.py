"""The acknowledgment register stays honest: every entry silences exactly one real finding on
one resource, with a reason a reviewer can check."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import config
from app import build_app
from policy.acknowledgments import (
    DISABLED_CONTROL_TOWER_RULES,
    Acknowledgment,
    acknowledgments_for,
)
from policy.gate import AcknowledgmentError, _find, check_finding
from policy.rules import RULE_IDS

ENVS = sorted(config.ENVIRONMENTS)
VAGUE = re.compile(r"\b(todo|tbd|fixme|false positive|not needed|n/a|ignore|temporary)\b", re.I)


@functools.cache
def _register(env: str) -> list[Acknowledgment]:
    """The register's entries for `env` (the app is built once per environment)."""
    _, stacks = build_app(env, gate=False)
    return acknowledgments_for(stacks)


def _suppressed(cdk_out: Path) -> set[tuple[str, str]]:
    report = json.loads((cdk_out / "validation-report.json").read_text())
    return {(s["acknowledgedId"], c["constructPath"])
            for p in report["pluginReports"] for s in p.get("suppressedViolations", [])
            if "acknowledgedId" in s for c in s["violatingConstructs"]}


@pytest.mark.parametrize("env", ENVS)
def test_every_acknowledgment_matches_a_finding(env: str, templates: Any,
                                                cdk_out: dict[str, Path]) -> None:
    suppressed = _suppressed(cdk_out[env])
    unmatched = [a for a in _register(env) if (a.finding, a.path) not in suppressed]
    assert not unmatched, f"acknowledgments that match no finding: {unmatched}"


@pytest.mark.parametrize("env", ENVS)
def test_every_suppressed_finding_is_in_the_register(env: str, templates: Any,
                                                     cdk_out: dict[str, Path]) -> None:
    registered = {(a.finding, a.path) for a in _register(env)}
    nag = {s for s in _suppressed(cdk_out[env]) if not s[0].startswith("CloudFormation")}
    assert nag <= registered


@pytest.mark.parametrize("env", ENVS)
def test_entries_are_narrow_and_explained(env: str) -> None:
    app, stacks = build_app(env, gate=False)
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


def test_disabled_control_tower_rules_are_explained() -> None:
    for rule, reason in DISABLED_CONTROL_TOWER_RULES.items():
        assert len(reason) >= 80 and not VAGUE.search(reason), rule


def test_reasons_for_replica_encryption_name_the_proving_rule() -> None:
    for ack in _register("prod"):
        if "StorageEncrypted" in ack.finding or ack.rule == "AwsSolutions-RDS2":
            assert "Redundancy-ReplicaSourceEncrypted" in ack.reason
            for rule_id in re.findall(r"Redundancy-\w+", ack.reason):
                assert rule_id in RULE_IDS


def test_fails_on_a_stack_wide_acknowledgment() -> None:
    app, stacks = build_app("dev", gate=False)
    with pytest.raises(AcknowledgmentError, match="not a single CloudFormation resource"):
        _find(app, stacks.database.node.path)


def test_fails_on_a_path_that_does_not_exist() -> None:
    app, stacks = build_app("dev", gate=False)
    with pytest.raises(AcknowledgmentError, match="no construct 'Replica9'"):
        _find(app, f"{stacks.database.node.path}/Database/Replica9/Instance/Resource")


def test_acknowledgment_is_a_cdk_acknowledgment() -> None:
    ack = _register("dev")[0]
    assert cdk.Acknowledgment(id=ack.finding, reason=ack.reason).id == ack.finding
