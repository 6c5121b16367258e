"""CloudFormation `AWS::KMS::Key` with `Tags`.

AWS behaviour: CloudFormation tags are `{"Key": ..., "Value": ...}`; the key is created with them
and `ListResourceTags` returns them (as `TagKey`/`TagValue`, KMS's own spelling).
Gap in moto 5.2.5: the CloudFormation model hands the `Key`/`Value` list to KMS's tagger, which
expects `TagKey`/`TagValue`, and the stack fails with `KeyError: 'TagKey'`. CDK tags every key of
this app (project, environment), so the database and network stacks cannot deploy without this.
"""

from __future__ import annotations

from typing import Any

from local_aws.fidelity._registry import FidelityModel, model_extension

RESOURCE_TYPE = "AWS::KMS::Key"


class KmsKeyModel(FidelityModel):
    resource_type = RESOURCE_TYPE

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        from moto.kms.models import Key

        return Key.has_cfn_attr(attr)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> Any:
        from moto.kms.models import Key

        properties = dict(cloudformation_json.get("Properties", {}))
        properties["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]}
                              for t in properties.get("Tags", [])]
        return Key.create_from_cloudformation_json(
            resource_name, {**cloudformation_json, "Properties": properties}, account_id,
            region_name, **kwargs)


    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Any:
        """Key policy, description and rotation change in place, as on AWS."""
        import json

        from moto.kms.models import kms_backends

        key = original_resource
        properties = cloudformation_json.get("Properties", {})
        backend = kms_backends[account_id][region_name]
        policy = properties.get("KeyPolicy")
        if policy is not None:
            backend.put_key_policy(key.id, policy if isinstance(policy, str)
                                   else json.dumps(policy))
        if "Description" in properties:
            backend.update_key_description(key.id, properties["Description"])
        return key


EXTENSION = model_extension(
    KmsKeyModel, resource_type=RESOURCE_TYPE, name="kms-key-tags",
    closes="AWS::KMS::Key with CloudFormation Tags (Key/Value) is created and tagged")
