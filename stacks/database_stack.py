"""The stateful stack of the env's region: key, credentials, the writer, replicas, backups and
alarms; or, after the writer moved to the DR region, the cross-region replica of it."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Fn, Stack
from constructs import Construct

from config import DatabaseConfig
from config.topology import DATABASE_STACK, DR_STACK
from constructs_lib.encryption import DatabaseKey
from constructs_lib.network import IsolatedNetwork
from constructs_lib.redundant_database import (
    DisasterRecoveryTarget,
    Member,
    RedundantDatabase,
    StandbyDatabase,
)
from stacks.props import (
    alarm_thresholds,
    instance_settings,
    instance_type,
    members,
    writer_endpoint_parameter_name,
    writer_member,
)


def writer_composition_props(config: DatabaseConfig, stack: str) -> dict[str, Any]:
    """The props of the writer's composition (`RedundantDatabase`) in the `stack` role."""
    layout = config.layout
    replicas, retired = members(layout, stack)
    return dict(
        settings=instance_settings(config),
        writer=writer_member(layout),
        replicas=replicas,
        retired=retired,
        instance_type=instance_type(config.instance_class),
        replica_instance_type=instance_type(config.replica_instance_class),
        database_name=config.database_name,
        master_username=config.master_username,
        allocated_storage_gib=config.allocated_storage_gib,
        backup_window=config.backup_window,
        secret_rotation=Duration.days(config.secret_rotation_days),
        writer_endpoint_parameter_name=writer_endpoint_parameter_name(config),
        alarm_thresholds=alarm_thresholds(config),
    )


def writer_outputs(stack: Stack, composition: RedundantDatabase, *, config: DatabaseConfig,
                   key_arn: str) -> None:
    """The outputs of the stack that holds the writer (what `ops` reads)."""
    db = composition
    outputs = {
        "PrimaryIdentifier": (db.writer.identifier, "DB instance identifier of the primary"),
        "PrimaryEndpoint": (db.writer.instance.db_instance_endpoint_address,
                            "Primary (writer) endpoint address"),
        "Port": (str(config.port), "Database port"),
        "SecretArn": (db.secret.secret_arn, "Master credentials secret (no value)"),
        "SecretName": (db.credentials.secret.secret_name,
                       "Name of the credentials secret (the same in its replica regions)"),
        "KeyArn": (key_arn, "Customer-managed KMS key"),
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
        CfnOutput(stack, name, value=value, description=description)


def writer_endpoint_of(config: DatabaseConfig, source_stack_name: str, region: str) -> str:
    """`host:port` of the writer as the stack that holds it publishes it (in `region`)."""
    return Fn.join(":", [Fn.get_stack_output(source_stack_name, "PrimaryEndpoint", region),
                         str(config.port)])


class DatabaseStack(Stack):
    """Holds every stateful resource of the env's region, so it can carry termination
    protection on its own.

    While the writer is in this region (always, unless a regional failover moved it): the
    `RedundantDatabase` of the declared layout. After the writer moved to the DR region: a
    `StandbyDatabase`, the cross-region replica of it (its source is read from
    `writer_stack_name` in `writer_region`).

    Construct ids here are frozen: they are the logical ids of deployed databases.
    Outputs carry no CloudFormation exports, so no other stack can pin these resources.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig,
                 network: IsolatedNetwork,
                 disaster_recovery: DisasterRecoveryTarget | None = None,
                 writer_stack_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id,
                         termination_protection=config.termination_protection, **kwargs)
        self.key = DatabaseKey(
            self, "Key", alias=f"alias/{config.resource_prefix}-database",
            description=f"{config.resource_prefix}: database storage, secret, logs, backups")
        layout = config.layout
        self.database: RedundantDatabase | None = None
        self.standby: StandbyDatabase | None = None
        if layout.writer_stack == DATABASE_STACK:
            self.database = RedundantDatabase(
                self, "Database", vpc=network.vpc, subnets=network.database_subnets,
                key=self.key.key, endpoint_security_group=network.endpoint_security_group,
                disaster_recovery=disaster_recovery,
                **writer_composition_props(config, DATABASE_STACK))
            writer_outputs(self, self.database, config=config,
                           key_arn=self.key.key.key_arn)
            return
        standby = layout.standby
        assert standby is not None and layout.primary_region and writer_stack_name
        _, retired = members(layout, DATABASE_STACK)
        self.standby = StandbyDatabase(
            self, "Database", settings=instance_settings(config), vpc=network.vpc,
            subnets=network.database_subnets, key=self.key.key,
            standby=Member(construct_id=standby.construct_id, identifier=standby.identifier),
            source_identifier=layout.writer.identifier, source_region=layout.primary_region,
            instance_type=instance_type(config.replica_instance_class), retired=retired,
            writer_endpoint_parameter_name=writer_endpoint_parameter_name(config),
            writer_endpoint=writer_endpoint_of(config, writer_stack_name,
                                               layout.primary_region),
            alarm_thresholds=alarm_thresholds(config))
        standby_outputs(self, replica=self.standby.standby, key_arn=self.key.key.key_arn,
                        writer_stack_name=writer_stack_name, writer_region=layout.primary_region,
                        config=config, writer_parameter=self.standby.writer_endpoint,
                        topic_arn=self.standby.topic.topic_arn,
                        clients_group_id=self.standby.clients_security_group.security_group_id)


def standby_outputs(stack: Stack, *, replica: Any, key_arn: str, writer_stack_name: str,
                    writer_region: str, config: DatabaseConfig, writer_parameter: Any,
                    topic_arn: str, clients_group_id: str, detached: bool = False) -> None:
    """The outputs of the stack that holds the cross-region replica of the writer (`detached`:
    the replica a DR rebuild detached, which serves no one: `DetachedIdentifier` and
    `DetachedEndpoint` name it instead of `ReplicaIdentifier` and `ReplicaEndpoint`)."""
    kind = "Detached" if detached else "Replica"
    what = ("DR replica detached for a rebuild (standalone, fenced)" if detached
            else "Cross-region read replica")
    for name, value, description in (
        (f"{kind}Identifier", replica.identifier, what),
        # A replica secret keeps its primary's name: the name finds it in this region when
        # the writer's region does not answer.
        ("SecretName", Fn.get_stack_output(writer_stack_name, "SecretName", writer_region),
         "Name of the credentials secret, replicated read-only to this region (no value)"),
        (f"{kind}Endpoint", replica.instance.db_instance_endpoint_address,
         f"{what} endpoint address"),
        ("SourceRegion", writer_region, "Region of the primary"),
        ("Port", str(config.port), "Database port"),
        ("KeyArn", key_arn, "DR-region CMK of the replica"),
        ("WriterEndpointParameter", writer_parameter.parameter_name,
         "SSM parameter (DR region) holding the current writer host:port"),
        ("AlarmTopicArn", topic_arn, "SNS topic of the DR replica-lag alarm"),
        ("ClientsSecurityGroupId", clients_group_id,
         "Security group to attach to application clients in the DR region"),
    ):
        CfnOutput(stack, name, value=value, description=description)


__all__ = ["DR_STACK", "DatabaseStack", "standby_outputs", "writer_composition_props",
           "writer_endpoint_of", "writer_outputs"]
