"""A primary, its read replicas, credentials, backups and alarms, composed from one config."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from config import DatabaseConfig
from constructs_lib.alarms import DatabaseAlarms
from constructs_lib.backup import DatabaseBackupPlan
from constructs_lib.credentials import DatabaseCredentials
from constructs_lib.engine import EngineSpec
from constructs_lib.instances import InstanceSettings, PrimaryDatabase, ReadReplica, monitoring_role
from constructs_lib.security import EgressTo, egress_only_to


@dataclass(frozen=True, kw_only=True)
class DisasterRecoveryTarget:
    """Where backups go to survive the loss of the region: a vault and a key in `region`."""

    region: str
    vault_arn: str
    key_arn: str


class RedundantDatabase(Construct):
    """Everything one replicated database needs, secure by default.

    Construct ids below are part of the deployed contract: renaming one changes a logical id and
    replaces the resource (for a database, with its automated backups). The review's data-loss
    guard fails on such a change.

    Network access: nothing reaches the instances except members of `clients_security_group`
    (give it to the application) and the secret-rotation function.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DatabaseConfig,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        key: kms.IKey,
        endpoint_security_group: ec2.ISecurityGroup,
        disaster_recovery: DisasterRecoveryTarget | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        cfg = config
        engine = EngineSpec(cfg.engine, cfg.engine_version)
        removal = RemovalPolicy.RETAIN if cfg.retain_on_delete else RemovalPolicy.SNAPSHOT
        settings = InstanceSettings(
            engine=engine,
            vpc=vpc,
            subnets=subnets,
            key=key,
            port=cfg.port,
            monitoring_role=monitoring_role(self, "MonitoringRole"),
            monitoring_interval=Duration.seconds(cfg.monitoring_interval_seconds),
            log_exports=cfg.log_exports,
            log_retention_days=cfg.log_retention_days,
            performance_insights=cfg.performance_insights_supported,
            removal_policy=removal,
            maintenance_window=cfg.maintenance_window,
        )
        dr = disaster_recovery
        self.credentials = DatabaseCredentials(
            self, "Credentials", username=cfg.master_username, key=key,
            replica_regions={dr.region: kms.Key.from_key_arn(self, "DrKey", dr.key_arn)}
            if dr else None)
        self.primary = PrimaryDatabase(
            self,
            "Primary",
            settings=settings,
            identifier=cfg.instance_identifier("primary"),
            instance_type=ec2.InstanceType(cfg.instance_class.removeprefix("db.")),
            credentials=self.credentials.credentials,
            database_name=cfg.database_name,
            multi_az=cfg.multi_az,
            allocated_storage_gib=cfg.allocated_storage_gib,
            max_allocated_storage_gib=cfg.max_allocated_storage_gib,
            backup_retention=Duration.days(cfg.backup_retention_days),
            backup_window=cfg.backup_window,
        )
        self.replicas = [
            ReadReplica(
                self,
                f"Replica{n}",
                settings=settings,
                source=self.primary.instance,
                identifier=cfg.instance_identifier(f"replica-{n}"),
                instance_type=ec2.InstanceType(cfg.replica_instance_class.removeprefix("db.")),
                max_allocated_storage_gib=cfg.max_allocated_storage_gib,
                backup_retention=Duration.days(cfg.backup_retention_days),
                multi_az=cfg.multi_az,
            )
            for n in range(1, cfg.replica_count + 1)
        ]

        # Who may connect: the application's security group and the rotation function. Their
        # egress goes to the database instances only (rotation also to the Secrets Manager
        # endpoint, which admits HTTPS from the VPC range). Rotation reaches the replicas too:
        # after a failover the secret names a promoted replica, and rotation must keep working.
        instances = [self.primary, *self.replicas]
        self.clients_security_group = egress_only_to(
            self, "ClientsSecurityGroup", vpc=vpc,
            description="Attach to the application: allowed into the primary and replicas",
            rules=[EgressTo(i.security_group, cfg.port, f"To {i.identifier}")
                   for i in instances])
        self.rotation_security_group = egress_only_to(
            self, "RotationSecurityGroup", vpc=vpc,
            description="Secret rotation function: to the instances and Secrets Manager only",
            rules=[EgressTo(endpoint_security_group, 443, "To the Secrets Manager endpoint"),
                   *(EgressTo(i.security_group, cfg.port, f"Rotation to {i.identifier}")
                     for i in instances)])
        db_port = ec2.Port.tcp(cfg.port)
        for instance in instances:
            instance.security_group.add_ingress_rule(
                self.clients_security_group, db_port, "Application clients")
            instance.security_group.add_ingress_rule(
                self.rotation_security_group, db_port, "Secret rotation function")

        # The secret bound to the primary (host, port, engine) and rotated by a hosted Lambda.
        self.secret = self.primary.instance.secret
        assert self.secret is not None
        self.rotation = self.secret.add_rotation_schedule(
            "Rotation",
            hosted_rotation=engine.hosted_rotation(
                vpc=vpc, vpc_subnets=subnets, security_groups=[self.rotation_security_group]),
            automatically_after=Duration.days(cfg.secret_rotation_days),
        )

        # The writer endpoint applications read; `failover` repoints it to a promoted replica.
        self.writer_endpoint = ssm.StringParameter(
            self,
            "WriterEndpoint",
            parameter_name=f"/{cfg.resource_prefix}/writer-endpoint",
            string_value=f"{self.primary.instance.db_instance_endpoint_address}:{cfg.port}",
            description="host:port of the current writer; repointed by the failover runbook",
        )

        self.backup = DatabaseBackupPlan(
            self, "Backup", database=self.primary.instance, key=key,
            copy_to=backup.BackupVault.from_backup_vault_arn(self, "DrVault", dr.vault_arn)
            if dr else None)
        if dr is not None:
            # RDS copies every automated backup (snapshots and transaction logs) to the DR region,
            # encrypted with the DR key: point-in-time restore there if the region is lost.
            l1 = self.primary.instance.node.default_child
            assert isinstance(l1, rds.CfnDBInstance)
            l1.automatic_backup_replication_region = dr.region
            l1.automatic_backup_replication_kms_key_id = dr.key_arn
            l1.automatic_backup_replication_retention_period = cfg.backup_retention_days
        self.alarms = DatabaseAlarms(
            self,
            "Alarms",
            primary=self.primary.instance,
            replicas=[(f"Replica{n}", r.instance) for n, r in enumerate(self.replicas, 1)],
            key=key,
            cpu_percent=cfg.alarms.cpu_percent,
            free_storage_bytes=cfg.allocated_storage_gib * 2**30 * cfg.alarms.free_storage_percent
            // 100,
            connections=cfg.alarms.connections,
            replica_lag_seconds=cfg.alarms.replica_lag_seconds,
        )
