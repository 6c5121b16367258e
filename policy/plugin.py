"""The Redundancy policy as a CDK validation plugin, run by every `app.synth()`.

CDK calls `validate` after the templates are written. The plugin evaluates every rule twice:
on the construct tree (L1 properties, as cdk-nag sees them) and on the synthesized templates
(what CloudFormation will actually receive, escape hatches included). A finding from either view
fails the synthesis; its message names the rule, the environment, the view(s) and the detail,
and CDK maps it to the construct path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from constructs import IConstruct

from policy.model import Compliance, PolicySettings, Resource, Result, Rule, StackView
from policy.rules import ALL_RULES

VERSION = "1.0.0"
_POLICY_NAMES = {
    "DELETE": "Delete", "RETAIN": "Retain", "SNAPSHOT": "Snapshot",
    "RETAIN_EXCEPT_ON_CREATE": "RetainExceptOnCreate",
}
# The construct-tree view is only built for types the rules read, to keep the gate cheap.
_RELEVANT_TYPES = frozenset({
    "AWS::RDS::DBInstance", "AWS::RDS::DBSubnetGroup", "AWS::RDS::DBParameterGroup",
    "AWS::KMS::Key", "AWS::SecretsManager::Secret", "AWS::SecretsManager::RotationSchedule",
    "AWS::SecretsManager::SecretTargetAttachment", "AWS::Backup::BackupPlan",
    "AWS::Backup::BackupSelection", "AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress",
    "AWS::EC2::Subnet", "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::Route",
    "AWS::EC2::RouteTable",
})


@dataclass(frozen=True)
class Evaluation:
    """One rule on one resource in one view ('template' or 'construct tree')."""

    rule: Rule
    stack: str
    environment: str
    resource: Resource
    view: str
    result: Result

    @property
    def compliance(self) -> Compliance:
        return self.result.compliance


def _policy(value: Any) -> str | None:
    if value is None:
        return None
    name = getattr(value, "name", None) or str(value).rsplit(".", 1)[-1]
    return _POLICY_NAMES.get(name, name)


def template_view(name: str, template: dict[str, Any], settings: PolicySettings,
                  region: str | None = None) -> StackView:
    resources = {
        logical_id: Resource(
            logical_id=logical_id,
            type=body.get("Type", ""),
            properties=body.get("Properties", {}) or {},
            deletion_policy=body.get("DeletionPolicy"),
            update_replace_policy=body.get("UpdateReplacePolicy"),
            path=body.get("Metadata", {}).get("aws:cdk:path", logical_id),
        )
        for logical_id, body in template.get("Resources", {}).items()
    }
    return StackView(name=name, resources=resources, settings=settings,
                     outputs=template.get("Outputs", {}), region=region)


_TYPE_OF_CLASS: dict[type, str] = {}  # L1 class -> its CloudFormation type, asked once per class


def _resource_type(node: cdk.CfnResource) -> str:
    """`node.cfn_resource_type` without a call into Node for every resource: a generated L1
    class names its type once (CFN_RESOURCE_TYPE_NAME); a raw `CfnResource` is asked."""
    cls = type(node)
    if cls is cdk.CfnResource:
        return node.cfn_resource_type
    if cls not in _TYPE_OF_CLASS:
        _TYPE_OF_CLASS[cls] = getattr(cls, "CFN_RESOURCE_TYPE_NAME", None) or node.cfn_resource_type
    return _TYPE_OF_CLASS[cls]


def _own_constructs(stack: cdk.Stack) -> list[IConstruct]:
    """The constructs of `stack`, not those of a nested stack. Every call into Node costs a round
    trip, so the tree is read in one call and a path is asked only when a nested stack exists."""
    nodes = stack.node.find_all()
    nested = [n.node.path + "/" for n in nodes[1:] if isinstance(n, cdk.Stack)]
    if not nested:
        return nodes
    return [n for n in nodes if not any(n.node.path.startswith(p) or n.node.path + "/" == p
                                        for p in nested)]


def construct_view(stack: cdk.Stack, settings: PolicySettings,
                   paths: dict[str, str] | None = None) -> StackView:
    """The stack's L1 resources as cdk-nag sees them: typed properties, no raw overrides.

    `paths` ({logical id: construct path}, from the template's metadata) saves asking Node for
    each resource's path; a resource missing from it is asked. Each property read is a round
    trip to Node, so the logical ids and property bags of all resources resolve in one call.
    """
    nodes: list[tuple[cdk.CfnResource, str]] = []
    output_nodes: list[cdk.CfnOutput] = []
    for node in _own_constructs(stack):
        if isinstance(node, cdk.CfnResource):
            resource_type = _resource_type(node)
            if resource_type in _RELEVANT_TYPES:
                nodes.append((node, resource_type))
        elif isinstance(node, cdk.CfnOutput):
            output_nodes.append(node)
    # The removal policies resolve with the rest: read one by one through jsii's interface
    # proxy, each would cost two round trips.
    resolved = stack.resolve({
        "resources": [{"id": node.logical_id, "props": node._cfn_properties,
                       "options": node.cfn_options} for node, _ in nodes],
        "outputs": [{"id": node.logical_id, "value": node.value} for node in output_nodes],
    }) or {}
    resources: dict[str, Resource] = {}
    for (node, resource_type), entry in zip(nodes, resolved["resources"], strict=True):
        logical_id = entry["id"]
        options = entry.get("options") or {}
        resources[logical_id] = Resource(
            logical_id=logical_id,
            type=resource_type,
            properties=node._render_properties(entry.get("props") or {}) or {},
            deletion_policy=_policy(options.get("deletionPolicy")),
            update_replace_policy=_policy(options.get("updateReplacePolicy")),
            path=(paths or {}).get(logical_id) or node.node.path,
        )
    outputs = {entry["id"]: {"Value": entry.get("value")} for entry in resolved["outputs"]}
    return StackView(name=stack.stack_name, resources=resources, settings=settings,
                     outputs=outputs, region=_region(stack))


def _region(stack: cdk.Stack) -> str | None:
    return None if cdk.Token.is_unresolved(stack.region) else stack.region


def link(views: Iterable[StackView]) -> dict[str, StackView]:
    app = {view.name: view for view in views}
    for view in app.values():
        view.app = app
    return app


def evaluate(app: dict[str, StackView], view_name: str,
             rules: Iterable[Rule] = ALL_RULES) -> list[Evaluation]:
    rules = tuple(rules)
    out = []
    for stack in app.values():
        for resource in stack.resources.values():
            for rule in rules:
                if resource.type in rule.resource_types:
                    out.append(Evaluation(rule, stack.name, stack.settings.environment,
                                          resource, view_name, rule.evaluate(resource, stack)))
    return out


@jsii.implements(cdk.IPolicyValidationPlugin)
class RedundancyPolicy:
    """Our own pack, registered beside the cdk-nag packs by `policy.gate.apply_gate`."""

    def __init__(self) -> None:
        self._settings: dict[str, PolicySettings] = {}
        self.evaluations: list[Evaluation] = []

    @property
    def name(self) -> str:
        return "Redundancy"

    @property
    def version(self) -> str:
        return VERSION

    @property
    def rule_ids(self) -> list[str]:
        return [rule.id for rule in ALL_RULES]

    def register_stack(self, construct_path: str, settings: PolicySettings) -> None:
        self._settings[construct_path] = settings

    def _stacks(self, app_construct: IConstruct) -> list[cdk.Stack]:
        return [node for node in app_construct.node.find_all()
                if isinstance(node, cdk.Stack) and node.node.path in self._settings]

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        stacks = {stack.node.path: stack for stack in self._stacks(context.app_construct)}
        names = {path: stack.stack_name for path, stack in stacks.items()}
        template_paths: dict[str, str] = {}
        templates: dict[str, dict[str, Any]] = {}
        for entry in context.stack_templates:
            path = entry.stack_construct_path
            if path not in stacks:
                continue
            template_paths[names[path]] = entry.template_path
            templates[path] = json.loads(Path(entry.template_path).read_text())
        final = link(template_view(names[path], template, self._settings[path])
                     for path, template in templates.items())
        tree = link(construct_view(stack, self._settings[path], _construct_paths(
            templates.get(path, {}))) for path, stack in stacks.items())
        self.evaluations = evaluate(tree, "construct tree") + evaluate(final, "template")
        return cdk.PolicyValidationPluginReport(
            success=not any(e.compliance is Compliance.NON_COMPLIANT for e in self.evaluations),
            violations=_violations(self.evaluations, template_paths),
        )


def _construct_paths(template: dict[str, Any]) -> dict[str, str]:
    """{logical id: construct path} from the template's `aws:cdk:path` metadata."""
    return {logical_id: body["Metadata"]["aws:cdk:path"]
            for logical_id, body in template.get("Resources", {}).items()
            if "aws:cdk:path" in (body.get("Metadata") or {})}


def _violations(evaluations: list[Evaluation],
                template_paths: dict[str, str]) -> list[cdk.PolicyViolation]:
    """One violation per rule, one violating resource per (stack, logical id), each view named."""
    failed: dict[tuple[str, str, str], list[Evaluation]] = {}
    for e in evaluations:
        if e.compliance is Compliance.NON_COMPLIANT:
            failed.setdefault((e.rule.id, e.stack, e.resource.logical_id), []).append(e)
    by_rule: dict[str, list[list[Evaluation]]] = {}
    for (rule_id, _, _), group in failed.items():
        by_rule.setdefault(rule_id, []).append(group)
    violations = []
    for rule_id, groups in by_rule.items():
        rule = groups[0][0].rule
        details = []
        resources = []
        for group in groups:
            first = group[0]
            views = " and ".join(sorted({e.view for e in group}))
            details.append(f"[env={first.environment}] {first.resource.path}: "
                           f"{first.result.detail} (seen in the {views})")
            if first.stack in template_paths:
                resources.append(cdk.PolicyViolatingResource(
                    resource_logical_id=first.resource.logical_id,
                    template_path=template_paths[first.stack],
                    locations=[first.result.detail]))
        violations.append(cdk.PolicyViolation(
            rule_name=rule_id,
            description=f"{rule.info} " + "; ".join(details),
            fix=rule.explanation,
            severity="error",
            violating_resources=resources,
        ))
    return violations
