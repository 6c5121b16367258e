"""A writer, its read replicas, credentials, backups and alarms, composed from typed props."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from constructs_lib.alarms import AlarmThresholds, DatabaseAlarms, alarm_topic, replica_lag_alarm
from constructs_lib.backup import DatabaseBackupPlan, locked_vault
from constructs_lib.credentials import DatabaseCredentials, check_username
from constructs_lib.engine import EngineSpec
from constructs_lib.instances import (
    ISOLATED_SUBNETS,
    InstanceSettings,
    PrimaryDatabase,
    PromotedReplica,
    ReadReplica,
    RetiredInstance,
    check_allocated_storage,
    monitoring_role,
)
from constructs_lib.security import EgressTo, admit, clients_security_group, egress_only_to
from constructs_lib.validation import db_identifier, distinct, invalid, other_region, whole_days
from constructs_lib.writer_endpoint import check_parameter_name, writer_endpoint_parameter

CLIENTS_DESCRIPTION = "Attach to the application: allowed into the primary and replicas"
WRITER_ENDPOINT_DESCRIPTION = ("host:port of the current writer; repointed by the failover "
                               "runbook")


@dataclass(frozen=True, kw_only=True)
class DisasterRecoveryTarget:
    """Where backups go to survive the loss of the region: a vault and a key in `region`.

    ARNs, not objects: the vault and the key belong to a stack of another region, which this
    region can only read through `Fn::GetStackOutput` (no cross-region object references).
    """

    region: str
    vault_arn: str
    key_arn: str


@dataclass(frozen=True, kw_only=True)
class Member:
    """One DB instance of the composition: its construct id (which makes its logical id, so it
    is frozen once deployed) and its DB instance identifier (create-only)."""

    construct_id: str
    identifier: str


@dataclass(frozen=True, kw_only=True)
class Promoted(Member):
    """The writer is a read replica that a failover promoted (`PromotedReplica`): rendered at
    its construct id, as the replica it was, without its source.

    - `source_identifier`: the instance it was created as a replica of;
    - `source_region`: that instance's region, for a promoted cross-region replica;
    - `new_password`: it takes its master password from this composition's secret (a writer
      that moved to the secret's region from another one); default False: it keeps the password
      it inherited, which the secret already holds.
    """

    source_identifier: str
    source_region: str | None = None
    new_password: bool = False


@dataclass(frozen=True, kw_only=True)
class Retired(Member):
    """A former writer (or a detached DR replica), retained outside the stack: only its fenced
    leftovers are rendered (`RetiredInstance`). `created_as_primary`: it was created as a
    primary (else as a read replica), which its security group's create-only description says.
    `engine_version`: the version it last ran, whose family its parameter and option groups
    keep (create-only); default None: the composition's `settings.engine`."""

    created_as_primary: bool
    engine_version: str | None = None


def retired_leftovers(scope: Construct, retired: Sequence[Retired], *,
                      settings: InstanceSettings, vpc: ec2.IVpc, subnets: ec2.SubnetSelection,
                      key: kms.IKey) -> list[RetiredInstance]:
    """The fenced leftovers of each retired member, at its construct id under `scope`, with the
    parameter and option groups of the version it last ran."""
    return [
        RetiredInstance(scope, member.construct_id,
                        kind="Primary database" if member.created_as_primary
                        else "Read replica", identifier=member.identifier,
                        settings=dataclasses.replace(
                            settings, engine=EngineSpec(name=settings.engine.name,
                                                        version=member.engine_version),
                            replica_engine=None) if member.engine_version else settings,
                        vpc=vpc, subnets=subnets, key=key)
        for member in retired
    ]


