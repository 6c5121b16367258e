"""CloudFormation `AWS::SSM::Parameter` with `Tags` and without `Name`.

AWS behaviour: `Tags` is a JSON object (`{"project": "RedundantDb"}`), unlike most resource types'
`[{"Key": ..., "Value": ...}]` list; without `Name`, CloudFormation names the parameter
`CFN-<LogicalId>-<random>`. `Ref` is the parameter name.
Gaps in moto 5.2.5: the model iterates the tag object as if it were a list and fails the stack
(`string indices must be integers`); CDK tags every parameter of this app, including the writer
endpoint parameter the failover runbook repoints. A parameter without `Name` crashes the stack.
"""

from __future__ import annotations

import string
from typing import Any

from moto.moto_api._internal import mock_random

from local_aws.fidelity._registry import FidelityModel, model_extension

RESOURCE_TYPE = "AWS::SSM::Parameter"
_SUFFIX_LENGTH = 12


class SsmParameterModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    name_property = "Name"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        from moto.ssm.models import Parameter

        return Parameter.has_cfn_attr(attr)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> Any:
        from moto.ssm.models import Parameter

        properties = dict(cloudformation_json.get("Properties", {}))
        tags = properties.get("Tags")
        if isinstance(tags, dict):
            properties["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        if not properties.get("Name"):
            suffix = "".join(mock_random.choice(string.ascii_letters + string.digits)
                             for _ in range(_SUFFIX_LENGTH))
            properties["Name"] = f"CFN-{kwargs['LogicalId']}-{suffix}"
        return Parameter.create_from_cloudformation_json(
            properties["Name"], {**cloudformation_json, "Properties": properties}, account_id,
            region_name, **kwargs)


    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Any:
        """A new value (or description) on the same name: a new version, as on AWS."""
        from moto.cloudformation.exceptions import ValidationError
        from moto.ssm.models import ssm_backends

        name = original_resource.name
        properties = cloudformation_json.get("Properties", {})
        if properties.get("Name", name) != name:
            raise ValidationError(message=f"{name}: a new Name replaces the parameter: the "
                                          "emulator does not replace resources")
        backend: Any = ssm_backends[account_id][region_name]
        backend.put_parameter(name=name, description=properties.get("Description"),
                              value=str(properties["Value"]),
                              parameter_type=properties.get("Type", "String"),
                              allowed_pattern=properties.get("AllowedPattern"), keyid=None,
                              overwrite=True, tags=[], data_type=properties.get("DataType", "text"),
                              tier=properties.get("Tier"), policies=None)
        return backend.get_parameter(name)


EXTENSION = model_extension(
    SsmParameterModel, resource_type=RESOURCE_TYPE, name="ssm-parameter",
    closes="AWS::SSM::Parameter with a Tags object, or without Name, is created")
