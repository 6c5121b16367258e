"""Put the policy gate on an App: the four cdk-nag packs, our Redundancy rules, and the
acknowledgments of the register. Called by `app.build_app` for every synth."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks
from constructs import IConstruct

from policy.acknowledgments import acknowledgments_for
from policy.model import PolicySettings
from policy.plugin import RedundancyPolicy
from stacks import EnvironmentStacks

_ATTRIBUTE = "_redundancy_policy"  # the plugin registered on an App, set on its Python object


class AcknowledgmentError(ValueError):
    """An acknowledgment names a construct that does not exist or is not one resource."""


def _find(app: cdk.App, path: str) -> IConstruct:
    node: IConstruct = app
    for part in path.split("/"):
        child = node.node.try_find_child(part)
        if child is None:
            raise AcknowledgmentError(f"acknowledgment path {path!r}: no construct {part!r} "
                                      f"under {node.node.path or '<app>'}")
        node = child
    if not isinstance(node, cdk.CfnResource):
        raise AcknowledgmentError(f"acknowledgment path {path!r}: not a single CfnResource")
    return node


def apply_gate(app: cdk.App, stacks: EnvironmentStacks) -> RedundancyPolicy:
    """Register the packs once per App and this environment's stacks and acknowledgments."""
    plugin: RedundancyPolicy | None = getattr(app, _ATTRIBUTE, None)
    if plugin is None:
        plugin = RedundancyPolicy()
        cdk.Validations.of(app).add_plugins(
            AwsSolutionsChecks(app),
            HIPAASecurityChecks(app),
            NIST80053R5Checks(app),
            PCIDSS321Checks(app),
            plugin,
        )
        setattr(app, _ATTRIBUTE, plugin)
    settings = PolicySettings(environment=stacks.config.name,
                              min_backup_retention_days=stacks.config.backup_retention_days)
    for stack in stacks.all:
        plugin.register_stack(stack.node.path, settings)
    for ack in acknowledgments_for(stacks):
        cdk.Validations.of(_find(app, ack.path)).acknowledge(
            cdk.Acknowledgment(id=ack.finding, reason=ack.reason))
    return plugin


def policy_of(app: cdk.App) -> RedundancyPolicy:
    """The Redundancy plugin registered on `app` (its evaluations feed the compliance report)."""
    plugin = getattr(app, _ATTRIBUTE, None)
    if plugin is None:
        raise LookupError("the policy gate is not applied to this app")
    return plugin
