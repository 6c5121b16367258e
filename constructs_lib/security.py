"""Security groups whose egress is exactly what is listed, in CloudFormation's own terms.

CDK writes an egress rule to another security group as a separate `AWS::EC2::SecurityGroupEgress`
resource and then drops the group's inline "disallow all" placeholder. A group without inline
`SecurityGroupEgress` keeps EC2's default allow-all egress rule, so `allow_all_outbound=False`
silently becomes "everything outbound". Writing the rules inline makes the list authoritative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aws_cdk import aws_ec2 as ec2
from constructs import Construct


class Reachable(Protocol):
    """A database instance construct: its identifier and the security group in front of it."""

    @property
    def identifier(self) -> str: ...

    @property
    def security_group(self) -> ec2.ISecurityGroup: ...


@dataclass(frozen=True)
class EgressTo:
    """TCP to one security group on one port."""

    peer: ec2.ISecurityGroup
    port: int
    description: str


def egress_only_to(scope: Construct, construct_id: str, *, vpc: ec2.IVpc, description: str,
                   rules: Sequence[EgressTo]) -> ec2.SecurityGroup:
    """A security group with no ingress and egress to `rules` only (inline, so authoritative);
    without rules, CDK's inline placeholder that matches no traffic (no egress at all)."""
    group = ec2.SecurityGroup(scope, construct_id, vpc=vpc, description=description,
                              allow_all_outbound=False)
    if not rules:
        return group
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


def admit(members: Sequence[Reachable], peer: ec2.ISecurityGroup, port: int,
          description: str) -> None:
    """Each member's security group lets `peer` in on `port`."""
    for member in members:
        member.security_group.add_ingress_rule(peer, ec2.Port.tcp(port), description)


def clients_security_group(scope: Construct, construct_id: str, *, vpc: ec2.IVpc,
                           members: Sequence[Reachable], port: int,
                           description: str) -> ec2.SecurityGroup:
    """The group to give the application: egress to each member on `port` only, and each
    member admits it ("Application clients")."""
    group = egress_only_to(scope, construct_id, vpc=vpc, description=description,
                           rules=[EgressTo(m.security_group, port, f"To {m.identifier}")
                                  for m in members])
    admit(members, group, port, "Application clients")
    return group
