"""CloudFormation `AWS::Backup::BackupPlan`, on moto's AWS Backup API.

AWS behaviour: creates a plan from `BackupPlan` (`BackupPlanName`, `BackupPlanRule` items with
`TargetBackupVault`, `ScheduleExpression`, windows and `Lifecycle`), tagged with `BackupPlanTags`.
`Ref` and `Fn::GetAtt BackupPlanId` give the plan id; `BackupPlanArn` and `VersionId` are
attributes. `GetBackupPlan` returns the rules as `Rules` with `TargetBackupVaultName`.
Gap in moto 5.2.5: moto has the Backup API but no CloudFormation model, so the plan is skipped and
the database stack's `BackupPlanId` output (`Fn::GetAtt`) fails the whole stack.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import (
    EmulatedResource,
    FidelityModel,
    model_extension,
)

RESOURCE_TYPE = "AWS::Backup::BackupPlan"
_RULE_KEYS = {
    "RuleName": "RuleName", "TargetBackupVault": "TargetBackupVaultName",
    "ScheduleExpression": "ScheduleExpression", "StartWindowMinutes": "StartWindowMinutes",
    "CompletionWindowMinutes": "CompletionWindowMinutes", "Lifecycle": "Lifecycle",
    "RecoveryPointTags": "RecoveryPointTags", "CopyActions": "CopyActions",
    "EnableContinuousBackup": "EnableContinuousBackup",
    "ScheduleExpressionTimezone": "ScheduleExpressionTimezone",
}


def api_plan(plan: dict[str, Any], *, logical_id: str) -> dict[str, Any]:
    """CloudFormation's `BackupPlan` property in the shape of the `CreateBackupPlan` API."""
    if "BackupPlanName" not in plan or not plan.get("BackupPlanRule"):
        raise ValidationError(message=f"{logical_id}: BackupPlan needs BackupPlanName and at least "
                                      f"one BackupPlanRule, got {sorted(plan)}")
    rules = [{api: rule[cfn] for cfn, api in _RULE_KEYS.items() if cfn in rule}
             for rule in plan["BackupPlanRule"]]
    result: dict[str, Any] = {"BackupPlanName": plan["BackupPlanName"], "Rules": rules}
    if "AdvancedBackupSettings" in plan:
        result["AdvancedBackupSettings"] = plan["AdvancedBackupSettings"]
    return result


class BackupPlanModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    attributes = frozenset({"BackupPlanId", "BackupPlanArn", "VersionId"})

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.backup.models import backup_backends

        logical_id = kwargs["LogicalId"]
        properties = cloudformation_json.get("Properties", {})
        backend = backup_backends[account_id][region_name]
        plan = backend.create_backup_plan(
            backup_plan=api_plan(properties.get("BackupPlan", {}), logical_id=logical_id),
            backup_plan_tags=properties.get("BackupPlanTags") or {},
            creator_request_id=logical_id)
        plan_id = plan.backup_plan_id
        return EmulatedResource(
            physical_resource_id=plan_id,
            attributes={"BackupPlanId": plan_id, "BackupPlanArn": plan.backup_plan_arn,
                        "VersionId": plan.version_id},
            on_delete=lambda: backend.delete_backup_plan(plan_id))


EXTENSION = model_extension(
    BackupPlanModel, resource_type=RESOURCE_TYPE, name="backup-plan",
    closes="AWS::Backup::BackupPlan is created with its rules",
    property_limits={
        "AWS::Backup::BackupPlan.CopyActions": "copy actions (to the DR vault) are stored on "
        "the plan, but no backup job ever runs: nothing is copied to another region"})
