"""Network exposure: private, in isolated subnets, TLS only, no security group open to the world."""

from __future__ import annotations

from typing import Any

from cloud_assembly import rds
from cloud_assembly.template import Resource, truthy
from policy.model import COMPLIANT, Result, Rule, StackView, non_compliant

_WORLD = ("0.0.0.0/0", "::/0")
_INTERNET_ROUTE_TARGETS = ("GatewayId", "NatGatewayId", "EgressOnlyInternetGatewayId",
                           "TransitGatewayId", "VpcPeeringConnectionId", "InstanceId")


def _not_public(resource: Resource, stack: StackView) -> Result:
    value = resource.prop("PubliclyAccessible")
    if value is None:
        return non_compliant("PubliclyAccessible is not set (RDS may default to true in a VPC "
                             "with an internet gateway); must be false")
    if truthy(value):
        return non_compliant("PubliclyAccessible=true")
    return COMPLIANT


NOT_PUBLIC = Rule(
    id="Redundancy-NotPublic",
    info="A database instance is publicly accessible.",
    explanation="A public instance gets an internet-resolvable address; one security-group "
                "mistake then exposes the database to the whole internet.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_not_public,
)


def _subnet_is_isolated(subnet: Resource, stack: StackView) -> str | None:
    """None when `subnet` has no route out of the VPC, else why not."""
    if truthy(subnet.prop("MapPublicIpOnLaunch")):
        return f"subnet {subnet.logical_id} maps public IPs on launch"
    home = stack.stack_of(subnet)
    for assoc in home.of_type("AWS::EC2::SubnetRouteTableAssociation"):
        if home.target(assoc.prop("SubnetId")) is not subnet:
            continue
        table = home.target(assoc.prop("RouteTableId"))
        for route in home.of_type("AWS::EC2::Route"):
            if home.target(route.prop("RouteTableId")) is table and any(
                    route.prop(k) for k in _INTERNET_ROUTE_TARGETS):
                return (f"subnet {subnet.logical_id} routes "
                        f"{route.prop('DestinationCidrBlock') or route.prop('DestinationIpv6CidrBlock')}"
                        f" out of the VPC ({route.logical_id})")
    return None


def _isolated_subnets(resource: Resource, stack: StackView) -> Result:
    group = stack.target(resource.prop("DBSubnetGroupName"))
    if group is None or group.type != "AWS::RDS::DBSubnetGroup":
        return non_compliant("DBSubnetGroupName does not name a DB subnet group of this app")
    subnets = stack.targets(group.prop("SubnetIds", []))
    if not subnets:
        return non_compliant(f"subnet group {group.logical_id} has no subnet of this app")
    for subnet in subnets:
        problem = _subnet_is_isolated(subnet, stack)
        if problem:
            return non_compliant(problem)
    return COMPLIANT


ISOLATED_SUBNETS = Rule(
    id="Redundancy-IsolatedSubnets",
    info="A database instance is not in isolated subnets.",
    explanation="Isolated subnets have no route to an internet or NAT gateway, so neither a "
                "misconfigured instance nor a compromised one can reach or be reached from the "
                "internet.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_isolated_subnets,
)


def _tls_enforced(resource: Resource, stack: StackView) -> Result:
    group = stack.target(resource.prop("DBParameterGroupName"))
    if group is None or group.type != "AWS::RDS::DBParameterGroup":
        return non_compliant(f"DBParameterGroupName is {resource.prop('DBParameterGroupName')!r}, "
                             "not a parameter group of this app (the default group allows "
                             "plaintext connections)")
    family = group.prop("Family")
    try:
        tls = rds.tls_parameter(str(family))
    except ValueError:
        return non_compliant(f"parameter group {group.logical_id} has Family={family!r}, of "
                             "no engine whose TLS parameter is known "
                             f"({', '.join(rds.TLS_PARAMETERS)})")
    value = group.prop("Parameters", {}).get(tls.name)
    if not tls.enforced_by(value):
        return non_compliant(f"parameter group {group.logical_id} sets "
                             f"{tls.name}={value if value is not None else 'unset'}; "
                             f"must be {tls.value}")
    return COMPLIANT


TLS_ENFORCED = Rule(
    id="Redundancy-TlsEnforced",
    info="The database accepts unencrypted client connections.",
    explanation="Without require_secure_transport (MySQL, MariaDB) or rds.force_ssl "
                "(PostgreSQL), a client may send the password and every row in cleartext.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_tls_enforced,
)


def _ingress_rules(resource: Resource) -> list[dict[str, Any]]:
    if resource.type == "AWS::EC2::SecurityGroupIngress":
        return [dict(resource.properties)]
    return list(resource.prop("SecurityGroupIngress", []) or [])


def _no_world_ingress(resource: Resource, stack: StackView) -> Result:
    rules = _ingress_rules(resource)  # a SecurityGroupIngress is one rule
    if not rules:
        return COMPLIANT
    for rule in rules:
        source = rule.get("CidrIp") or rule.get("CidrIpv6")
        if source in _WORLD:
            ports = f"{rule.get('FromPort', 'all')}-{rule.get('ToPort', 'all')}"
            return non_compliant(f"ingress {rule.get('IpProtocol')} {ports} from {source}")
    return COMPLIANT


NO_WORLD_INGRESS = Rule(
    id="Redundancy-NoWorldIngress",
    info="A security group accepts traffic from anywhere (0.0.0.0/0 or ::/0).",
    explanation="Nothing in this app serves the internet: database and endpoint security groups "
                "admit named security groups or the VPC's own range only. An open rule on the "
                "database port exposes it to every scanner on the internet.",
    resource_types=("AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress"),
    check=_no_world_ingress,
)

def _explicit_egress(resource: Resource, stack: StackView) -> Result:
    if not resource.prop("SecurityGroupEgress"):
        return non_compliant("no inline SecurityGroupEgress: EC2 keeps its default allow-all "
                             "egress rule (separate SecurityGroupEgress resources only add to it)")
    return COMPLIANT


EXPLICIT_EGRESS = Rule(
    id="Redundancy-ExplicitEgress",
    info="A security group keeps EC2's default allow-all egress.",
    explanation="CloudFormation removes the default allow-all egress rule only when the group "
                "lists its egress inline. CDK drops its inline placeholder when a rule to "
                "another group is added as a separate resource, so allow_all_outbound=False "
                "silently allows everything out. Inline egress keeps the list authoritative.",
    resource_types=("AWS::EC2::SecurityGroup",),
    check=_explicit_egress,
)

RULES = (NOT_PUBLIC, ISOLATED_SUBNETS, TLS_ENFORCED, NO_WORLD_INGRESS, EXPLICIT_EGRESS)
