"""The primary instance and its read replicas, with the settings every instance shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnDeletionPolicy, Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from cloud_assembly import engines
from cloud_assembly.baseline import MIN_LOG_RETENTION_DAYS
from cloud_assembly.rds import LOGICAL_REPLICATION
from constructs_lib.engine import EngineSpec
from constructs_lib.logs import InstanceLogGroups
from constructs_lib.validation import (
    backup_retention_days,
    db_identifier,
    in_range,
    invalid,
    log_retention_days,
    other_region,
    stateful_removal_policy,
)

#: Storage RDS gives an instance, in GiB (gp3).
STORAGE_LIMITS_GIB = (20, 65536)
ISOLATED_SUBNETS = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


@dataclass(frozen=True, kw_only=True)
class InstanceSettings:
    """What every instance of one database shares: the primary, its same-region replicas and
    a cross-region replica. Validated when built; defaults are the secure choice.

    Props:
    - `engine`: the engine and the version of the writer (and of every instance, unless
      `replica_engine` says otherwise).
    - `replica_engine`: default None (the replicas run `engine`); during a staged upgrade, the
      version every read replica, same-region and cross-region, runs while it differs from
      the writer's: never older; for PostgreSQL the same major version (RDS upgrades
      PostgreSQL replicas to a new major version with their source, never on their own).
    - `extended_support`: default False: standard support only; True: every MySQL or
      PostgreSQL instance is enrolled in paid RDS Extended Support past its major version's
      end of standard support (`EngineLifecycleSupport`; RDS offers none for MariaDB).
    - `logical_replication`: default False; True (PostgreSQL only): `rds.logical_replication=1`
      in every instance's parameter group, which an RDS blue/green deployment needs for a
      major version upgrade (the instances keep more write-ahead log).
    - `port`: the port every instance listens on (1150-65535).
    - `multi_az`: default True: each instance has a standby in another AZ.
    - `max_allocated_storage_gib`: storage autoscaling ceiling; default 200.
    - `backup_retention`: automated backups of the primary, and of MySQL/MariaDB replicas;
      default 14 days, whole days from `MIN_BACKUP_RETENTION_DAYS` (7) to 35.
    - `monitoring_interval`: enhanced monitoring; default 60 seconds, never off.
    - `log_exports`: logs exported to CloudWatch Logs (into `InstanceLogGroups`); default none.
    - `log_retention_days`: retention of those logs; default `MIN_LOG_RETENTION_DAYS` (365).
    - `performance_insights`: default True, encrypted with the instance's key (the micro and
      small burstable classes do not offer it).
    - `removal_policy`: what a replacement keeps of an instance (its UpdateReplacePolicy):
      default SNAPSHOT; RETAIN keeps the instance; DESTROY is refused. Its DeletionPolicy is
      always Retain (see `_Instance`).
    - `maintenance_window`: 'ddd:hh24:mi-ddd:hh24:mi' in UTC; default: one RDS picks.
    """

    engine: EngineSpec
    port: int
    replica_engine: EngineSpec | None = None
    extended_support: bool = False
    logical_replication: bool = False
    multi_az: bool = True
    max_allocated_storage_gib: int = 200
    backup_retention: Duration = Duration.days(14)
    monitoring_interval: Duration = Duration.seconds(60)
    log_exports: Sequence[str] = ()
    log_retention_days: int = MIN_LOG_RETENTION_DAYS
    performance_insights: bool = True
    removal_policy: RemovalPolicy = RemovalPolicy.SNAPSHOT
    maintenance_window: str | None = None

    def __post_init__(self) -> None:
        owner = "InstanceSettings"
        replica = self.replica_engine
        if replica is not None:
            if replica.name != self.engine.name:
                raise invalid(owner, "replica_engine", replica.name,
                              f"the writer's engine {self.engine.name}")
            refusal = engines.replica_version_refusal(self.engine.name, self.engine.version,
                                                      replica.version)
            if refusal is not None:
                raise invalid(owner, "replica_engine", replica.version, refusal)
        if self.extended_support and not self.engine.offers_extended_support:
            raise invalid(owner, "extended_support", True,
                          f"False: RDS offers no Extended Support for {self.engine.name}")
        if self.logical_replication and self.engine.name != "postgres":
            raise invalid(owner, "logical_replication", True,
                          f"False: rds.logical_replication is a PostgreSQL parameter, not "
                          f"{self.engine.name}'s")
        in_range(owner, "port", self.port, 1150, 65535)
        in_range(owner, "max_allocated_storage_gib", self.max_allocated_storage_gib,
                 STORAGE_LIMITS_GIB[0] + 1, STORAGE_LIMITS_GIB[1])
        backup_retention_days(owner, "backup_retention", self.backup_retention)
        if self.monitoring_interval.to_seconds(integral=False) < 1:
            raise invalid(owner, "monitoring_interval", self.monitoring_interval,
                          "at least 1 second: enhanced monitoring stays on")
        log_retention_days(owner, "log_retention_days", self.log_retention_days)
        stateful_removal_policy(owner, "removal_policy", self.removal_policy)

    @property
    def replica_engine_spec(self) -> EngineSpec:
        """What the read replicas run."""
        return self.replica_engine or self.engine

    @property
    def lifecycle_support(self) -> rds.EngineLifecycleSupport | None:
        """The instances' `EngineLifecycleSupport`; None where RDS has no such setting
        (MariaDB)."""
        if not self.engine.offers_extended_support:
            return None
        return (rds.EngineLifecycleSupport.OPEN_SOURCE_RDS_EXTENDED_SUPPORT
                if self.extended_support
                else rds.EngineLifecycleSupport.OPEN_SOURCE_RDS_EXTENDED_SUPPORT_DISABLED)


def check_allocated_storage(owner: str, prop: str, gib: int, settings: InstanceSettings) -> int:
    """At least what RDS allocates, and below the autoscaling ceiling so it has room."""
    return in_range(owner, prop, gib, STORAGE_LIMITS_GIB[0],
                    settings.max_allocated_storage_gib - 1)


def monitoring_role(scope: Construct, construct_id: str) -> iam.Role:
    """The role RDS enhanced monitoring assumes to publish OS metrics (shared by all instances)."""
    return iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("monitoring.rds.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name(
                "service-role/AmazonRDSEnhancedMonitoringRole"
            )
        ],
    )


class _Instance(Construct):
    """What the primary and a replica have alike: a security group that admits nothing until
    told to, a parameter group that requires TLS (of the family of the version the instance
    runs, `engine`), encrypted log groups created before the instance, and the instance
    properties below.

    Engine version and upgrades. Every instance declares its `EngineVersion` (the writer's
    version, or `settings.replica_engine` for a read replica) and its `EngineLifecycleSupport`
    (MySQL, PostgreSQL). CloudFormation updates a replica after its source (the replica refers
    to it), so a template that changes both writes the writer first; RDS refuses that for a
    MySQL or MariaDB upgrade and for a PostgreSQL minor one ("One or more of the DB Instance's
    read replicas need to be upgraded"). An upgrade therefore deploys in two stages: (1) the
    replicas declare the new version (`replica_engine`) while the writer keeps its own; (2)
    the writer declares it and `replica_engine` is dropped. A PostgreSQL major upgrade is one
    stage: RDS upgrades the same-region replicas with their source, and their template then
    declares what they already run.

    `AllowMajorVersionUpgrade` is true on every instance. RDS needs it in the same modify as a
    new major version, and a template cannot tell the deployed version: stage 2 (writer and
    replicas all declaring MySQL 8.4) reads the same as the steady state after it, so a flag
    set only "while upgrading" would be missing exactly when the writer moves. The flag alone
    changes nothing (RDS applies no major version on its own, and changing it causes no
    outage); which version an instance runs is the declared `EngineVersion`, whose order the
    config validation, RDS itself and the review's data-loss guard check. A major version
    also changes the parameter group's family and the audit option group's major version,
    both create-only: CloudFormation creates the new group at the same logical id, moves the
    instance to it in the same modify as the version, then deletes the old group; the DB
    instance itself keeps every create-only property and its logical id.

    Every instance is deployed with DeletionPolicy Retain. Deletion protection is always on, so
    a stack deletion could not delete an instance anyway; Retain says what happens instead: the
    instance leaves the stack and is kept. That is also what a promotion needs: the former
    writer leaves the stack of the promoted topology, and CloudFormation applies the
    DeletionPolicy of the template deployed *before* (a template cannot make a resource it
    removes retained). CloudFormation ignores the DeletionPolicy of a read replica (deletion
    protection alone protects it); it applies once the replica is promoted.
    """

    def __init__(self, scope: Construct, construct_id: str, *, kind: str, identifier: str,
                 settings: InstanceSettings, vpc: ec2.IVpc, key: kms.IKey) -> None:
        db_identifier(type(self).__name__, "identifier", identifier)
        super().__init__(scope, construct_id)
        self.identifier = identifier
        self.engine = engine = self._engine_of(settings)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, description=f"{kind} {identifier}",
            allow_all_outbound=False)
        self.parameter_group = rds.ParameterGroup(
            self, "ParameterGroup", engine=engine.instance_engine,
            description=f"{identifier}: TLS required for every client connection",
            parameters=engine.tls_parameters | engine.logging_parameters(settings.log_exports)
            | ({LOGICAL_REPLICATION: "1"} if settings.logical_replication else {}))
        self.log_groups = InstanceLogGroups(
            self, "LogGroups", instance_identifier=identifier, log_types=settings.log_exports,
            key=key, retention_days=settings.log_retention_days)

    @staticmethod
    def _engine_of(settings: InstanceSettings) -> EngineSpec:
        """The engine version this kind of instance runs: the writer's."""
        return settings.engine

    def _instance_props(self, s: InstanceSettings, *, vpc: ec2.IVpc,
                        subnets: ec2.SubnetSelection, key: kms.IKey,
                        monitoring_role: iam.IRole | None) -> dict[str, Any]:
        return dict(
            option_group=self.engine.audit_option_group(self, "AuditOptionGroup",
                                                        s.log_exports),
            engine_lifecycle_support=s.lifecycle_support,
            instance_identifier=self.identifier,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            parameter_group=self.parameter_group,
            port=s.port,
            multi_az=s.multi_az,
            max_allocated_storage=s.max_allocated_storage_gib,
            publicly_accessible=False,
            iam_authentication=True,
            auto_minor_version_upgrade=True,
            copy_tags_to_snapshot=True,
            deletion_protection=True,
            monitoring_interval=s.monitoring_interval,
            monitoring_role=monitoring_role,
            cloudwatch_logs_exports=list(s.log_exports) or None,
            enable_performance_insights=s.performance_insights or None,
            performance_insight_encryption_key=key if s.performance_insights else None,
            preferred_maintenance_window=s.maintenance_window,
            storage_type=rds.StorageType.GP3,
            removal_policy=s.removal_policy,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
        )

    @staticmethod
    def _l1(instance: rds.DatabaseInstanceBase) -> rds.CfnDBInstance:
        l1 = instance.node.default_child
        assert isinstance(l1, rds.CfnDBInstance)
        return l1

    def _complete(self, instance: rds.DatabaseInstanceBase) -> None:
        """What CDK's instance constructs leave out, on the L1 (typed properties, which every
        policy view sees): DeletionPolicy Retain (UpdateReplacePolicy stays the settings'
        removal policy), the engine version (CDK's replica declares none) and
        AllowMajorVersionUpgrade; the class doc says why."""
        l1 = self._l1(instance)
        l1.cfn_options.deletion_policy = CfnDeletionPolicy.RETAIN
        l1.engine_version = self.engine.version
        l1.allow_major_version_upgrade = True


class PrimaryDatabase(_Instance):
    """The writer: encrypted with the CMK, backed up, multi-AZ, private, TLS-only.

    Deletion protection is always on; the removal policy is SNAPSHOT by default (RETAIN on
    request) so that deleting the stack never deletes data.

    Props:
    - `settings`: what every instance shares (`InstanceSettings`).
    - `vpc`, `subnets`: where it runs; subnets default to the VPC's isolated ones.
    - `key`: encrypts storage, Performance Insights and the log groups.
    - `monitoring_role`: the role of enhanced monitoring; default: a role of its own.
    - `identifier`: the DB instance identifier (create-only).
    - `instance_type`: e.g. `ec2.InstanceType("r6g.large")`.
    - `credentials`: the master user, from a secret (`DatabaseCredentials`).
    - `database_name`: the database created on the instance.
    - `allocated_storage_gib`: default 50, at least 20 and below
      `settings.max_allocated_storage_gib`.
    - `backup_window`: 'hh24:mi-hh24:mi' in UTC; default: one RDS picks.
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
        monitoring_role: iam.IRole | None = None,
        identifier: str,
        instance_type: ec2.InstanceType,
        credentials: rds.Credentials,
        database_name: str,
        allocated_storage_gib: int = 50,
        backup_window: str | None = None,
    ) -> None:
        check_allocated_storage("PrimaryDatabase", "allocated_storage_gib",
                                allocated_storage_gib, settings)
        super().__init__(scope, construct_id, kind="Primary database", identifier=identifier,
                         settings=settings, vpc=vpc, key=key)
        s = settings
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=self.engine.instance_engine,
            instance_type=instance_type,
            credentials=credentials,
            database_name=database_name,
            storage_encrypted=True,
            storage_encryption_key=key,
            allocated_storage=allocated_storage_gib,
            backup_retention=s.backup_retention,
            preferred_backup_window=backup_window,
            delete_automated_backups=False,
            **self._instance_props(s, vpc=vpc, subnets=subnets, key=key,
                                   monitoring_role=monitoring_role),
        )
        self.instance.node.add_dependency(self.log_groups)
        self._complete(self.instance)


class ReadReplica(_Instance):
    """A read replica with its own security group, parameter group and monitoring.

    Multi-AZ by default, so a reader survives the loss of an AZ as the primary does. It runs
    `settings.replica_engine` when set (a staged upgrade), else the writer's version.

    Same region: storage encryption is inherited from the source (CloudFormation refuses
    `StorageEncrypted` on a same-region replica). Cross region (`source_region`): the replica
    is encrypted with `key`, a key of its own region, and names its source by ARN with
    `SourceRegion`; CDK's replica construct sets neither correctly (aws/aws-cdk#28998), so both
    are set on its L1 resource here. PostgreSQL replicas keep no automated backups
    (unsupported).

    Props:
    - `settings`, `vpc`, `subnets`, `key`, `monitoring_role`, `identifier`, `instance_type`: as
      for `PrimaryDatabase` (`key` encrypts Performance Insights and the log groups, and the
      storage of a cross-region replica).
    - `source`: the instance replicated; for a cross-region replica, an imported instance
      whose `instance_identifier` is the source's identifier in `source_region`.
    - `source_region`: default None (the source is in this stack's region); otherwise the
      region of the source, which must differ from this stack's region.
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
        monitoring_role: iam.IRole | None = None,
        source: rds.IDatabaseInstance,
        identifier: str,
        instance_type: ec2.InstanceType,
        source_region: str | None = None,
    ) -> None:
        if source_region is not None:
            other_region("ReadReplica", "source_region", source_region, scope,
                         "or None for a replica in the source's region")
        super().__init__(scope, construct_id, kind="Read replica", identifier=identifier,
                         settings=settings, vpc=vpc, key=key)
        s = settings
        self.instance = rds.DatabaseInstanceReadReplica(
            self,
            "Instance",
            source_database_instance=source,
            instance_type=instance_type,
            backup_retention=s.backup_retention if self.engine.replicas_keep_backups else None,
            storage_encryption_key=key if source_region else None,
            **self._instance_props(s, vpc=vpc, subnets=subnets, key=key,
                                   monitoring_role=monitoring_role),
        )
        self.instance.node.add_dependency(self.log_groups)
        self._complete(self.instance)
        if source_region is not None:
            stack = Stack.of(self)
            l1 = self._l1(self.instance)
            # Typed L1 properties, not raw overrides, so every policy view sees them.
            l1.source_db_instance_identifier = (
                f"arn:{stack.partition}:rds:{source_region}:{stack.account}:db:"
                f"{source.instance_identifier}")
            l1.source_region = source_region
            l1.storage_encrypted = None  # implied by KmsKeyId (cfn-lint E3020 refuses it)

    @staticmethod
    def _engine_of(settings: InstanceSettings) -> EngineSpec:
        return settings.replica_engine_spec


class PromotedReplica(ReadReplica):
    """A read replica that a failover promoted, rendered as the writer it now is.

    It is the replica it was, at the same construct path (so the same logical id) with the same
    identifier and every create-only property it was created with (SourceRegion and KmsKeyId of
    a cross-region replica included), minus `SourceDBInstanceIdentifier`: removing that property
    makes CloudFormation promote the replica in place (an instance the runbook already promoted
    has no source left, and the update changes nothing there). Nothing a replica never had is
    added that would replace it: no MasterUsername, DBName, StorageEncrypted or KmsKeyId. Its
    storage encryption is inherited from the source it was created from (the policy gate
    follows that lineage). What a writer has, it gets: automated backups with `settings`'
    retention, `backup_window`, automated backups kept after deletion, and, when `master_password`
    is given (a writer that moved to another region and took a new credentials secret there),
    that password. It runs the writer's version (`settings.engine`), not a replica's.

    Props: those of `ReadReplica` (`source` is the instance it replicated from, named only to
    render it as it was; `source_region` that instance's region for a cross-region replica), and
    - `backup_window`: 'hh24:mi-hh24:mi' in UTC; default: one RDS picks.
    - `master_password`: default None: the password it inherited from its source.
    """

    def __init__(self, scope: Construct, construct_id: str, *,
                 backup_window: str | None = None,
                 master_password: SecretValue | None = None, **props: Any) -> None:
        super().__init__(scope, construct_id, **props)
        settings = props["settings"]
        assert isinstance(settings, InstanceSettings)
        l1 = self._l1(self.instance)
        l1.source_db_instance_identifier = None
        l1.backup_retention_period = int(settings.backup_retention.to_days())
        l1.preferred_backup_window = backup_window
        l1.delete_automated_backups = False
        if master_password is not None:
            l1.master_user_password = master_password.unsafe_unwrap()

    @staticmethod
    def _engine_of(settings: InstanceSettings) -> EngineSpec:
        return settings.engine


class RetiredInstance(_Instance):
    """What a retired writer keeps in its stack after it left it: its security group (which now
    admits no one: nothing may write to it), parameter group, option group, subnet group and log
    groups, at the construct paths it had, so that nothing of it is replaced or deleted while it
    exists (it still uses them). The instance itself is retained outside the stack (its
    DeletionPolicy was Retain) with deletion protection on, until someone decommissions it.

    Props:
    - `kind`: what it was created as, as its security group describes it ('Primary database',
      'Read replica'): the description is create-only.
    - `identifier`, `settings`, `vpc`, `subnets`, `key`: as it was created with.
    """

    def __init__(self, scope: Construct, construct_id: str, *, kind: str, identifier: str,
                 settings: InstanceSettings, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection = ISOLATED_SUBNETS, key: kms.IKey) -> None:
        super().__init__(scope, construct_id, kind=kind, identifier=identifier,
                         settings=settings, vpc=vpc, key=key)
        self.option_group = self.engine.audit_option_group(self, "AuditOptionGroup",
                                                           settings.log_exports)
        self.parameter_group.bind_to_instance()  # CDK renders a parameter group once bound
        # CDK's instance construct names its subnet group `<instance>/SubnetGroup`, retained
        # when the instance's removal policy is RETAIN; like the instance's other children, it
        # waits for the log groups.
        instance = Construct(self, "Instance")
        instance.node.add_dependency(self.log_groups)
        rds.SubnetGroup(instance, "SubnetGroup", vpc=vpc, vpc_subnets=subnets,
                        description="Subnet group for Instance database",
                        removal_policy=RemovalPolicy.RETAIN
                        if settings.removal_policy == RemovalPolicy.RETAIN else None)
