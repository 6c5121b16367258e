"""The construct view is read from the tree CDK writes (policy.views), not asked of Node
property by property. It must equal the reference that asks Node (`construct_view_via_jsii`) on
every environment and after every raw override of the mutation suite, and the gate must still
see the construct tree when there is no usable tree.json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import config
from app import build_app, cdk_context
from cloud_assembly import CloudAssembly
from cloud_assembly.template import Resource
from policy.gate import policy_of
from policy.model import PolicySettings, StackView, is_replica
from policy.rules import ALL_RULES
from policy.views import construct_views, is_a, spelt_like
from stacks import EnvironmentStacks
from tests.conftest import ENVS, Synthesized
from tests.fixtures.mutations import DR_MUTATIONS, MUTATIONS
from tests.helpers import (
    add_gated,
    assert_same_views,
    both_views,
    redundancy_only_app,
    refs,
    without_dr_region,
)


@pytest.mark.parametrize("env", ENVS)
def test_tree_view_equals_asking_node(environments: dict[str, Synthesized], env: str) -> None:
    fast, reference = both_views(environments[env].app)
    assert sum(len(v.resources) for v in fast or []) > 10
    assert_same_views(fast, reference)


@dataclass(frozen=True)
class Escaped:
    """One app, synthesized once through the gate's Redundancy rules, of copies under escape
    hatches: `raw`, env local in its primary region with every raw override of the mutation
    suite (deletions included); `dr`, env local with its DR region and every DR override; and
    `removal`, env dev whose flow log group the template no longer retains."""

    app: cdk.App
    raw: EnvironmentStacks
    removal: EnvironmentStacks
    flow_log_group: cdk.CfnResource
    views: tuple[list[StackView] | None, list[StackView]]  # (read from the tree, Node's)


@pytest.fixture(scope="module")
def escaped(tmp_path_factory: pytest.TempPathFactory) -> Escaped:
    app = redundancy_only_app(tmp_path_factory.mktemp("escaped"))
    local = config.ENVIRONMENTS["local"]
    raw = add_gated(app, without_dr_region(local, name="raw"))
    for mutation in MUTATIONS:
        if mutation.invisible_to_cdk_nag:
            mutation.apply(raw)
    dr = add_gated(app, config.validate(dataclasses.replace(local, name="dr")))
    for mutation in DR_MUTATIONS:
        mutation.apply(dr)
    removal = add_gated(app, config.validate(dataclasses.replace(config.ENVIRONMENTS["dev"],
                                                                 name="removal")))
    group = removal.network.network.flow_log_group.node.default_child
    assert isinstance(group, cdk.CfnResource)
    group.add_override("DeletionPolicy", "Delete")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    return Escaped(app, raw, removal, group, both_views(app))


def test_tree_view_equals_asking_node_after_escape_hatches(escaped: Escaped) -> None:
    """Every raw override of the mutation suite, those of the primary region on env local's
    stacks there and those of the DR region on its DR stacks, deletions included: a key the
    template lost is spelt by Node, the rest read from the tree."""
    fast, reference = escaped.views
    assert {v.name for v in reference} >= {"RedundantDb-raw-Database", "RedundantDb-dr-DrReplica"}
    assert_same_views(fast, reference)


def test_a_deleted_property_stays_in_the_construct_view(escaped: Escaped) -> None:
    stacks = escaped.raw
    replica = stacks.database.database.replicas[0].instance.node.default_child
    fast, _ = escaped.views
    database = next(v for v in fast or [] if v.name == stacks.database.stack_name)
    seen = database.resources[stacks.database.resolve(replica.logical_id)]
    primary = stacks.database.database.primary.instance.node.default_child
    assert is_replica(seen)
    assert refs(seen.prop("SourceDBInstanceIdentifier")) == {
        stacks.database.resolve(primary.logical_id)}


def _construct_tree_verdicts(app: cdk.App) -> list[tuple[str, str, str, str]]:
    return sorted((e.rule.id, e.stack, e.resource.logical_id, e.compliance.value)
                  for e in policy_of(app).evaluations if e.view == "construct tree")


@pytest.mark.parametrize("props", [{"tree_metadata": False},
                                   {"context": {"@aws-cdk/core.TreeMetadata:maxNodes": 50}}],
                         ids=["tree metadata off", "tree split into fragments"])
def test_without_a_usable_tree_node_is_asked(props: dict[str, Any], tmp_path: Path,
                                             environments: dict[str, Synthesized]) -> None:
    context = {**cdk_context(), **props.pop("context", {})}
    app = cdk.App(outdir=str(tmp_path), context=context, analytics_reporting=False,
                  builtin_cloud_formation_validation=False, **props)
    build_app("dev", app=app)
    app.synth()
    assert CloudAssembly.load(tmp_path).tree() is None
    assert both_views(app)[0] is None
    verdicts = _construct_tree_verdicts(app)
    assert verdicts and verdicts == _construct_tree_verdicts(environments["dev"].app)


@pytest.mark.parametrize(("value", "counterpart", "expected"), [
    ({"dbSubnetGroupName": "g", "kmsKeyId": "k"}, {"DBSubnetGroupName": "x", "KmsKeyId": "y"},
     {"DBSubnetGroupName": "g", "KmsKeyId": "k"}),
    ({"parameters": {"require_secure_transport": "ON"}},
     {"Parameters": {"require_secure_transport": "OFF"}},
     {"Parameters": {"require_secure_transport": "ON"}}),
    ({"securityGroupIngress": [{"cidrIp": "10.0.0.0/8"}]},
     {"SecurityGroupIngress": [{"CidrIp": "0.0.0.0/0"}]},
     {"SecurityGroupIngress": [{"CidrIp": "10.0.0.0/8"}]}),
    ({"kmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}, {"KmsKeyId": {"Fn::GetAtt": ["K", "Arn"]}},
     {"KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}),
    ({"enableCloudwatchLogsExports": ["audit", "error"]}, {"EnableCloudwatchLogsExports": []},
     {"EnableCloudwatchLogsExports": ["audit", "error"]}),
], ids=["acronyms", "map keys", "list of structs", "intrinsic", "list of scalars"])
def test_keys_are_spelt_like_the_template(value: Any, counterpart: Any, expected: Any) -> None:
    assert spelt_like(value, counterpart) == (expected, True)


@pytest.mark.parametrize(("value", "counterpart"), [
    ({"sourceDbInstanceIdentifier": "p"}, {}),
    ({"securityGroupIngress": [{"cidrIp": "a"}, {"cidrIp": "b"}]},
     {"SecurityGroupIngress": [{"CidrIp": "a"}]}),
    ({"kmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}, {"KmsKeyId": "alias/aws/rds"}),
    ({"storageEncrypted": True}, {"StorageEncrypted": True, "storageEncrypted": False}),
], ids=["key deleted", "list entry added", "struct replaced by a literal",
        "keys differing only in case"])
def test_a_key_without_counterpart_is_left_to_node(value: Any, counterpart: Any) -> None:
    assert spelt_like(value, counterpart) == (value, False)


class _Watched(Resource):
    """A resource that records whether a rule read its removal policies."""

    read: set[str]

    def __getattribute__(self, name: str) -> Any:
        if name in ("deletion_policy", "update_replace_policy"):
            object.__getattribute__(self, "read").add(name)
        return object.__getattribute__(self, name)


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_a_rule_reading_removal_policies_says_so(rule: Any,
                                                 environments: dict[str, Synthesized]) -> None:
    """The construct view asks Node for removal policies only on POLICY_TYPES."""
    reads = False
    for env in ("local", "prod"):
        for stack in environments[env].stacks.all:
            template = environments[env].templates[stack.stack_name]
            view = StackView(name=stack.stack_name, resources={})
            for logical_id, body in template["Resources"].items():
                if body["Type"] not in rule.resource_types:
                    continue
                watched = _Watched(logical_id, body["Type"], body.get("Properties", {}),
                                   body.get("DeletionPolicy"), body.get("UpdateReplacePolicy"))
                object.__setattr__(watched, "read", set())
                rule.evaluate(watched, view)
                reads = reads or bool(watched.read)
    assert reads == rule.reads_removal_policies


def test_a_registered_stack_without_template_fails_the_gate(tmp_path: Path) -> None:
    """A stack the gate was told to check but cannot find is an error, never a silent skip."""
    from aws_cdk import aws_sns as sns

    from policy.plugin import RedundancyPolicy

    app = cdk.App(outdir=str(tmp_path), analytics_reporting=False,
                  builtin_cloud_formation_validation=False)
    sns.CfnTopic(cdk.Stack(app, "S"), "Topic")
    plugin = RedundancyPolicy()
    for path in ("S", "NoSuchStack"):
        plugin.register_stack(path, PolicySettings(environment="test"))
    cdk.Validations.of(app).add_plugins(plugin)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "no template for registered stack(s) NoSuchStack" in report


def test_the_class_check_agrees_with_isinstance_on_every_construct(
        environments: dict[str, Synthesized]) -> None:
    nodes = environments["local"].app.node.find_all()
    for cls in (cdk.Stack, cdk.CfnResource, cdk.CfnOutput):
        assert [is_a(n, cls) for n in nodes] == [isinstance(n, cls) for n in nodes]
    assert sum(is_a(n, cdk.Stack) for n in nodes) == 5
    assert any(is_a(n, cdk.CfnResource) for n in nodes)


@pytest.mark.parametrize("tree_metadata", [True, False], ids=["tree", "no tree"])
def test_the_gate_follows_exports_under_cdks_default_strong_references(
        tree_metadata: bool, tmp_path: Path) -> None:
    """This app uses weak references (cdk.json); an app that keeps CDK's default wires its
    stacks with exports and Fn::ImportValue, and the gate must follow those too, in both views
    and whichever way the construct view is built."""
    context = {k: v for k, v in cdk_context().items()
               if k != "@aws-cdk/core:defaultCrossStackReferences"}
    app, stacks = build_app("dev", app=cdk.App(outdir=str(tmp_path), context=context,
                                                analytics_reporting=False,
                                                tree_metadata=tree_metadata,
                                                builtin_cloud_formation_validation=False))
    assembly = app.synth()  # raises ValidationFailed if a rule cannot follow an import
    template = assembly.get_stack_by_name(stacks.database.stack_name).template
    groups = [r for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBSubnetGroup"]
    assert groups and all("Fn::ImportValue" in subnet
                          for g in groups for subnet in g["Properties"]["SubnetIds"])
    isolated = [e for e in policy_of(app).evaluations if e.rule.id == "Redundancy-IsolatedSubnets"]
    assert {e.view for e in isolated} == {"template", "construct tree"}
    assert all(e.compliance.value == "compliant" for e in isolated)
    if tree_metadata:
        assert_same_views(*both_views(app))


@pytest.mark.parametrize("env", ENVS)
def test_the_construct_view_holds_every_resource_of_the_template(
        environments: dict[str, Synthesized], env: str) -> None:
    """The cross-view check compares every resource, not only those the rules read."""
    app = environments[env].app
    fast = construct_views(app, policy_of(app).synthesized)
    assert fast
    for view in fast:
        assert sorted(view.resources) == sorted(environments[env].templates[view.name]
                                                ["Resources"])


def test_a_removal_policy_the_cross_view_check_compares_is_asked_of_node(
        escaped: Escaped) -> None:
    """A log group is no rule's type, but it holds data: where the template no longer retains
    it, the construct view knows its own policy (Node's answer), so the difference shows."""
    app, stacks = escaped.app, escaped.removal
    fast, reference = escaped.views
    logical_id = stacks.network.resolve(escaped.flow_log_group.logical_id)
    network = stacks.network.stack_name
    seen = next(v for v in fast or [] if v.name == network).resources[logical_id]
    truth = next(v for v in reference if v.name == network).resources[logical_id]
    assert (seen.deletion_policy, seen.update_replace_policy) == ("Retain", "Retain")
    assert (truth.deletion_policy, truth.update_replace_policy) == ("Retain", "Retain")
    failed = {e.finding_id for e in policy_of(app).evaluations
              if e.environment == "removal" and e.compliance.value == "non_compliant"}
    assert failed == {"Redundancy-TemplateMatchesConstructs[Attribute::DeletionPolicy]"}


@pytest.mark.parametrize("escape_hatch", [False, True], ids=["cfn_options", "raw override"])
def test_a_condition_counts_only_where_the_construct_sets_it(escape_hatch: bool,
                                                             tmp_path: Path) -> None:
    """A resource under a condition may never be created: the construct view knows the
    condition its L1 sets (asked of Node only for a resource the template puts under one), so
    only one an escape hatch adds is a difference."""
    from aws_cdk import aws_sns as sns

    from policy.plugin import RedundancyPolicy

    app = cdk.App(outdir=str(tmp_path), analytics_reporting=False,
                  builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "S")
    never = cdk.CfnCondition(stack, "Never", expression=cdk.Fn.condition_equals("a", "b"))
    topic = sns.CfnTopic(stack, "Topic")
    if escape_hatch:
        topic.add_override("Condition", "Never")
    else:
        topic.cfn_options.condition = never
    plugin = RedundancyPolicy()
    plugin.register_stack("S", PolicySettings(environment="test"))
    cdk.Validations.of(app).add_plugins(plugin)
    if escape_hatch:
        with pytest.raises(RuntimeError, match="ValidationFailed"):
            app.synth()
    else:
        app.synth()
    (seen,) = [e for e in plugin.evaluations if e.rule.id == "Redundancy-TemplateMatchesConstructs"]
    assert seen.resource.condition == "Never"
    assert seen.finding_id == ("Redundancy-TemplateMatchesConstructs[Attribute::Condition]"
                               if escape_hatch else "Redundancy-TemplateMatchesConstructs")
