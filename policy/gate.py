"""Put the policy gate on an App: the four cdk-nag packs, our Redundancy rules, and the
acknowledgments of the register. Called by `app.build_app` for every synth."""

from __future__ import annotations

import re
from typing import cast

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks
from constructs import IConstruct, Node

from cloud_assembly import engines, rds
from config import DatabaseConfig
from policy.acknowledgments import (
    DISABLED_CONTROL_TOWER_RULES,
    Acknowledgment,
    acknowledgments_for,
    scanner_metadata,
    scanner_skips_for,
)
from policy.model import AlarmPromise, InstancePromise, PolicySettings
from policy.plugin import RedundancyPolicy
from policy.rules.escape_hatch import RULE_ID as CROSS_VIEW_RULE
from policy.views import is_a
from stacks import EnvironmentStacks

_ATTRIBUTE = "_redundancy_policy"  # the plugin registered on an App, set on its Python object


class AcknowledgmentError(ValueError):
    """An acknowledgment names a construct that does not exist or is not one resource, or a
    finding of our own rules that is not one intended difference of one property."""


# Our own findings are never acknowledged, except one escape hatch kept on purpose: one
# property (or attribute) of one construct that the template sets differently from the tree.
_ACKNOWLEDGEABLE_OWN = re.compile(
    rf"^Redundancy::{re.escape(CROSS_VIEW_RULE)}\[(Property|Attribute)::[^\[\]]+\]$")


def check_finding(ack: Acknowledgment) -> None:
    """Refuse an acknowledgment of a Redundancy finding other than one granular cross-view
    finding."""
    if ack.finding.startswith("Redundancy") and not _ACKNOWLEDGEABLE_OWN.match(ack.finding):
        raise AcknowledgmentError(
            f"acknowledgment {ack.finding!r} at {ack.path}: Redundancy rules are never "
            f"acknowledged, except one property an escape hatch changes on purpose: "
            f"'Redundancy::{CROSS_VIEW_RULE}[Property::<name>]'")


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


def policy_settings(cfg: DatabaseConfig,
                    inherited_encryption: tuple[tuple[str, str], ...] = ()) -> PolicySettings:
    """What the rules hold one environment's stacks to: its config, as plain data. The DB
    instances are those of the declared topology (config/topology.json): its writer, its
    replicas and its cross-region replica; `inherited_encryption`: the promoted writer's
    lineage (`EnvironmentStacks.inherited_encryption`)."""
    layout = cfg.layout
    lifecycle = None if not engines.offers_extended_support(cfg.engine) else (
        engines.EXTENDED_SUPPORT if cfg.extended_support else engines.STANDARD_SUPPORT_ONLY)

    def instance(identifier: str, *, replica: bool, version: str | None = None,
                 detached: bool = False) -> InstancePromise:
        keeps_backups = not replica or cfg.engine in rds.REPLICA_BACKUP_ENGINES
        return InstancePromise(
            identifier=identifier, replica=replica, port=cfg.port,
            multi_az=cfg.multi_az, monitoring_interval=cfg.monitoring_interval_seconds,
            log_exports=tuple(cfg.log_exports),
            backup_retention_days=cfg.backup_retention_days if keeps_backups else None,
            performance_insights=cfg.performance_insights_supported,
            engine_version=version or ((cfg.replica_engine_version or cfg.engine_version)
                                       if replica else cfg.engine_version),
            lifecycle_support=lifecycle, detached=detached)

    a = cfg.alarms
    free_storage_bytes = cfg.allocated_storage_gib * 2**30 * a.free_storage_percent // 100
    return PolicySettings(
        environment=cfg.name,
        min_backup_retention_days=cfg.backup_retention_days,
        dr_region=layout.standby_region,
        instances=(instance(layout.writer.identifier, replica=False),
                   *(instance(m.identifier, replica=True)
                     for m in (*layout.replicas, *((layout.standby,) if layout.standby
                                                   else ()))),
                   *((instance(layout.detached.identifier, replica=False, detached=True,
                               version=layout.detached.engine_version),)
                     if layout.detached else ())),
        replica_count=cfg.replica_count,
        log_retention_days=cfg.log_retention_days,
        secret_rotation_days=cfg.secret_rotation_days,
        alarms=(AlarmPromise("CPUUtilization", a.cpu_percent, above=True),
                AlarmPromise("FreeStorageSpace", free_storage_bytes, above=False),
                AlarmPromise("DatabaseConnections", a.connections, above=True),
                AlarmPromise("ReplicaLag", a.replica_lag_seconds, above=True)),
        inherited_encryption=inherited_encryption,
        engine=cfg.engine,
        extended_support_reason=cfg.extended_support.reason if cfg.extended_support else None,
    )


