"""Backups: automated backups with enough retention, and an AWS Backup plan, on every primary."""

from __future__ import annotations

from cloud_assembly.baseline import MIN_BACKUP_RETENTION_DAYS
from cloud_assembly.template import Resource
from policy.model import (
    COMPLIANT,
    NOT_APPLICABLE,
    Result,
    Rule,
    StackView,
    is_primary,
    is_writer,
    non_compliant,
)


def _backup_retention(resource: Resource, stack: StackView) -> Result:
    if not is_primary(resource):
        return NOT_APPLICABLE
    minimum = max(MIN_BACKUP_RETENTION_DAYS, stack.settings.min_backup_retention_days)
    value = resource.prop("BackupRetentionPeriod")
    if value is None:
        return non_compliant(f"BackupRetentionPeriod is not set (RDS default 1 day); "
                             f"need >= {minimum}")
    try:
        days = int(value)
    except (TypeError, ValueError):
        return non_compliant(f"BackupRetentionPeriod={value!r} is not a literal number of days")
    if days < minimum:
        return non_compliant(f"BackupRetentionPeriod={days}; need >= {minimum} days"
                             + (" (0 disables automated backups)" if days == 0 else ""))
    return COMPLIANT


BACKUP_RETENTION = Rule(
    id="Redundancy-BackupRetention",
    info="The primary database does not keep automated backups for the configured retention.",
    explanation="Automated backups give point-in-time recovery. Retention below the environment's "
                f"configured minimum (never below {MIN_BACKUP_RETENTION_DAYS} days) leaves too "
                "short a window to notice and undo a bad change; 0 turns backups off and blocks "
                "read replicas.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_backup_retention,
)


def _in_backup_plan(resource: Resource, stack: StackView) -> Result:
    if not is_writer(resource, stack):
        return NOT_APPLICABLE
    for selection in stack.of_type("AWS::Backup::BackupSelection"):
        spec = selection.prop("BackupSelection", {})
        if resource in stack.targets(spec.get("Resources", [])):
            plan = stack.target(selection.prop("BackupPlanId"))
            if plan is not None and plan.type == "AWS::Backup::BackupPlan":
                rules = plan.prop("BackupPlan", {}).get("BackupPlanRule", [])
                if rules:
                    return COMPLIANT
    return non_compliant("no AWS::Backup::BackupSelection of a backup plan with rules selects "
                         "this instance")


BACKUP_PLAN = Rule(
    id="Redundancy-BackupPlan",
    info="The primary database is not in an AWS Backup plan.",
    explanation="AWS Backup keeps recovery points in a separate, encrypted vault with their own "
                "retention (daily and monthly here). They survive the deletion of the instance "
                "and of its automated backups, which RDS deletes with the instance.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_in_backup_plan,
)

RULES = (BACKUP_RETENTION, BACKUP_PLAN)
