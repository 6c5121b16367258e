"""CloudFormation `AWS::EC2::SecurityGroupEgress`: one outbound rule added to a group.

AWS behaviour: adds the rule (`IpProtocol`, `FromPort`/`ToPort`, and exactly one destination:
`CidrIp`, `CidrIpv6`, `DestinationSecurityGroupId` or `DestinationPrefixListId`) to `GroupId`;
`Ref` is the rule id. CDK emits one for each `connections.allow_to(...)` between groups, e.g.
"application clients may reach the primary on the database port".
Gap in moto 5.2.5: the type is not supported; the rules are skipped (with the default allow-all
egress still in place, see `ec2_security_group`), so a test of who may talk to whom is meaningless.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._ec2_rules import authorize_egress
from local_aws.fidelity._registry import (
    EmulatedResource,
    FidelityModel,
    model_extension,
)

RESOURCE_TYPE = "AWS::EC2::SecurityGroupEgress"


class SecurityGroupEgressModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    attributes = frozenset({"Id"})

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.ec2.models import ec2_backends

        logical_id = kwargs["LogicalId"]
        properties = cloudformation_json.get("Properties", {})
        group_id = properties.get("GroupId")
        if not group_id:
            raise ValidationError(message=f"{logical_id}: GroupId is required")
        backend: Any = ec2_backends[account_id][region_name]
        if backend.get_security_group_from_id(group_id) is None:
            raise ValidationError(message=f"{logical_id}: security group {group_id} does not "
                                          "exist")
        rule_id = authorize_egress(backend, group_id=group_id, rule=properties,
                                   logical_id=logical_id)

        def revoke() -> None:
            group = backend.get_security_group_from_id(group_id)
            if group is not None:
                group.egress_rules[:] = [r for r in group.egress_rules if r.id != rule_id]

        return EmulatedResource(physical_resource_id=rule_id, attributes={"Id": rule_id},
                                on_delete=revoke)


EXTENSION = model_extension(
    SecurityGroupEgressModel, resource_type=RESOURCE_TYPE, name="ec2-security-group-egress",
    closes="AWS::EC2::SecurityGroupEgress rules are added")
