"""How an environment's config becomes construct props: each mapping written once, for the
primary region's stacks and the DR region's alike."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2

from config import DatabaseConfig
from constructs_lib.alarms import AlarmThresholds
from constructs_lib.engine import EngineSpec
from constructs_lib.instances import InstanceSettings


def instance_settings(config: DatabaseConfig) -> InstanceSettings:
    """What every instance of the environment shares, in either region."""
    return InstanceSettings(
        engine=EngineSpec(name=config.engine, version=config.engine_version),
        port=config.port,
        multi_az=config.multi_az,
        max_allocated_storage_gib=config.max_allocated_storage_gib,
        backup_retention=Duration.days(config.backup_retention_days),
        monitoring_interval=Duration.seconds(config.monitoring_interval_seconds),
        log_exports=config.log_exports,
        log_retention_days=config.log_retention_days,
        performance_insights=config.performance_insights_supported,
        removal_policy=RemovalPolicy.RETAIN if config.retain_on_delete
        else RemovalPolicy.SNAPSHOT,
        maintenance_window=config.maintenance_window,
    )


def instance_type(instance_class: str) -> ec2.InstanceType:
    """CDK's instance type of an RDS class ('db.r6g.large' -> r6g.large)."""
    return ec2.InstanceType(instance_class.removeprefix("db."))


def alarm_thresholds(config: DatabaseConfig) -> AlarmThresholds:
    a = config.alarms
    return AlarmThresholds(replica_lag_seconds=a.replica_lag_seconds, cpu_percent=a.cpu_percent,
                           free_storage_percent=a.free_storage_percent,
                           connections=a.connections)


def writer_endpoint_parameter_name(config: DatabaseConfig) -> str:
    """The same name in both regions: an application finds the writer without knowing which
    region serves it."""
    return f"/{config.resource_prefix}/writer-endpoint"
