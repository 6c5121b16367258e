"""A primary, its read replicas, credentials, backups and alarms, composed from typed props."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from constructs_lib.alarms import AlarmThresholds, DatabaseAlarms
from constructs_lib.backup import DatabaseBackupPlan
from constructs_lib.credentials import DatabaseCredentials, check_username
from constructs_lib.instances import (ISOLATED_SUBNETS, InstanceSettings, PrimaryDatabase,
                                      ReadReplica, check_allocated_storage, monitoring_role)
from constructs_lib.security import EgressTo, admit, clients_security_group, egress_only_to
from constructs_lib.validation import db_identifier, distinct, invalid, other_region, whole_days
from constructs_lib.writer_endpoint import check_parameter_name, writer_endpoint_parameter


@dataclass(frozen=True, kw_only=True)
class DisasterRecoveryTarget:
    """Where backups go to survive the loss of the region: a vault and a key in `region`.

    ARNs, not objects: the vault and the key belong to a stack of another region, which this
    region can only read through `Fn::GetStackOutput` (no cross-region object references).
    """

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

    Props:
    - `settings`: what the primary and every replica share (`InstanceSettings`).
    - `vpc`, `subnets`: where the instances and the rotation function run; subnets default to
      the VPC's isolated ones.
    - `key`: the CMK of storage, Performance Insights, logs, secret, backups and alarm topic.
    - `endpoint_security_group`: the group of the VPC's Secrets Manager interface endpoint, which
      the rotation function reaches over HTTPS.
    - `primary_identifier`: DB instance identifier of the primary (create-only).
    - `replica_identifiers`: one same-region read replica per identifier; at least one, all
      distinct and different from the primary's.
    - `instance_type`: the primary's class; `replica_instance_type` the replicas' (default: the
      primary's).
    - `database_name`: the database created on the primary.
    - `master_username`: default 'dbadmin'; its password is generated into a secret.
    - `allocated_storage_gib`: default 50; `backup_window`: default: one RDS picks.
    - `secret_rotation`: default 30 days; whole days from 1 to 365.
    - `writer_endpoint_parameter_name`: the SSM parameter holding the writer's host:port.
    - `alarm_thresholds`: default `AlarmThresholds()`.
    - `disaster_recovery`: default none; otherwise the secret is replicated to its region, every
      recovery point copied to its vault, and automated backups replicated there with its key.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: InstanceSettings,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection = ISOLATED_SUBNETS,
        key: kms.IKey,
        endpoint_security_group: ec2.ISecurityGroup,
        primary_identifier: str,
        replica_identifiers: Sequence[str],
        instance_type: ec2.InstanceType,
        replica_instance_type: ec2.InstanceType | None = None,
        database_name: str,
        master_username: str = "dbadmin",
        allocated_storage_gib: int = 50,
        backup_window: str | None = None,
        secret_rotation: Duration = Duration.days(30),
        writer_endpoint_parameter_name: str,
        alarm_thresholds: AlarmThresholds = AlarmThresholds(),
        disaster_recovery: DisasterRecoveryTarget | None = None,
    ) -> None:
        owner = "RedundantDatabase"
        if not replica_identifiers:
            raise invalid(owner, "replica_identifiers", list(replica_identifiers),
                          "at least one read replica: a failover needs a reader to promote")
        db_identifier(owner, "primary_identifier", primary_identifier)
        for identifier in replica_identifiers:
            db_identifier(owner, "replica_identifiers", identifier)
        distinct(owner, "replica_identifiers", (primary_identifier, *replica_identifiers))
        check_allocated_storage(owner, "allocated_storage_gib", allocated_storage_gib, settings)
        rotation_days = whole_days(owner, "secret_rotation", secret_rotation, 1, 365)
        check_username(owner, "master_username", master_username)
        check_parameter_name(owner, "writer_endpoint_parameter_name",
                             writer_endpoint_parameter_name)
        dr = disaster_recovery
        if dr is not None:
            other_region(owner, "disaster_recovery.region", dr.region, scope,
                         "a copy in the same region does not survive the loss of the region")
        super().__init__(scope, construct_id)
        port = settings.port
        role = monitoring_role(self, "MonitoringRole")
        self.credentials = DatabaseCredentials(
            self, "Credentials", username=master_username, key=key,
            replica_regions={dr.region: kms.Key.from_key_arn(self, "DrKey", dr.key_arn)}
            if dr else None)
        placement = dict(settings=settings, vpc=vpc, subnets=subnets, key=key,
                         monitoring_role=role)
        self.primary = PrimaryDatabase(
            self,
            "Primary",
            **placement,
            identifier=primary_identifier,
            instance_type=instance_type,
            credentials=self.credentials.credentials,
            database_name=database_name,
            allocated_storage_gib=allocated_storage_gib,
            backup_window=backup_window,
        )
        self.replicas = [
            ReadReplica(self, f"Replica{n}", **placement, source=self.primary.instance,
                        identifier=identifier,
                        instance_type=replica_instance_type or instance_type)
            for n, identifier in enumerate(replica_identifiers, 1)
        ]

        # Who may connect: the application's security group and the rotation function. Their
        # egress goes to the database instances only (rotation also to the Secrets Manager
        # endpoint, whose network admits the groups it is given). Rotation reaches the replicas
        # too: after a failover the secret names a promoted replica, and rotation must keep
        # working.
        instances = [self.primary, *self.replicas]
        self.clients_security_group = clients_security_group(
            self, "ClientsSecurityGroup", vpc=vpc, members=instances, port=port,
            description="Attach to the application: allowed into the primary and replicas")
        self.rotation_security_group = egress_only_to(
            self, "RotationSecurityGroup", vpc=vpc,
            description="Secret rotation function: to the instances and Secrets Manager only",
            rules=[EgressTo(endpoint_security_group, 443, "To the Secrets Manager endpoint"),
                   *(EgressTo(i.security_group, port, f"Rotation to {i.identifier}")
                     for i in instances)])
        admit(instances, self.rotation_security_group, port, "Secret rotation function")

        # The secret bound to the primary (host, port, engine) and rotated by a hosted Lambda.
        self.secret = self.primary.instance.secret
        assert self.secret is not None
        self.rotation = self.secret.add_rotation_schedule(
            "Rotation",
            hosted_rotation=settings.engine.hosted_rotation(
                vpc=vpc, vpc_subnets=subnets, security_groups=[self.rotation_security_group]),
            automatically_after=Duration.days(rotation_days),
        )

        # The writer endpoint applications read; `failover` repoints it to a promoted replica.
        self.writer_endpoint = writer_endpoint_parameter(
            self, "WriterEndpoint", parameter_name=writer_endpoint_parameter_name,
            endpoint=f"{self.primary.instance.db_instance_endpoint_address}:{port}",
            description="host:port of the current writer; repointed by the failover runbook")

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
            l1.automatic_backup_replication_retention_period = int(
                settings.backup_retention.to_days())
        self.alarms = DatabaseAlarms(
            self,
            "Alarms",
            primary=self.primary.instance,
            replicas=[(f"Replica{n}", r.instance) for n, r in enumerate(self.replicas, 1)],
            key=key,
            allocated_storage_gib=allocated_storage_gib,
            thresholds=alarm_thresholds,
        )
