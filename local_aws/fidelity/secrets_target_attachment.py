"""CloudFormation `AWS::SecretsManager::SecretTargetAttachment`: bind a secret to its database.

AWS behaviour: attaching a secret to an `AWS::RDS::DBInstance` writes a new AWSCURRENT version of
the secret whose JSON keeps every existing key and adds the connection details of the instance:
`engine`, `host` (endpoint address), `port` and `dbInstanceIdentifier`. The rotation function and
applications read them. `Ref` returns the secret's ARN (CDK's `secret.secret_arn` of an attached
secret is this `Ref`). Cluster targets (`AWS::RDS::DBCluster`, `AWS::DocDB::DBCluster`,
`AWS::Redshift::Cluster`) are out of scope for this app and refused with a clear error.
Gap in moto 5.2.5: the type is not supported; the secret never learns its host and port, and the
database stack's `SecretArn` output resolves to nothing.
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import (
    EmulatedResource,
    FidelityModel,
    model_extension,
)

RESOURCE_TYPE = "AWS::SecretsManager::SecretTargetAttachment"
SUPPORTED_TARGET = "AWS::RDS::DBInstance"


def connection_details(instance: Any) -> dict[str, Any]:
    """The keys Secrets Manager adds for an RDS DB instance target."""
    return {
        "engine": instance.engine,
        "host": instance.address,
        "port": int(instance.port),
        "dbInstanceIdentifier": instance.db_instance_identifier,
    }


class SecretTargetAttachmentModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    attributes = frozenset()

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.rds.models import rds_backends
        from moto.secretsmanager.models import secretsmanager_backends

        logical_id = kwargs["LogicalId"]
        properties = cloudformation_json.get("Properties", {})
        missing = [p for p in ("SecretId", "TargetId", "TargetType") if not properties.get(p)]
        if missing:
            raise ValidationError(message=f"{logical_id}: missing {', '.join(missing)} "
                                          f"(got {sorted(properties)})")
        if properties["TargetType"] != SUPPORTED_TARGET:
            raise ValidationError(message=f"{logical_id}: TargetType {properties['TargetType']!r} "
                                          f"is not emulated; expected {SUPPORTED_TARGET}")
        secrets: Any = secretsmanager_backends[account_id][region_name]
        secret_id, target_id = properties["SecretId"], properties["TargetId"]
        try:
            instance = rds_backends[account_id][region_name].find_db_from_id(target_id)
        except Exception as error:  # moto's DBInstanceNotFound
            raise ValidationError(message=f"{logical_id}: target DB instance {target_id}: "
                                          f"{error}") from error
        current = secrets.get_secret_value(secret_id, None, "AWSCURRENT")
        document = json.loads(current.get("SecretString") or "{}")
        document.update(connection_details(instance))
        secrets.put_secret_value(secret_id=secret_id, secret_string=json.dumps(document),
                                 secret_binary=None, client_request_token=None,
                                 version_stages=["AWSCURRENT"])
        arn = str(secrets.describe_secret(secret_id).arn)
        return EmulatedResource(physical_resource_id=arn)

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> EmulatedResource:
        """A new target: its connection keys are written to the secret (a new version)."""
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name,
            LogicalId=original_resource.physical_resource_id)


EXTENSION = model_extension(
    SecretTargetAttachmentModel, resource_type=RESOURCE_TYPE,
    name="secretsmanager-secret-target-attachment",
    closes="SecretTargetAttachment adds engine/host/port/dbInstanceIdentifier to the secret")
