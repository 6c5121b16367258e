"""Backups that survive the loss of the region, where the environment has a DR region."""

from __future__ import annotations

from typing import Any

from cloud_assembly.template import Resource, literal_string
from policy.model import (
    COMPLIANT,
    NOT_APPLICABLE,
    Result,
    Rule,
    StackView,
    is_primary,
    non_compliant,
)


def _in_region(value: Any, region: str, stack: StackView) -> bool:
    """True when `value` (a vault or key ARN) names something in `region`: a cross-region
    Fn::GetStackOutput, or a literal ARN of that region, or a resource of a stack there."""
    if isinstance(value, dict) and "Fn::GetStackOutput" in value:
        return bool(value["Fn::GetStackOutput"].get("Region") == region)
    text = literal_string(value)
    if text is not None and f":{region}:" in text:
        return True
    target = stack.target(value)
    return target is not None and stack.stack_of(target).region == region


def _cross_region_copy(resource: Resource, stack: StackView) -> Result:
    region = stack.settings.dr_region
    if region is None:
        return NOT_APPLICABLE
    rules = resource.prop("BackupPlan", {}).get("BackupPlanRule", [])
    if not rules:
        return non_compliant("the plan has no rules")
    for rule in rules:
        copies = rule.get("CopyActions") or []
        if not any(_in_region(c.get("DestinationBackupVaultArn"), region, stack)
                   for c in copies):
            return non_compliant(f"rule {rule.get('RuleName')!r} copies no recovery point to a "
                                 f"vault in the DR region {region}")
    return COMPLIANT


CROSS_REGION_BACKUP_COPY = Rule(
    id="Redundancy-CrossRegionBackupCopy",
    info="The backup plan does not copy recovery points to the DR region.",
    explanation="Recovery points in the primary region are lost with the region. Every rule of "
                "the plan copies its recovery point to a vault in the DR region, encrypted with "
                "that region's key, kept as long as the original.",
    resource_types=("AWS::Backup::BackupPlan",),
    check=_cross_region_copy,
)


def _automated_backup_replication(resource: Resource, stack: StackView) -> Result:
    region = stack.settings.dr_region
    if region is None or not is_primary(resource):
        return NOT_APPLICABLE
    target = resource.prop("AutomaticBackupReplicationRegion")
    if target != region:
        return non_compliant(f"AutomaticBackupReplicationRegion={target!r}; must be {region}")
    key = resource.prop("AutomaticBackupReplicationKmsKeyId")
    if key is None or not _in_region(key, region, stack):
        return non_compliant("AutomaticBackupReplicationKmsKeyId is not a key of the DR region")
    return COMPLIANT


AUTOMATED_BACKUP_REPLICATION = Rule(
    id="Redundancy-AutomatedBackupReplication",
    info="The primary's automated backups are not replicated to the DR region.",
    explanation="Replicated automated backups (snapshots and transaction logs) allow a "
                "point-in-time restore in the DR region down to the last few minutes, even if "
                "the cross-region replica was lost or corrupted by a bad change.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_automated_backup_replication,
)

RULES = (CROSS_REGION_BACKUP_COPY, AUTOMATED_BACKUP_REPLICATION)
