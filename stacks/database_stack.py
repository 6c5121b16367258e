"""The stateful stack: key, credentials, primary, replicas, backups and alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from constructs import Construct

from config import DatabaseConfig
from constructs_lib.encryption import DatabaseKey
from constructs_lib.network import IsolatedNetwork
from constructs_lib.redundant_database import DisasterRecoveryTarget, RedundantDatabase
from stacks.props import (alarm_thresholds, instance_settings, instance_type,
                          writer_endpoint_parameter_name)


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
            settings=instance_settings(config),
            vpc=network.vpc,
            subnets=network.database_subnets,
            key=self.key.key,
            endpoint_security_group=network.endpoint_security_group,
            primary_identifier=config.instance_identifier("primary"),
            replica_identifiers=[config.instance_identifier(f"replica-{n}")
                                 for n in range(1, config.replica_count + 1)],
            instance_type=instance_type(config.instance_class),
            replica_instance_type=instance_type(config.replica_instance_class),
            database_name=config.database_name,
            master_username=config.master_username,
            allocated_storage_gib=config.allocated_storage_gib,
            backup_window=config.backup_window,
            secret_rotation=Duration.days(config.secret_rotation_days),
            writer_endpoint_parameter_name=writer_endpoint_parameter_name(config),
            alarm_thresholds=alarm_thresholds(config),
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
