"""Security groups whose egress is exactly what is listed, in CloudFormation's own terms.

CDK writes an egress rule to another security group as a separate `AWS::EC2::SecurityGroupEgress`
resource and then drops the group's inline "disallow all" placeholder. A group without inline
`SecurityGroupEgress` keeps EC2's default allow-all egress rule, so `allow_all_outbound=False`
silently becomes "everything outbound". Writing the rules inline makes the list authoritative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_ec2 as ec2
from constructs import Construct


@dataclass(frozen=True)
class EgressTo:
    """TCP to one security group on one port."""

    peer: ec2.ISecurityGroup
    port: int
    description: str


def egress_only_to(scope: Construct, construct_id: str, *, vpc: ec2.IVpc, description: str,
                   rules: Sequence[EgressTo]) -> ec2.SecurityGroup:
    """A security group with no ingress and egress to `rules` only (inline, so authoritative)."""
    group = ec2.SecurityGroup(scope, construct_id, vpc=vpc, description=description,
                              allow_all_outbound=False)
    cfn = group.node.default_child
    assert isinstance(cfn, ec2.CfnSecurityGroup)
    cfn.security_group_egress = [
        ec2.CfnSecurityGroup.EgressProperty(
            ip_protocol="tcp", from_port=rule.port, to_port=rule.port,
            destination_security_group_id=rule.peer.security_group_id,
            description=rule.description)
        for rule in rules
    ]
    return group
