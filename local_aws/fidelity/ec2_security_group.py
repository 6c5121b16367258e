"""CloudFormation `AWS::EC2::SecurityGroup` honouring its `SecurityGroupEgress` rules.

AWS behaviour: a new VPC security group allows all outbound traffic; when the template gives
`SecurityGroupEgress`, CloudFormation removes that default rule and the group allows exactly the
listed destinations. CDK's `allow_all_outbound=False` relies on this: it lists one placeholder rule
(ICMP type 252 code 86 to 255.255.255.255/32, "Disallow all traffic") so the group allows nothing
out until explicit `AWS::EC2::SecurityGroupEgress` rules are added.
A stack update that changes the inline `SecurityGroupEgress` (or `SecurityGroupIngress`) rules
replaces them on the same group: its id stays (a change of `GroupDescription`, `GroupName` or
`VpcId` would replace the group, which the emulator does not do).
Gap in moto 5.2.5: `SecurityGroupEgress` is ignored, so every group of this app keeps the
allow-all egress rule: the database, client and rotation groups look wide open outbound. An
update deletes the group and creates another with a new id, which the rules and instances that
name the old one lose.
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

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Any:
        from moto.cloudformation.exceptions import ValidationError
        from moto.ec2.models import ec2_backends

        group = original_resource
        properties = cloudformation_json.get("Properties", {})
        for name, current in (("GroupDescription", group.description),
                              ("VpcId", group.vpc_id)):
            if name in properties and properties[name] != current:
                raise ValidationError(message=f"{group.id}: {name} changes replace the group: "
                                              "the emulator does not replace resources")
        backend: Any = ec2_backends[account_id][region_name]
        egress = properties.get("SecurityGroupEgress")
        group.egress_rules.clear()
        if egress:
            for rule in egress:
                authorize_egress(backend, group_id=group.id, rule=rule, logical_id=group.id)
        else:  # no inline egress: EC2's default allow-all rule
            backend.authorize_security_group_egress(
                group_name_or_id=group.id, ip_protocol="-1", from_port=None, to_port=None,
                ip_ranges=[{"CidrIp": "0.0.0.0/0"}], source_groups=[], prefix_list_ids=[])
        return group


EXTENSION = model_extension(
    SecurityGroupModel, resource_type=RESOURCE_TYPE, name="ec2-security-group-egress-property",
    closes="AWS::EC2::SecurityGroup's SecurityGroupEgress replaces the default allow-all egress")
