"""CloudFormation `AWS::SecretsManager::RotationSchedule`, including `HostedRotationLambda`.

AWS behaviour: the resource turns rotation on for `SecretId`: `DescribeSecret` then shows
`RotationEnabled: true`, the rotation function (`RotationLambdaARN`) and the rules
(`rate(N days)` is reported as `AutomaticallyAfterDays: N`). With `HostedRotationLambda` the
template's `Transform: AWS::SecretsManager-2024-09-16` makes CloudFormation deploy Secrets
Manager's own rotation function for `RotationType` (e.g. `MySQLSingleUser`) in the given VPC
subnets and security groups, and the schedule points at that function. `Ref` returns the
secret's ARN.
Gap in moto 5.2.5: the type is not supported (and the transform is ignored), so the secret has no
rotation at all.
Emulation limit (reported by `make deploy`): no rotation function is deployed or run, because
the emulator has no Lambda runtime; the secret reports rotation enabled with the ARN the hosted
function would have, and nothing rotates on a schedule. `RotateSecret` of a secret with a hosted
`PostgreSQLSingleUser` rotation whose host is a local PostgreSQL server does what that function
does (`rds_postgres_engine`); for other engines it fails as moto does (no such function).
"""

from __future__ import annotations

import re
import time
from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import (
    EmulatedResource,
    FidelityModel,
    model_extension,
)

RESOURCE_TYPE = "AWS::SecretsManager::RotationSchedule"
_RATE_DAYS = re.compile(r"^rate\((\d+) days?\)$")
_MAX_DAYS = 1000


def rotation_days(rules: dict[str, Any], *, logical_id: str) -> int | None:
    """Days between rotations from `RotationRules`, None for a cron schedule."""
    if "AutomaticallyAfterDays" in rules:
        days = int(rules["AutomaticallyAfterDays"])
    elif "ScheduleExpression" in rules:
        match = _RATE_DAYS.match(str(rules["ScheduleExpression"]).strip())
        if match is None:
            return None
        days = int(match[1])
    else:
        raise ValidationError(message=f"{logical_id}: RotationRules needs AutomaticallyAfterDays "
                                      f"or ScheduleExpression, got {rules!r}")
    if not 1 <= days <= _MAX_DAYS:
        raise ValidationError(message=f"{logical_id}: rotation every {days} days; allowed 1-"
                                      f"{_MAX_DAYS}")
    return days


def hosted_function_arn(hosted: dict[str, Any], *, account_id: str, region: str,
                        stack_name: str) -> str:
    """The ARN the transform's rotation function gets (name from `RotationLambdaName` if set)."""
    if "RotationType" not in hosted:
        raise ValidationError(message=f"HostedRotationLambda needs RotationType, got {hosted!r}")
    default = f"{stack_name}-SecretsManager{hosted['RotationType']}"
    name = hosted.get("RotationLambdaName") or default
    return f"arn:aws:lambda:{region}:{account_id}:function:{name[:64]}"


class RotationScheduleModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    attributes = frozenset()

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.cloudformation.models import cloudformation_backends
        from moto.secretsmanager.models import FakeSecret, secretsmanager_backends

        logical_id = kwargs["LogicalId"]
        properties = cloudformation_json.get("Properties", {})
        if "SecretId" not in properties:
            raise ValidationError(message=f"{logical_id}: SecretId is required")
        has_function = "RotationLambdaARN" in properties
        has_hosted = "HostedRotationLambda" in properties
        if has_function == has_hosted:
            raise ValidationError(message=f"{logical_id}: give exactly one of RotationLambdaARN "
                                          "and HostedRotationLambda")
        if has_hosted:
            stack = cloudformation_backends[account_id][region_name].get_stack(kwargs["StackId"])
            function_arn = hosted_function_arn(properties["HostedRotationLambda"],
                                               account_id=account_id, region=region_name,
                                               stack_name=stack.name)
        else:
            function_arn = properties["RotationLambdaARN"]
        days = rotation_days(properties.get("RotationRules", {}), logical_id=logical_id)
        secrets = secretsmanager_backends[account_id][region_name]
        secret = secrets.describe_secret(properties["SecretId"])
        if not isinstance(secret, FakeSecret):
            raise ValidationError(message=f"{logical_id}: {properties['SecretId']} is a replica "
                                          "secret; rotation is configured on its primary")
        # What RotateSecret records, without invoking a function the emulator cannot run.
        secret.rotation_requested = True
        secret.rotation_enabled = True
        secret.rotation_lambda_arn = function_arn
        # What RotateSecret needs to do the hosted function's work (`rds_postgres_engine`).
        secret.hosted_rotation = (  # type: ignore[attr-defined]  # our own, on moto's record
            dict(properties["HostedRotationLambda"]) if has_hosted else None)
        secret.auto_rotate_after_days = days or 0
        if days:
            secret.next_rotation_date = int(time.time()) + days * 86400
        return EmulatedResource(physical_resource_id=str(secret.arn))


EXTENSION = model_extension(
    RotationScheduleModel, resource_type=RESOURCE_TYPE, name="secretsmanager-rotation-schedule",
    closes="RotationSchedule (incl. HostedRotationLambda) turns rotation on for the secret",
    limit="rotation is recorded on the secret, but no rotation function is deployed or run on a "
          "schedule; RotateSecret does the hosted PostgreSQLSingleUser rotation itself on a "
          "local PostgreSQL server (a new password set there), and fails for other engines")
