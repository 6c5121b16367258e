"""An isolated network for databases: no internet route, flow logs, closed default group."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cloud_assembly.baseline import MIN_LOG_RETENTION_DAYS
from constructs_lib.encryption import restrict_grants_to_aws_services
from constructs_lib.logs import retention_period
from constructs_lib.validation import invalid, log_retention_days

_SUBNET_PREFIX = 24  # one /24 database subnet per AZ


class IsolatedNetwork(Construct):
    """A VPC with only isolated subnets (no internet or NAT gateway) in at least two AZs.

    - Flow logs of all traffic go to a CloudWatch log group encrypted with `flow_log_key`
      and kept `flow_log_retention_days`.
    - The default security group is stripped of its rules (CDK's RestrictDefaultSecurityGroup).
    - A Secrets Manager interface endpoint lets the secret-rotation Lambda reach the service
      without an internet route.

    Props:
    - `cidr`: the VPC's literal IPv4 range, /16 or smaller with room for a /24 subnet per AZ
      (the endpoint's ingress rule names it, so policy rules can read the peer).
    - `availability_zones`: default none: `max_azs` AZs of the region; otherwise at least two.
    - `max_azs`: default 2; at least 2. Used only without `availability_zones`.
    - `flow_log_key`: default: a new key with rotation on, retained.
    - `flow_log_retention_days`: default `MIN_LOG_RETENTION_DAYS` (365); one of
      `cloud_assembly.rds.LOG_RETENTION_DAYS`, never less than the default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        availability_zones: Sequence[str] = (),
        max_azs: int = 2,
        flow_log_key: kms.IKey | None = None,
        flow_log_retention_days: int = MIN_LOG_RETENTION_DAYS,
    ) -> None:
        _validate(cidr, availability_zones, max_azs)
        flow_log_retention = retention_period(log_retention_days(
            "IsolatedNetwork", "flow_log_retention_days", flow_log_retention_days))
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            availability_zones=list(availability_zones) or None,
            max_azs=None if availability_zones else max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
            restrict_default_security_group=True,
        )
        self.flow_log_key = flow_log_key or kms.Key(
            self,
            "FlowLogKey",
            description="Encrypts the VPC flow log group",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        if isinstance(self.flow_log_key, kms.Key):
            restrict_grants_to_aws_services(self.flow_log_key)
        # CloudWatch Logs encrypts with the key on the log group's behalf.
        self.flow_log_key.grant_encrypt_decrypt(
            iam.ServicePrincipal(f"logs.{Stack.of(self).region}.amazonaws.com")
        )
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            encryption_key=self.flow_log_key,
            retention=flow_log_retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The delivery role gets a customer-managed policy scoped to this log group (no inline
        # policy, no AWS-managed policy).
        flow_log_role = iam.Role(
            self, "FlowLogRole", assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"))
        iam.ManagedPolicy(
            self,
            "FlowLogPolicy",
            roles=[flow_log_role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents",
                             "logs:DescribeLogStreams"],
                    resources=[self.flow_log_group.log_group_arn],
                )
            ],
        )
        # L1 on purpose: the L2 flow log adds an inline PassRole policy to the role.
        self.flow_log = ec2.CfnFlowLog(
            self,
            "FlowLog",
            resource_id=self.vpc.vpc_id,
            resource_type="VPC",
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_group_name=self.flow_log_group.log_group_name,
            deliver_logs_permission_arn=flow_log_role.role_arn,
            max_aggregation_interval=60,
        )
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Interface endpoints: HTTPS from inside the VPC only",
            allow_all_outbound=False,
        )
        # The literal CIDR, not the VPC's token, so policy rules can read the peer.
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(cidr), ec2.Port.tcp(443),
            "HTTPS from the VPC to AWS service endpoints",
        )
        self.secrets_manager_endpoint = self.vpc.add_interface_endpoint(
            "SecretsManagerEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            private_dns_enabled=True,
            open=False,  # ingress comes from endpoint_security_group's literal-CIDR rule above
            security_groups=[self.endpoint_security_group],
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        )

    @property
    def database_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


def _validate(cidr: str, availability_zones: Sequence[str], max_azs: int) -> None:
    owner = "IsolatedNetwork"
    if availability_zones and len(set(availability_zones)) < 2:
        raise invalid(owner, "availability_zones", tuple(availability_zones),
                      "at least two distinct AZs, or none for `max_azs` AZs of the region")
    if not availability_zones and max_azs < 2:
        raise invalid(owner, "max_azs", max_azs, "at least 2: a database spans two AZs")
    azs = len(set(availability_zones)) or max_azs
    most = _SUBNET_PREFIX - math.ceil(math.log2(azs))
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError:
        network = None
    if network is None or not 16 <= network.prefixlen <= most:
        raise invalid(owner, "cidr", cidr, f"a literal IPv4 network from /16 to /{most}, with "
                      f"room for a /{_SUBNET_PREFIX} subnet in each of {azs} AZs")


__all__ = ["IsolatedNetwork"]
