"""Credentials: no password in the template, a rotated secret instead."""

from __future__ import annotations

from cloud_assembly.template import Resource, literal_string, truthy
from policy.model import (
    COMPLIANT,
    NOT_APPLICABLE,
    Result,
    Rule,
    StackView,
    is_replica,
    non_compliant,
)

_DYNAMIC_REFERENCE = "{{resolve:secretsmanager:"


def _no_plaintext_password(resource: Resource, stack: StackView) -> Result:
    password = resource.prop("MasterUserPassword")
    if password is None:
        if is_replica(resource) or truthy(resource.prop("ManageMasterUserPassword")):
            return COMPLIANT
        if stack.settings.inherited_key(resource.prop("DBInstanceIdentifier")) is not None:
            return COMPLIANT  # a promoted replica keeps the master password of its source
        return NOT_APPLICABLE if resource.prop("DBSnapshotIdentifier") else non_compliant(
            "no MasterUserPassword dynamic reference and no managed master password")
    text = literal_string(password)
    if text is None or not text.startswith(_DYNAMIC_REFERENCE):
        # Never echo the value: it may be the password itself.
        return non_compliant("MasterUserPassword is a literal or computed value; only a "
                             "'{{resolve:secretsmanager:...}}' dynamic reference is allowed")
    return COMPLIANT


NO_PLAINTEXT_PASSWORD = Rule(
    id="Redundancy-NoPlaintextPassword",
    info="The database password is written into the template.",
    explanation="A template is stored by CloudFormation, shown in the console, copied into "
                "cdk.out and CI artifacts. The password must come from Secrets Manager at "
                "deploy time through a dynamic reference, never as a value.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_no_plaintext_password,
)


def _secret_rotation(resource: Resource, stack: StackView) -> Result:
    for schedule in stack.of_type("AWS::SecretsManager::RotationSchedule"):
        target = stack.target(schedule.prop("SecretId"))
        if target is not None and target.type == "AWS::SecretsManager::SecretTargetAttachment":
            target = stack.target(target.prop("SecretId"))
        if target is resource:
            if not (schedule.prop("HostedRotationLambda") or schedule.prop("RotationLambdaARN")):
                return non_compliant(f"rotation schedule {schedule.logical_id} has no rotation "
                                     "function")
            return COMPLIANT
    return non_compliant("no AWS::SecretsManager::RotationSchedule rotates this secret")


SECRET_ROTATION = Rule(
    id="Redundancy-SecretRotation",
    info="The credentials secret is not rotated.",
    explanation="A password that never changes stays valid in every place it ever leaked to. "
                "Single-user rotation changes it on a schedule without downtime.",
    resource_types=("AWS::SecretsManager::Secret",),
    check=_secret_rotation,
)

RULES = (NO_PLAINTEXT_PASSWORD, SECRET_ROTATION)
