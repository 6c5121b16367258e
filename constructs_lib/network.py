"""An isolated network for databases: no internet route, flow logs, closed default group."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cloud_assembly.baseline import (
    DATABASE_SUBNET_PREFIX,
    MIN_AVAILABILITY_ZONES,
    MIN_LOG_RETENTION_DAYS,
    vpc_prefixes,
)
from constructs_lib.encryption import restrict_grants_to_aws_services
from constructs_lib.logs import retention_period
from constructs_lib.validation import invalid, log_retention_days

_HTTPS = 443


class IsolatedNetwork(Construct):
    """A VPC with only isolated subnets (no internet or NAT gateway) in at least two AZs.

    - Flow logs of all traffic go to a CloudWatch log group encrypted with `flow_log_key`
      and kept `flow_log_retention_days`.
    - The default security group is stripped of its rules (CDK's RestrictDefaultSecurityGroup).
    - A Secrets Manager interface endpoint lets the secret-rotation function and the
      applications reach the service without an internet route. It admits no one and serves no
      secret until told: `admit_to_endpoints` names the security groups that may use it,
      `allow_secret` the secrets its policy lets through (GetRandomPassword, which names no
      secret, is always allowed).

    Props:
    - `cidr`: the VPC's literal IPv4 range, /16 or smaller with room for a /24 subnet per AZ.
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
        max_azs: int = MIN_AVAILABILITY_ZONES,
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
                    name="Database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED,
                    cidr_mask=DATABASE_SUBNET_PREFIX,
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
        self.secrets_manager_endpoint = self.vpc.add_interface_endpoint(
            "SecretsManagerEndpoint",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            private_dns_enabled=True,
            open=False,  # ingress: the groups given to admit_to_endpoints, nothing else
            security_groups=[self.endpoint_security_group],
            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        )
        # Rotation asks for a new password without naming a secret.
        self.secrets_manager_endpoint.add_to_policy(iam.PolicyStatement(
            principals=[iam.AnyPrincipal()], actions=["secretsmanager:GetRandomPassword"],
            resources=["*"]))

    @property
    def database_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

    def admit_to_endpoints(self, *groups: ec2.ISecurityGroup, description: str) -> None:
        """HTTPS from each of `groups` to the VPC's interface endpoints.

        Each rule is an `AWS::EC2::SecurityGroupIngress` created as a child of its group, so it
        belongs to the group's stack: the network's stack, deployed before the stacks that use
        it, never names their groups (that reference would be a dependency cycle).
        """
        for group in groups:
            # Every ISecurityGroup is a Construct; jsii's stub of the interface does not say so.
            ec2.CfnSecurityGroupIngress(
                group,  # type: ignore[arg-type]
                "HttpsToEndpoints", ip_protocol="tcp", from_port=_HTTPS, to_port=_HTTPS,
                group_id=self.endpoint_security_group.security_group_id,
                source_security_group_id=group.security_group_id, description=description)

    def allow_secret(self, secret: secretsmanager.Secret) -> None:
        """Let the Secrets Manager endpoint serve every action on `secret`, or on its replica
        when the secret belongs to another region (a replica keeps the secret's name).

        The endpoint policy names the secret by the ARN of its name in this network's region
        and account, never by a reference: the secret's stack is deployed after the network's
        (or in another region), and a reference would make the network depend on it. A secret
        without a `Name` is named by CloudFormation `<logical id>-<random>`; Secrets Manager
        adds `-<6 random characters>` to every secret's ARN.
        """
        cfn = secret.node.default_child
        if not isinstance(cfn, secretsmanager.CfnSecret):
            raise invalid("IsolatedNetwork", "allow_secret", secret.node.path,
                          "a secret defined in this app (an AWS::SecretsManager::Secret)")
        home = Stack.of(cfn)
        given = home.resolve(cfn.name)
        if given is None:
            name = f"{home.resolve(cfn.logical_id)}-*"
        elif isinstance(given, str):
            name = f"{given}-??????"
        else:
            raise invalid("IsolatedNetwork", "allow_secret", given,
                          "a secret with a literal Name, or none (CloudFormation names it)")
        self.secrets_manager_endpoint.add_to_policy(iam.PolicyStatement(
            principals=[iam.AnyPrincipal()], actions=["secretsmanager:*"],
            resources=[Stack.of(self).format_arn(
                service="secretsmanager", resource="secret", resource_name=name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME)]))


def _validate(cidr: str, availability_zones: Sequence[str], max_azs: int) -> None:
    owner = "IsolatedNetwork"
    if availability_zones and len(set(availability_zones)) < MIN_AVAILABILITY_ZONES:
        raise invalid(owner, "availability_zones", tuple(availability_zones),
                      "at least two distinct AZs, or none for `max_azs` AZs of the region")
    if not availability_zones and max_azs < MIN_AVAILABILITY_ZONES:
        raise invalid(owner, "max_azs", max_azs, "at least 2: a database spans two AZs")
    azs = len(set(availability_zones)) or max_azs
    prefixes = vpc_prefixes(azs)
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError:
        network = None
    if network is None or network.prefixlen not in prefixes:
        raise invalid(owner, "cidr", cidr, f"a literal IPv4 network from /{prefixes[0]} to "
                      f"/{prefixes[-1]}, with room for a /{DATABASE_SUBNET_PREFIX} subnet in "
                      f"each of {azs} AZs")


__all__ = ["IsolatedNetwork"]
