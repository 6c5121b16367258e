"""The customer-managed key that protects everything a database stores."""

from __future__ import annotations

import re

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib.validation import invalid

# KMS alias names: 'alias/' then letters, digits, / _ -; 'alias/aws/' is reserved for AWS.
_ALIAS = re.compile(r"^alias/(?!aws/)[A-Za-z0-9/_-]{1,250}$")


def restrict_grants_to_aws_services(key: kms.Key) -> None:
    """Only AWS services acting for a resource may create grants on `key` (Control Tower
    CT.KMS.PR.3): a leaked IAM credential with kms:CreateGrant cannot delegate the key."""
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyGrantsExceptForAwsServices",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["kms:CreateGrant"],
            resources=["*"],
            conditions={"BoolIfExists": {"kms:GrantIsForAWSResource": "false",
                                         "aws:PrincipalIsAWSService": "false"}},
        )
    )


class DatabaseKey(Construct):
    """A symmetric KMS key with yearly rotation, retained when its stack is deleted.

    One key encrypts the database storage, Performance Insights, the credentials secret, the
    database log groups, the backup vault and the alarm topic. The key policy lets the two services
    that encrypt without a caller's grant use it: CloudWatch Logs (log groups in this account and
    region) and CloudWatch (alarm notifications to the encrypted topic). Grants can only be
    created for AWS resources (RDS, Secrets Manager, Backup create theirs that way).

    Props:
    - `alias`: 'alias/<name>' (not under 'alias/aws/', which AWS reserves).
    - `description`: what the key protects, shown in the KMS console.
    """

    def __init__(self, scope: Construct, construct_id: str, *, alias: str, description: str) -> None:
        if not _ALIAS.match(alias):
            raise invalid("DatabaseKey", "alias", alias, "'alias/' then letters, digits, / _ - "
                          "(not under 'alias/aws/', which AWS reserves)")
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            alias=alias,
            description=description,
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            pending_window=Duration.days(30),
            removal_policy=RemovalPolicy.RETAIN,
        )
        restrict_grants_to_aws_services(self.key)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                         "kms:Describe*"],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn":
                            f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"
                    }
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
