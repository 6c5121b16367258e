"""An isolated network for databases: no internet route, flow logs, closed default group."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib.encryption import restrict_grants_to_aws_services


class IsolatedNetwork(Construct):
    """A VPC with only isolated subnets (no internet or NAT gateway) in at least two AZs.

    - Flow logs of all traffic go to a CloudWatch log group encrypted with `flow_log_key`
      (default: a new key with rotation on) and kept `flow_log_retention`.
    - The default security group is stripped of its rules (CDK's RestrictDefaultSecurityGroup).
    - A Secrets Manager interface endpoint lets the secret-rotation Lambda reach the service
      without an internet route.
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
        flow_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
    ) -> None:
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


__all__ = ["IsolatedNetwork"]
