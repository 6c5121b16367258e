"""Put the policy gate on an App: the four cdk-nag packs, our Redundancy rules, and the
acknowledgments of the register. Called by `app.build_app` for every synth."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks
from constructs import IConstruct, Node

from policy.acknowledgments import DISABLED_CONTROL_TOWER_RULES, acknowledgments_for
from policy.model import PolicySettings
from policy.plugin import RedundancyPolicy
from policy.views import is_a
from stacks import EnvironmentStacks

_ATTRIBUTE = "_redundancy_policy"  # the plugin registered on an App, set on its Python object


class AcknowledgmentError(ValueError):
    """An acknowledgment names a construct that does not exist or is not one resource."""


def _find(app: cdk.App, path: str,
          found: dict[str, tuple[IConstruct, Node]] | None = None) -> IConstruct:
    """The construct at `path`. `found` remembers the constructs (and their nodes) met on the
    way: each step is a round trip to Node, and the acknowledged paths share their first steps."""
    found = {} if found is None else found
    node, parent = found.get("") or found.setdefault("", (app, app.node))
    walked = ""
    for part in path.split("/"):
        walked = f"{walked}/{part}" if walked else part
        if walked in found:
            node, parent = found[walked]
            continue
        child = parent.try_find_child(part)
        if child is None:
            raise AcknowledgmentError(f"acknowledgment path {path!r}: no construct {part!r} "
                                      f"under {parent.path or '<app>'}")
        node = child
        if walked != path:  # a step on the way: its node is the next parent
            parent = node.node
            found[walked] = (node, parent)
    if not is_a(node, cdk.CfnResource):
        raise AcknowledgmentError(f"acknowledgment path {path!r}: not a single CloudFormation "
                                  "resource")
    return node


def apply_gate(app: cdk.App, stacks: EnvironmentStacks, *,
               control_tower: bool = False) -> RedundancyPolicy:
    """Register the packs once per App and this environment's stacks and acknowledgments.

    `control_tower=True` adds the AWS Control Tower proactive controls (cfn-guard, bundled by
    cdk-validator-cfnguard). It spawns cfn-guard per template (~1 s per environment), so it runs
    in CI (`make synth`) and in one test, not on every developer synth.
    """
    plugin: RedundancyPolicy | None = getattr(app, _ATTRIBUTE, None)
    if plugin is None:
        plugin = RedundancyPolicy()
        packs: list[cdk.IPolicyValidationPlugin] = [
            AwsSolutionsChecks(app),
            HIPAASecurityChecks(app),
            NIST80053R5Checks(app),
            PCIDSS321Checks(app),
            plugin,
        ]
        if control_tower:
            from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

            packs.append(CfnGuardValidator(
                control_tower_rules_enabled=True,
                disabled_rules=sorted(DISABLED_CONTROL_TOWER_RULES)))
        cdk.Validations.of(app).add_plugins(*packs)
        setattr(app, _ATTRIBUTE, plugin)
    settings = PolicySettings(environment=stacks.config.name,
                              min_backup_retention_days=stacks.config.backup_retention_days,
                              dr_region=stacks.config.dr_region)
    for stack in stacks.all:
        plugin.register_stack(stack.node.path, settings)
    by_path: dict[str, list[cdk.Acknowledgment]] = {}
    for ack in acknowledgments_for(stacks):
        by_path.setdefault(ack.path, []).append(cdk.Acknowledgment(id=ack.finding,
                                                                   reason=ack.reason))
    found: dict[str, tuple[IConstruct, Node]] = {}
    for path, acks in by_path.items():  # one call per construct: each call is a round trip
        cdk.Validations.of(_find(app, path, found)).acknowledge(*acks)
    return plugin


def policy_of(app: cdk.App) -> RedundancyPolicy:
    """The Redundancy plugin registered on `app` (its evaluations feed the compliance report)."""
    plugin = getattr(app, _ATTRIBUTE, None)
    if plugin is None:
        raise LookupError("the policy gate is not applied to this app")
    return plugin
