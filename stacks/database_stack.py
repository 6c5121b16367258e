"""The stateful stack: key, credentials, primary, replicas, backups and alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from config import DatabaseConfig
from constructs_lib.encryption import DatabaseKey
from constructs_lib.network import IsolatedNetwork
from constructs_lib.redundant_database import DisasterRecoveryTarget, RedundantDatabase


class DatabaseStack(Stack):
    """Holds every stateful resource, so it can carry termination protection on its own.

    Construct ids here are frozen: they are the logical ids of deployed databases.
    Outputs carry no CloudFormation exports, so no other stack can pin these resources.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig,
                 network: IsolatedNetwork,
                 disaster_recovery: DisasterRecoveryTarget | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id,
                         termination_protection=config.termination_protection, **kwargs)
        self.key = DatabaseKey(
            self, "Key", alias=f"alias/{config.resource_prefix}-database",
            description=f"{config.resource_prefix}: database storage, secret, logs, backups")
        self.database = RedundantDatabase(
            self,
            "Database",
            config=config,
            vpc=network.vpc,
            subnets=network.database_subnets,
            key=self.key.key,
            endpoint_security_group=network.endpoint_security_group,
            disaster_recovery=disaster_recovery,
        )
        db = self.database
        outputs = {
            "PrimaryIdentifier": (db.primary.identifier, "DB instance identifier of the primary"),
            "PrimaryEndpoint": (db.primary.instance.db_instance_endpoint_address,
                                "Primary (writer) endpoint address"),
            "Port": (str(config.port), "Database port"),
            "SecretArn": (db.secret.secret_arn, "Master credentials secret (no value)"),
            "SecretName": (db.credentials.secret.secret_name,
                           "Name of the credentials secret (the same in its replica regions)"),
            "KeyArn": (self.key.key.key_arn, "Customer-managed KMS key"),
            "WriterEndpointParameter": (db.writer_endpoint.parameter_name,
                                        "SSM parameter holding the current writer host:port"),
            "ClientsSecurityGroupId": (db.clients_security_group.security_group_id,
                                       "Security group to attach to application clients"),
            "AlarmTopicArn": (db.alarms.topic.topic_arn, "SNS topic of the database alarms"),
            "BackupPlanId": (db.backup.plan.backup_plan_id, "AWS Backup plan of the primary"),
        }
        for n, replica in enumerate(db.replicas, 1):
            outputs[f"Replica{n}Identifier"] = (replica.identifier, f"Read replica {n}")
            outputs[f"Replica{n}Endpoint"] = (replica.instance.db_instance_endpoint_address,
                                              f"Read replica {n} endpoint address")
        for name, (value, description) in outputs.items():
            CfnOutput(self, name, value=value, description=description)