def redundancy_rules_only(app: cdk.App) -> RedundancyPolicy:
    """Put the Redundancy rules on `app` without cdk-nag's four packs: `apply_gate` then
    registers each environment's stacks and acknowledgments with these rules alone.

    For an app of many mutated copies whose tests read the Redundancy rules' findings alone
    (the packs are about half the CPU of its synthesis). `app.build_app`, which every synth of
    the app goes through, never calls it. Raises `ValueError` when a gate is already on `app`.
    """
    if getattr(app, _ATTRIBUTE, None) is not None:
        raise ValueError("redundancy_rules_only: the policy gate is already on this app; call "
                         "it on a new App, before apply_gate")
    plugin = RedundancyPolicy()
    _register(app, plugin, [plugin])
    return plugin


def _register(app: cdk.App, plugin: RedundancyPolicy,
              plugins: list[cdk.IPolicyValidationPlugin]) -> None:
    """Register `plugins` (`plugin` among them) on `app`, once per App."""
    cdk.Validations.of(app).add_plugins(*plugins)
    setattr(app, _ATTRIBUTE, plugin)


def apply_gate(app: cdk.App, stacks: EnvironmentStacks, *,
               control_tower: bool = False) -> RedundancyPolicy:
    """Register the packs once per App (unless `redundancy_rules_only` put the Redundancy
    rules alone on it) and this environment's stacks and acknowledgments.

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

            # jsii's stubs type it as the Beta1 plugin interface, which add_plugins takes too.
            packs.append(CfnGuardValidator(  # type: ignore[arg-type]
                control_tower_rules_enabled=True,
                disabled_rules=sorted(DISABLED_CONTROL_TOWER_RULES)))
        _register(app, plugin, packs)
    settings = policy_settings(stacks.config, tuple(stacks.inherited_encryption.items()))
    for stack in stacks.all:
        plugin.register_stack(stack.node.path, settings)
    by_path: dict[str, list[cdk.Acknowledgment]] = {}
    for ack in acknowledgments_for(stacks):
        check_finding(ack)
        by_path.setdefault(ack.path, []).append(cdk.Acknowledgment(id=ack.finding,
                                                                   reason=ack.reason))
    found: dict[str, tuple[IConstruct, Node]] = {}
    for path, acks in by_path.items():  # one call per construct: each call is a round trip
        cdk.Validations.of(_find(app, path, found)).acknowledge(*acks)
    # The scanners platform teams run over the templates read their suppressions there.
    for path, metadata in scanner_metadata(scanner_skips_for(stacks)).items():
        resource = cast(cdk.CfnResource, _find(app, path, found))
        for key, value in metadata.items():
            resource.add_metadata(key, value)
    return plugin


def policy_of(app: cdk.App) -> RedundancyPolicy:
    """The Redundancy plugin registered on `app` (its evaluations feed the compliance report)."""
    plugin: RedundancyPolicy | None = getattr(app, _ATTRIBUTE, None)
    if plugin is None:
        raise LookupError("the policy gate is not applied to this app")
    return plugin
