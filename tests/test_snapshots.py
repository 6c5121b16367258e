"""Snapshot tripwire: every stack of every environment, normalized (review.normalize).

A failure here means the synthesized CloudFormation changed. Read the diff; if the change is
intended, run `make snapshot-update` and commit the rewritten files with the code. Whether the
change loses data is the data-loss guard's call (tests/test_data_loss_guard.py), not this test's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

import config
from config.naming import stack_name
from review.normalize import ASSET_HASH_MASK, dumps, normalize
from review.snapshot_extension import CloudFormationSnapshotExtension
from review.snapshots import snapshot_path

# The stacks of an environment in its original topology: these in its region, and these in its
# DR region when it has one (stacks.build_stacks).
REGION_STACKS = ("Network", "Database")
DR_REGION_STACKS = ("DrNetwork", "DrFoundation", "DrReplica")


def _stacks() -> list[tuple[str, str]]:
    """(env, stack name) of every stack of every environment, from the config alone: no app is
    built at collection, where every xdist worker would pay for it. What the app synthesizes is
    held to this list (`test_every_synthesized_stack_has_a_snapshot_test`): a new stack fails
    there until its role is listed above, and then gets its snapshot test."""
    return [(env, stack_name(env, role)) for env, cfg in config.ENVIRONMENTS.items()
            for role in REGION_STACKS + (DR_REGION_STACKS if cfg.dr_region else ())]


STACKS = _stacks()


@pytest.fixture
def cfn_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(CloudFormationSnapshotExtension)


@pytest.mark.parametrize(("env", "stack"), STACKS, ids=[stack for _, stack in STACKS])
def test_stack_template(templates: dict[str, dict[str, Any]], cfn_snapshot: SnapshotAssertion,
                        env: str, stack: str) -> None:
    assert templates[env][stack] == cfn_snapshot


def test_every_synthesized_stack_has_a_snapshot_test(
        templates: dict[str, dict[str, Any]]) -> None:
    synthesized = {(env, stack) for env, stacks in templates.items() for stack in stacks}
    assert synthesized == set(STACKS), (
        f"synthesized but not listed: {sorted(synthesized - set(STACKS))}; listed but not "
        f"synthesized: {sorted(set(STACKS) - synthesized)} (REGION_STACKS, DR_REGION_STACKS)")


def test_snapshot_files_are_where_the_guard_reads_them() -> None:
    """The guard finds baselines by path; the files syrupy writes must be those paths."""
    missing = [stack for _, stack in STACKS if not snapshot_path(stack=stack).exists()]
    assert not missing, f"no snapshot file for {missing}: run `make snapshot-update`"


def test_normalize_drops_toolkit_noise_and_masks_asset_hashes() -> None:
    digest = "0123456789abcdef" * 4
    raw = {
        "Parameters": {"BootstrapVersion": {"Type": "AWS::SSM::Parameter::Value<String>"},
                       "Size": {"Type": "Number"}},
        "Rules": {"CheckBootstrapVersion": {"Assertions": []}},
        "Conditions": {"CDKMetadataAvailable": {"Fn::Equals": ["a", "a"]}},
        "Resources": {
            "CDKMetadata": {"Type": "AWS::CDK::Metadata",
                            "Properties": {"Analytics": "v2:deflate64:abc"}},
            "Fn": {"Type": "AWS::Lambda::Function",
                   "Metadata": {"aws:cdk:path": "S/Fn", "aws:asset:path": "asset.x",
                                "cfn_nag": {"rules_to_suppress": []}},
                   "Properties": {"Code": {"S3Key": f"{digest}.zip"}, "Timeout": 30}},
        },
    }
    normalized = normalize(raw)
    assert normalized == {
        "Parameters": {"Size": {"Type": "Number"}},
        "Resources": {"Fn": {"Type": "AWS::Lambda::Function",
                             "Metadata": {"cfn_nag": {"rules_to_suppress": []}},
                             "Properties": {"Code": {"S3Key": f"{ASSET_HASH_MASK}.zip"},
                                            "Timeout": 30}}},
    }
    assert normalize(normalized) == normalized, "normalizing twice must change nothing"
    assert "BootstrapVersion" in raw["Parameters"], "normalize must not mutate its input"


def test_snapshot_text_has_sorted_keys_whatever_the_insertion_order() -> None:
    one = {"Resources": {"B": {"Type": "T", "Properties": {"y": 1, "x": [3, 1]}},
                         "A": {"Type": "T"}}}
    two = {"Resources": {"A": {"Type": "T"},
                         "B": {"Properties": {"x": [3, 1], "y": 1}, "Type": "T"}}}
    assert dumps(one) == dumps(two)
    assert list(json.loads(dumps(one))["Resources"]) == ["A", "B"]
