"""CloudFormation `AWS::SecretsManager::ResourcePolicy`: attach a resource policy to a secret.

AWS behaviour: `GetResourcePolicy` on `SecretId` returns `ResourcePolicy` as a JSON string. CDK's
secret construct adds one to every retained secret (here: deny `secretsmanager:DeleteSecret`).
Gap in moto 5.2.5: the type is not supported, so the secret has no policy.
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

RESOURCE_TYPE = "AWS::SecretsManager::ResourcePolicy"


class ResourcePolicyModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    attributes = frozenset()

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.secretsmanager.models import secretsmanager_backends

        properties = cloudformation_json.get("Properties", {})
        if "SecretId" not in properties or "ResourcePolicy" not in properties:
            raise ValidationError(message=f"{kwargs['LogicalId']}: SecretId and ResourcePolicy "
                                          f"are required, got {sorted(properties)}")
        policy = properties["ResourcePolicy"]
        document = policy if isinstance(policy, str) else json.dumps(policy)
        secrets = secretsmanager_backends[account_id][region_name]
        arn, _ = secrets.put_resource_policy(properties["SecretId"], document)
        return EmulatedResource(physical_resource_id=arn,
                                on_delete=lambda: secrets.delete_resource_policy(arn))


EXTENSION = model_extension(
    ResourcePolicyModel, resource_type=RESOURCE_TYPE, name="secretsmanager-resource-policy",
    closes="AWS::SecretsManager::ResourcePolicy is attached to the secret")