class RedundantDatabase(Construct):
    """Everything one replicated database needs, secure by default.

    Given the id `Default`, which CDK leaves out of logical ids, it adds no level to them: the DR
    stack, whose deployed constructs sit at its top level, holds a promoted cross-region replica
    as the writer this way without renaming (hence replacing) it.

    Construct ids below are part of the deployed contract: renaming one changes a logical id and
    replaces the resource (for a database, with its automated backups). The review's data-loss
    guard fails on such a change. Children: `MonitoringRole`, `Credentials`, the
    writer and each replica at their own construct ids, each retired writer's leftovers,
    `ClientsSecurityGroup`, `RotationSecurityGroup`, `WriterEndpoint`, `Backup`, `Alarms`.

    Network access: nothing reaches the instances except members of `clients_security_group`
    (give it to the application) and the secret-rotation function; a retired writer admits no
    one.

    Props:
    - `settings`: what the writer and every replica share (`InstanceSettings`).
    - `vpc`, `subnets`: where the instances and the rotation function run; subnets default to
      the VPC's isolated ones.
    - `key`: the CMK of storage, Performance Insights, logs, secret, backups and alarm topic.
    - `endpoint_security_group`: the group of the VPC's Secrets Manager interface endpoint, which
      the rotation function reaches over HTTPS.
    - `writer`: a `Member` to create as a new primary, or a `Promoted` read replica.
    - `replicas`: one same-region read replica of the writer per `Member`; at least one.
    - `retired`: default none; the former writers whose leftovers stay (`Retired`).
      Identifiers of the writer, the replicas and the retired writers are all distinct.
    - `instance_type`: a new primary's class; `replica_instance_type` the replicas' and a
      promoted writer's, which keeps the class it had (default: `instance_type`).
    - `database_name`: the database created on a new primary.
    - `master_username`: default 'dbadmin'; its password is generated into a secret.
    - `allocated_storage_gib`: default 50; `backup_window`: default: one RDS picks.
    - `secret_rotation`: default 30 days; whole days from 1 to 365.
    - `writer_endpoint_parameter_name`: the SSM parameter holding the writer's host:port.
    - `alarm_thresholds`: default `AlarmThresholds()`.
    - `disaster_recovery`: default none; otherwise the secret is replicated to its region, every
      recovery point copied to its vault, and automated backups replicated there with its key.
    - `alarm_topic`: default: a topic of the alarms' own (`Alarms/Topic`).
    - `clients_description`, `writer_endpoint_description`: the descriptions of the clients
      security group (create-only) and of the writer-endpoint parameter.
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
        writer: Member,
        replicas: Sequence[Member],
        retired: Sequence[Retired] = (),
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
        alarm_topic: sns.ITopic | None = None,
        clients_description: str = CLIENTS_DESCRIPTION,
        writer_endpoint_description: str = WRITER_ENDPOINT_DESCRIPTION,
    ) -> None:
        owner = "RedundantDatabase"
        if not replicas:
            raise invalid(owner, "replicas", list(replicas),
                          "at least one read replica: a failover needs a reader to promote")
        members = (writer, *replicas, *retired)
        for member in members:
            db_identifier(owner, "writer" if member is writer else
                          "retired" if member in retired else "replicas", member.identifier)
        distinct(owner, "replicas", (m.identifier for m in members))
        ids = [m.construct_id for m in members]
        twice = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
        if twice is not None:
            raise invalid(owner, "construct ids", twice, "each member at a construct id of its "
                          "own (a construct id makes a logical id)")
        if isinstance(writer, Promoted):
            db_identifier(owner, "writer.source_identifier", writer.source_identifier)
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
        scope = self
        port = settings.port
        replica_type = replica_instance_type or instance_type
        role = monitoring_role(scope, "MonitoringRole")
        self.credentials = DatabaseCredentials(
            scope, "Credentials", username=master_username, key=key,
            replica_regions={dr.region: kms.Key.from_key_arn(scope, "DrKey", dr.key_arn)}
            if dr else None)
        placement: dict[str, Any] = dict(settings=settings, vpc=vpc, subnets=subnets, key=key,
                                         monitoring_role=role)
        self.writer: PrimaryDatabase | PromotedReplica
        if isinstance(writer, Promoted):
            self.writer = PromotedReplica(
                scope, writer.construct_id, **placement, identifier=writer.identifier,
                instance_type=replica_type, backup_window=backup_window,
                source=_imported(scope, f"{writer.construct_id}Source",
                                 writer.source_identifier, settings),
                source_region=writer.source_region,
                master_password=self.credentials.secret.secret_value_from_json("password")
                if writer.new_password else None)
            # The secret holds the writer's connection fields (host, port, identifier).
            self.secret: secretsmanager.ISecret = self.credentials.secret.attach(
                self.writer.instance)
        else:
            self.writer = PrimaryDatabase(
                scope, writer.construct_id, **placement, identifier=writer.identifier,
                instance_type=instance_type, credentials=self.credentials.credentials,
                database_name=database_name, allocated_storage_gib=allocated_storage_gib,
                backup_window=backup_window)
            assert self.writer.instance.secret is not None
            self.secret = self.writer.instance.secret
        self.replicas = [
            ReadReplica(scope, replica.construct_id, **placement, source=self.writer.instance,
                        identifier=replica.identifier, instance_type=replica_type)
            for replica in replicas
        ]
        self.retired = retired_leftovers(scope, retired, settings=settings, vpc=vpc,
                                         subnets=subnets, key=key)

        # Who may connect: the application's security group and the rotation function. Their
        # egress goes to the database instances only (rotation also to the Secrets Manager
        # endpoint, whose network admits the groups it is given). Rotation reaches the replicas
        # too: after a failover the secret names a promoted replica, and rotation must keep
        # working.
        instances = [self.writer, *self.replicas]
        self.clients_security_group = clients_security_group(
            scope, "ClientsSecurityGroup", vpc=vpc, members=instances, port=port,
            description=clients_description)
        self.rotation_security_group = egress_only_to(
            scope, "RotationSecurityGroup", vpc=vpc,
            description="Secret rotation function: to the instances and Secrets Manager only",
            rules=[EgressTo(endpoint_security_group, 443, "To the Secrets Manager endpoint"),
                   *(EgressTo(i.security_group, port, f"Rotation to {i.identifier}")
                     for i in instances)])
        admit(instances, self.rotation_security_group, port, "Secret rotation function")

        # The secret bound to the writer (host, port, engine) and rotated by a hosted Lambda.
        self.rotation = self.secret.add_rotation_schedule(
            "Rotation",
            hosted_rotation=settings.engine.hosted_rotation(
                vpc=vpc, vpc_subnets=subnets, security_groups=[self.rotation_security_group]),
            automatically_after=Duration.days(rotation_days),
        )

        # The writer endpoint applications read; `failover` repoints it to a promoted replica.
        self.writer_endpoint = writer_endpoint_parameter(
            scope, "WriterEndpoint", parameter_name=writer_endpoint_parameter_name,
            endpoint=f"{self.writer.instance.db_instance_endpoint_address}:{port}",
            description=writer_endpoint_description)

        self.backup = DatabaseBackupPlan(
            scope, "Backup", database=self.writer.instance, key=key,
            copy_to=backup.BackupVault.from_backup_vault_arn(scope, "DrVault", dr.vault_arn)
            if dr else None)
        if dr is not None:
            # RDS copies every automated backup (snapshots and transaction logs) to the DR region,
            # encrypted with the DR key: point-in-time restore there if the region is lost.
            l1 = self.writer.instance.node.default_child
            assert isinstance(l1, rds.CfnDBInstance)
            l1.automatic_backup_replication_region = dr.region
            l1.automatic_backup_replication_kms_key_id = dr.key_arn
            l1.automatic_backup_replication_retention_period = int(
                settings.backup_retention.to_days())
        self.alarms = DatabaseAlarms(
            scope,
            "Alarms",
            primary=self.writer.instance,
            replicas=[(r.construct_id, i.instance) for r, i in zip(replicas, self.replicas,
                                                                   strict=True)],
            key=key,
            allocated_storage_gib=allocated_storage_gib,
            thresholds=alarm_thresholds,
            topic=alarm_topic,
        )

    @property
    def primary(self) -> PrimaryDatabase | PromotedReplica:
        """The writer (a new primary, or a promoted replica)."""
        return self.writer


def _imported(scope: Construct, construct_id: str, identifier: str,
              settings: InstanceSettings) -> rds.IDatabaseInstance:
    """An instance known by its identifier only: the source a promoted replica is rendered
    from (it names no resource)."""
    return rds.DatabaseInstance.from_database_instance_attributes(
        scope, construct_id, instance_identifier=identifier,
        instance_endpoint_address=f"{identifier}.invalid", port=settings.port,
        security_groups=[], engine=settings.engine.instance_engine)


class StandbyDatabase(Construct):
    """The database stack's composition while the writer is in the other region: a cross-region
    read replica of it (`standby`), the writer-endpoint parameter naming it (`writer_endpoint`,
    the writer's host:port as the other region publishes it), the fenced leftovers of the
    retired writers, and the parts that outlive the writer's move: the backup vault and its
    recovery points (`Backup/Vault`), the alarm topic (`Alarms/Topic`) with the standby's lag
    alarm, the clients security group (its members are the standby).

    Construct ids are those `RedundantDatabase` gave the same parts, so nothing deployed is
    replaced. The credentials secret moved with the writer (the other region's stack holds it):
    this region reads its replica.

    Props: `settings`, `vpc`, `subnets`, `key`, `retired`, `writer_endpoint_parameter_name`,
    `alarm_thresholds`, `clients_description`, `writer_endpoint_description` as for
    `RedundantDatabase`, and
    - `standby`: the cross-region replica (`Member`), of `source_identifier` in
      `source_region`, of class `instance_type`;
    - `writer_endpoint`: the value of the writer-endpoint parameter.
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: InstanceSettings,
                 vpc: ec2.IVpc, subnets: ec2.SubnetSelection = ISOLATED_SUBNETS,
                 key: kms.IKey, standby: Member, source_identifier: str, source_region: str,
                 instance_type: ec2.InstanceType, retired: Sequence[Retired] = (),
                 writer_endpoint_parameter_name: str, writer_endpoint: str,
                 alarm_thresholds: AlarmThresholds = AlarmThresholds(),
                 clients_description: str = CLIENTS_DESCRIPTION,
                 writer_endpoint_description: str = WRITER_ENDPOINT_DESCRIPTION) -> None:
        owner = "StandbyDatabase"
        for member in (standby, *retired):
            db_identifier(owner, "standby" if member is standby else "retired",
                          member.identifier)
        db_identifier(owner, "source_identifier", source_identifier)
        other_region(owner, "source_region", source_region, scope,
                     "the writer is in the other region")
        check_parameter_name(owner, "writer_endpoint_parameter_name",
                             writer_endpoint_parameter_name)
        super().__init__(scope, construct_id)
        role = monitoring_role(self, "MonitoringRole")
        self.standby = ReadReplica(
            self, standby.construct_id, settings=settings, vpc=vpc, subnets=subnets, key=key,
            monitoring_role=role, identifier=standby.identifier, instance_type=instance_type,
            source=_imported(self, f"{standby.construct_id}Source", source_identifier,
                             settings),
            source_region=source_region)
        self.retired = retired_leftovers(self, retired, settings=settings, vpc=vpc,
                                         subnets=subnets, key=key)
        self.clients_security_group = clients_security_group(
            self, "ClientsSecurityGroup", vpc=vpc, members=[self.standby], port=settings.port,
            description=clients_description)
        self.writer_endpoint: ssm.StringParameter = writer_endpoint_parameter(
            self, "WriterEndpoint", parameter_name=writer_endpoint_parameter_name,
            endpoint=writer_endpoint, description=writer_endpoint_description)
        self.vault = locked_vault(Construct(self, "Backup"), "Vault", key=key)
        alarms = Construct(self, "Alarms")
        self.topic = alarm_topic(alarms, "Topic", key=key)
        self.lag_alarm = replica_lag_alarm(
            alarms, f"{standby.construct_id}Lag", replica=self.standby.instance, label="DR replica",
            threshold_seconds=alarm_thresholds.replica_lag_seconds, topic=self.topic,
            impact="the regional RPO is growing")
