"""The Redundancy policy as a CDK validation plugin, run by every `app.synth()`.

CDK calls `validate` after the cloud assembly is written. The plugin evaluates every rule
twice: on the construct tree (L1 properties, as cdk-nag sees them) and on the synthesized
templates (what CloudFormation will actually receive, escape hatches included); both views are
read from the assembly (policy.views). Then it compares the two views
(`Redundancy-TemplateMatchesConstructs`, evaluated once, in the template view): any property
an escape hatch changed is a finding of its own, so every verdict of the cdk-nag packs, which
read the construct tree, holds for the template. A finding fails the synthesis; its message
names the rule, the environment, the view(s) and the detail, and CDK maps it to the construct
path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import aws_cdk as cdk
import jsii
from constructs import IConstruct

from cloud_assembly import link_stacks
from cloud_assembly.template import Resource
from policy.model import Compliance, PolicySettings, Result, Rule, StackView
from policy.rules import ALL_RULES, CROSS_VIEW_RULES, PER_VIEW_RULES
from policy.views import (
    SynthesizedStack,
    construct_view_via_jsii,
    construct_views,
    synthesized_stacks,
    template_view,
)

VERSION = "1.0.0"


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

    @property
    def finding_id(self) -> str:
        """The rule id, with the granular finding cdk-nag style (`Rule[Property::MultiAZ]`):
        what the violation is reported and acknowledged as."""
        return f"{self.rule.id}[{self.result.finding}]" if self.result.finding else self.rule.id


def evaluate(app: Mapping[str, StackView], view_name: str,
             rules: Iterable[Rule] = PER_VIEW_RULES) -> list[Evaluation]:
    rules = tuple(rules)
    out = []
    for stack in app.values():
        for resource in stack.resources.values():
            for rule in rules:
                if not rule.resource_types or resource.type in rule.resource_types:
                    out += [Evaluation(rule, stack.name, stack.settings.environment, resource,
                                       view_name, result)
                            for result in rule.results(resource, stack)]
    return out


@jsii.implements(cdk.IPolicyValidationPlugin)
class RedundancyPolicy:
    """Our own pack, registered beside the cdk-nag packs by `policy.gate.apply_gate`."""

    def __init__(self) -> None:
        self._settings: dict[str, PolicySettings] = {}
        self.evaluations: list[Evaluation] = []
        self.synthesized: list[SynthesizedStack] = []  # the stacks of the last validate

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

    def _stacks(self, app_construct: IConstruct) -> dict[str, cdk.Stack]:
        return {node.node.path: node for node in app_construct.node.find_all()
                if isinstance(node, cdk.Stack) and node.node.path in self._settings}

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        stacks = self.synthesized = synthesized_stacks(context.template_paths, self._settings)
        final = link_stacks(template_view(stack) for stack in stacks)
        views = construct_views(context.app_construct, stacks)
        if views is None:  # no tree.json: ask Node for everything, stack by stack
            nodes = self._stacks(context.app_construct)
            views = [construct_view_via_jsii(nodes[stack.path], stack) for stack in stacks]
        tree = link_stacks(views)
        for name, stack in final.items():
            stack.constructs = tree.get(name)
        self.evaluations = (evaluate(tree, "construct tree") + evaluate(final, "template")
                            + evaluate(final, "template", CROSS_VIEW_RULES))
        return cdk.PolicyValidationPluginReport(
            success=not any(e.compliance is Compliance.NON_COMPLIANT for e in self.evaluations),
            violations=_violations(self.evaluations,
                                   {stack.name: str(stack.template_path) for stack in stacks}),
        )


def _violations(evaluations: list[Evaluation],
                template_paths: dict[str, str]) -> list[cdk.PolicyViolation]:
    """One violation per finding id (a rule, or one granular finding of it), one violating
    resource per (stack, logical id), each view named."""
    failed: dict[tuple[str, str, str], list[Evaluation]] = {}
    for e in evaluations:
        if e.compliance is Compliance.NON_COMPLIANT:
            failed.setdefault((e.finding_id, e.stack, e.resource.logical_id), []).append(e)
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
