"""CDK's `Custom::VpcRestrictDefaultSG`, run natively: strip the VPC's default security group.

AWS behaviour: `ec2.Vpc(restrict_default_security_group=True)` adds a custom resource backed by a
CDK-provided Node.js Lambda. On create it revokes the default security group's two default rules
(all traffic in from the group itself, all traffic out to 0.0.0.0/0), so nothing that lands in the
default group by mistake can talk; on delete it puts them back. The custom resource's `ServiceToken`
is the handler function's ARN and must exist.
Gap in moto 5.2.5: a `Custom::` resource is sent to its Lambda, which moto can only run in Docker
(not available here), so the stack waits for a response that never comes and the default group
keeps its open rules.
This extension performs the handler's work in the emulator itself: it checks that the service
token names an existing function and revokes every rule of the default group.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import (
    EmulatedResource,
    FidelityModel,
    model_extension,
)

RESOURCE_TYPE = "Custom::VpcRestrictDefaultSG"


class RestrictDefaultSecurityGroupModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    attributes = frozenset()

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.awslambda.utils import get_backend as lambda_backend
        from moto.ec2.models import ec2_backends

        logical_id = kwargs["LogicalId"]
        properties = cloudformation_json.get("Properties", {})
        token, group_id = properties.get("ServiceToken"), properties.get("DefaultSecurityGroupId")
        if not token or not group_id:
            raise ValidationError(message=f"{logical_id}: ServiceToken and DefaultSecurityGroupId "
                                          f"are required, got {sorted(properties)}")
        try:
            lambda_backend(account_id, region_name).get_function(token)
        except Exception as error:  # moto's UnknownFunctionException
            raise ValidationError(message=f"{logical_id}: ServiceToken {token} is not an existing "
                                          f"function ({error})") from error
        group = ec2_backends[account_id][region_name].get_security_group_from_id(group_id)
        if group is None:
            raise ValidationError(message=f"{logical_id}: security group {group_id} does not exist")
        group.ingress_rules.clear()
        group.egress_rules.clear()
        return EmulatedResource(physical_resource_id=group_id)


EXTENSION = model_extension(
    RestrictDefaultSecurityGroupModel, resource_type=RESOURCE_TYPE,
    name="ec2-restrict-default-security-group",
    closes="Custom::VpcRestrictDefaultSG revokes the default security group's rules natively",
    limit="done by the emulator itself; CDK's handler Lambda is created but never invoked")
