"""Disaster recovery in a second region: a key and a backup vault that exist before the primary
(its backups are copied there), then a cross-region read replica of the primary."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from config import DatabaseConfig
from constructs_lib.encryption import DatabaseKey
from constructs_lib.engine import EngineSpec
from constructs_lib.instances import CrossRegionSource, InstanceSettings, ReadReplica
from constructs_lib.instances import monitoring_role
from constructs_lib.network import IsolatedNetwork
from constructs_lib.security import EgressTo, egress_only_to


class DrFoundationStack(Stack):
    """The DR region's CMK and backup vault (stateful; deployed before the primary's stack,
    which copies its backups here). Outputs `KeyArn` and `VaultArn`, read by the primary region
    with `Fn::GetStackOutput` (no export, no custom resource)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id,
                         termination_protection=config.termination_protection, **kwargs)
        self.key = DatabaseKey(
            self, "Key", alias=f"alias/{config.resource_prefix}-dr",
            description=f"{config.resource_prefix}: DR replica, copied backups (DR region)")
        self.vault = backup.BackupVault(
            self, "Vault", encryption_key=self.key.key, removal_policy=RemovalPolicy.RETAIN,
            block_recovery_point_deletion=True)
        CfnOutput(self, "KeyArn", value=self.key.key.key_arn,
                  description="DR-region CMK (replica storage, replicated backups)")
        CfnOutput(self, "VaultArn", value=self.vault.backup_vault_arn,
                  description="DR-region backup vault receiving copies of the primary's backups")


class DrReplicaStack(Stack):
    """A cross-region read replica of the primary, encrypted with its own DR-region key, with its
    subnet group, security group, parameter group, monitoring and deletion protection; a
    replica-lag alarm and a writer-endpoint parameter in the DR region (which the regional
    failover repoints when the primary region is gone)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig,
                 network: IsolatedNetwork, source_region: str, source_stack_name: str,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id,
                         termination_protection=config.termination_protection, **kwargs)
        cfg = config
        engine = EngineSpec(cfg.engine, cfg.engine_version)
        # A key of this stack for the replica's storage, Performance Insights, logs and alarms
        # (the foundation's key protects the backups): local references, which AWS Control
        # Tower's cfn-guard controls can follow, and a smaller blast radius per key.
        self.key = DatabaseKey(
            self, "Key", alias=f"alias/{cfg.resource_prefix}-dr-replica",
            description=f"{cfg.resource_prefix}: DR replica storage, logs, alarms")
        key = self.key.key
        source_identifier = cfg.instance_identifier("primary")
        source_arn = (f"arn:{self.partition}:rds:{source_region}:{self.account}:db:"
                      f"{source_identifier}")
        settings = InstanceSettings(
            engine=engine, vpc=network.vpc, subnets=network.database_subnets, key=key,
            port=cfg.port, monitoring_role=monitoring_role(self, "MonitoringRole"),
            monitoring_interval=Duration.seconds(cfg.monitoring_interval_seconds),
            log_exports=cfg.log_exports, log_retention_days=cfg.log_retention_days,
            performance_insights=cfg.performance_insights_supported,
            removal_policy=RemovalPolicy.RETAIN if cfg.retain_on_delete
            else RemovalPolicy.SNAPSHOT,
            maintenance_window=cfg.maintenance_window)
        # The source as CDK sees it (engine, port); its ARN is set explicitly on the replica.
        source = _imported_source(self, cfg, engine, source_identifier)
        self.replica = ReadReplica(
            self, "Replica", settings=settings, source=source,
            identifier=cfg.instance_identifier("dr-replica"),
            instance_type=ec2.InstanceType(cfg.replica_instance_class.removeprefix("db.")),
            max_allocated_storage_gib=cfg.max_allocated_storage_gib,
            backup_retention=Duration.days(cfg.backup_retention_days),
            multi_az=cfg.multi_az,
            cross_region=CrossRegionSource(arn=source_arn, region=source_region))
        # Applications in the DR region attach this group to reach the replica (and, after a
        # regional failover, the new writer).
        self.clients_security_group = egress_only_to(
            self, "ClientsSecurityGroup", vpc=network.vpc,
            description="Attach to the application in the DR region: allowed into the replica",
            rules=[EgressTo(self.replica.security_group, cfg.port,
                            f"To {self.replica.identifier}")])
        self.replica.security_group.add_ingress_rule(
            self.clients_security_group, ec2.Port.tcp(cfg.port), "Application clients")
        self.topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        lag = self.replica.instance.metric("ReplicaLag", period=Duration.minutes(5),
                                           statistic="Maximum").create_alarm(
            self, "ReplicaLag", threshold=cfg.alarms.replica_lag_seconds,
            evaluation_periods=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            alarm_description=f"DR replica more than {cfg.alarms.replica_lag_seconds}s behind "
                              "the primary for 15 minutes: the regional RPO is growing")
        lag.add_alarm_action(actions.SnsAction(self.topic))
        lag.add_ok_action(actions.SnsAction(self.topic))
        self.writer_endpoint = ssm.StringParameter(
            self, "WriterEndpoint",
            parameter_name=f"/{cfg.resource_prefix}/writer-endpoint",
            string_value=Fn.join(":", [
                Fn.get_stack_output(source_stack_name, "PrimaryEndpoint", source_region),
                str(cfg.port)]),
            description="host:port of the current writer, as seen from the DR region; repointed "
                        "to the DR replica by `failover --region-dr`")
        for name, value, description in (
            ("ReplicaIdentifier", self.replica.identifier, "Cross-region read replica"),
            # A replica secret keeps its primary's name: the name finds it in this region when
            # the primary region does not answer.
            ("SecretName", Fn.get_stack_output(source_stack_name, "SecretName", source_region),
             "Name of the credentials secret, replicated read-only to this region (no value)"),
            ("ReplicaEndpoint", self.replica.instance.db_instance_endpoint_address,
             "Cross-region read replica endpoint address"),
            ("SourceRegion", source_region, "Region of the primary"),
            ("Port", str(cfg.port), "Database port"),
            ("KeyArn", key.key_arn, "DR-region CMK of the replica"),
            ("WriterEndpointParameter", self.writer_endpoint.parameter_name,
             "SSM parameter (DR region) holding the current writer host:port"),
            ("AlarmTopicArn", self.topic.topic_arn, "SNS topic of the DR replica-lag alarm"),
            ("ClientsSecurityGroupId", self.clients_security_group.security_group_id,
             "Security group to attach to application clients in the DR region"),
        ):
            CfnOutput(self, name, value=value, description=description)


def _imported_source(scope: Construct, cfg: DatabaseConfig, engine: EngineSpec,
                     identifier: str) -> Any:
    from aws_cdk import aws_rds as rds

    return rds.DatabaseInstance.from_database_instance_attributes(
        scope, "Source", instance_identifier=identifier,
        instance_endpoint_address=f"{identifier}.invalid", port=cfg.port,
        security_groups=[], engine=engine.instance_engine)
