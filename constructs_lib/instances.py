"""The primary instance and its read replicas, with the settings every instance shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from constructs_lib.engine import EngineSpec
from constructs_lib.logs import InstanceLogGroups


@dataclass(frozen=True, kw_only=True)
class InstanceSettings:
    """What the primary and every replica share. Defaults are the secure choice."""

    engine: EngineSpec
    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    key: kms.IKey
    port: int
    monitoring_role: iam.IRole
    monitoring_interval: Duration = Duration.seconds(60)
    log_exports: Sequence[str] = ()
    log_retention_days: int = 90
    performance_insights: bool = True
    removal_policy: RemovalPolicy = RemovalPolicy.SNAPSHOT
    maintenance_window: str | None = None


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


def _instance_security_group(scope: Construct, construct_id: str, vpc: ec2.IVpc,
                             description: str) -> ec2.SecurityGroup:
    return ec2.SecurityGroup(
        scope, construct_id, vpc=vpc, description=description, allow_all_outbound=False
    )


def _common_props(scope: Construct, s: InstanceSettings, *, identifier: str,
                  parameter_group: rds.IParameterGroup,
                  security_group: ec2.ISecurityGroup) -> dict[str, object]:
    return dict(
        option_group=s.engine.audit_option_group(scope, "AuditOptionGroup", s.log_exports),
        instance_identifier=identifier,
        vpc=s.vpc,
        vpc_subnets=s.subnets,
        security_groups=[security_group],
        parameter_group=parameter_group,
        port=s.port,
        publicly_accessible=False,
        iam_authentication=True,
        auto_minor_version_upgrade=True,
        copy_tags_to_snapshot=True,
        deletion_protection=True,
        monitoring_interval=s.monitoring_interval,
        monitoring_role=s.monitoring_role,
        cloudwatch_logs_exports=list(s.log_exports) or None,
        enable_performance_insights=s.performance_insights or None,
        performance_insight_encryption_key=s.key if s.performance_insights else None,
        preferred_maintenance_window=s.maintenance_window,
        storage_type=rds.StorageType.GP3,
        removal_policy=s.removal_policy,
        ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
    )


class _InstanceParameterGroup(rds.ParameterGroup):
    """TLS required for every connection, plus what makes the exported logs useful."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: InstanceSettings,
                 description: str) -> None:
        engine = settings.engine
        super().__init__(
            scope, construct_id, engine=engine.instance_engine, description=description,
            parameters=engine.tls_parameters | engine.logging_parameters(settings.log_exports),
        )


class PrimaryDatabase(Construct):
    """The writer: encrypted with the CMK, backed up, multi-AZ, private, TLS-only.

    Deletion protection is always on; the removal policy is SNAPSHOT by default (RETAIN in prod)
    so that deleting the stack never deletes data.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: InstanceSettings,
        identifier: str,
        instance_type: ec2.InstanceType,
        credentials: rds.Credentials,
        database_name: str,
        multi_az: bool = True,
        allocated_storage_gib: int = 50,
        max_allocated_storage_gib: int = 200,
        backup_retention: Duration = Duration.days(14),
        backup_window: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        s = settings
        self.identifier = identifier
        self.security_group = _instance_security_group(
            self, "SecurityGroup", s.vpc, f"Primary database {identifier}")
        self.parameter_group = _InstanceParameterGroup(
            self, "ParameterGroup", settings=s,
            description=f"{identifier}: TLS required for every client connection")
        self.log_groups = InstanceLogGroups(
            self, "LogGroups", instance_identifier=identifier, log_types=s.log_exports,
            key=s.key, retention_days=s.log_retention_days)
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=s.engine.instance_engine,
            instance_type=instance_type,
            credentials=credentials,
            database_name=database_name,
            storage_encrypted=True,
            storage_encryption_key=s.key,
            multi_az=multi_az,
            allocated_storage=allocated_storage_gib,
            max_allocated_storage=max_allocated_storage_gib,
            backup_retention=backup_retention,
            preferred_backup_window=backup_window,
            delete_automated_backups=False,
            **_common_props(self, s, identifier=identifier, parameter_group=self.parameter_group,
                            security_group=self.security_group),
        )
        self.instance.node.add_dependency(self.log_groups)


@dataclass(frozen=True, kw_only=True)
class CrossRegionSource:
    """Where a cross-region replica's source lives: its ARN and region."""

    arn: str
    region: str


class ReadReplica(Construct):
    """A read replica with its own security group, parameter group and monitoring.

    Multi-AZ by default, so a reader survives the loss of an AZ as the primary does.

    Same region: storage encryption is inherited from the source (CloudFormation refuses
    `StorageEncrypted` on a same-region replica). Cross region (`cross_region`): the replica is
    encrypted with `settings.key`, a key of its own region, and names its source by ARN with
    `SourceRegion`; CDK's replica construct sets neither correctly (aws/aws-cdk#28998), so both
    are set on its L1 resource here. PostgreSQL replicas keep no automated backups (unsupported).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: InstanceSettings,
        source: rds.IDatabaseInstance,
        identifier: str,
        instance_type: ec2.InstanceType,
        max_allocated_storage_gib: int | None = None,
        backup_retention: Duration | None = None,
        multi_az: bool = True,
        cross_region: CrossRegionSource | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        s = settings
        self.identifier = identifier
        self.security_group = _instance_security_group(
            self, "SecurityGroup", s.vpc, f"Read replica {identifier}")
        self.parameter_group = _InstanceParameterGroup(
            self, "ParameterGroup", settings=s,
            description=f"{identifier}: TLS required for every client connection")
        self.log_groups = InstanceLogGroups(
            self, "LogGroups", instance_identifier=identifier, log_types=s.log_exports,
            key=s.key, retention_days=s.log_retention_days)
        self.instance = rds.DatabaseInstanceReadReplica(
            self,
            "Instance",
            source_database_instance=source,
            instance_type=instance_type,
            max_allocated_storage=max_allocated_storage_gib,
            multi_az=multi_az,
            backup_retention=backup_retention if s.engine.replicas_keep_backups else None,
            storage_encryption_key=s.key if cross_region else None,
            **_common_props(self, s, identifier=identifier, parameter_group=self.parameter_group,
                            security_group=self.security_group),
        )
        self.instance.node.add_dependency(self.log_groups)
        if cross_region is not None:
            l1 = self.instance.node.default_child
            assert isinstance(l1, rds.CfnDBInstance)
            # Typed L1 properties, not raw overrides, so every policy view sees them.
            l1.source_db_instance_identifier = cross_region.arn
            l1.source_region = cross_region.region
            l1.storage_encrypted = None  # implied by KmsKeyId (cfn-lint E3020 refuses it)
