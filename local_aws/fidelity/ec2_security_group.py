"""CloudFormation `AWS::EC2::SecurityGroup` honouring its `SecurityGroupEgress` rules.

AWS behaviour: a new VPC security group allows all outbound traffic; when the template gives
`SecurityGroupEgress`, CloudFormation removes that default rule and the group allows exactly the
listed destinations. CDK's `allow_all_outbound=False` relies on this: it lists one placeholder rule
(ICMP type 252 code 86 to 255.255.255.255/32, "Disallow all traffic") so the group allows nothing
out until explicit `AWS::EC2::SecurityGroupEgress` rules are added.
Gap in moto 5.2.5: `SecurityGroupEgress` is ignored, so every group of this app keeps the
allow-all egress rule: the database, client and rotation groups look wide open outbound.
"""

from __future__ import annotations

from typing import Any

from local_aws.fidelity._ec2_rules import authorize_egress
from local_aws.fidelity._registry import FidelityModel, model_extension

RESOURCE_TYPE = "AWS::EC2::SecurityGroup"


class SecurityGroupModel(FidelityModel):
    resource_type = RESOURCE_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        from moto.ec2.models.security_groups import SecurityGroup

        return SecurityGroup.cloudformation_name_type()

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        from moto.ec2.models.security_groups import SecurityGroup

        return SecurityGroup.has_cfn_attr(attr)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> Any:
        from moto.ec2.models import ec2_backends
        from moto.ec2.models.security_groups import SecurityGroup

        group = SecurityGroup.create_from_cloudformation_json(
            resource_name, cloudformation_json, account_id, region_name, **kwargs)
        egress = cloudformation_json.get("Properties", {}).get("SecurityGroupEgress")
        if egress:
            group.egress_rules.clear()
            backend = ec2_backends[account_id][region_name]
            for rule in egress:
                authorize_egress(backend, group_id=group.id, rule=rule,
                                 logical_id=kwargs["LogicalId"])
        return group


EXTENSION = model_extension(
    SecurityGroupModel, resource_type=RESOURCE_TYPE, name="ec2-security-group-egress-property",
    closes="AWS::EC2::SecurityGroup's SecurityGroupEgress replaces the default allow-all egress")
