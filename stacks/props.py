"""How an environment's config becomes construct props: each mapping written once, for the
primary region's stacks and the DR region's alike."""

from __future__ import annotations

import dataclasses

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2

from config import DatabaseConfig
from config.topology import DATABASE_STACK, Layout
from constructs_lib.alarms import AlarmThresholds
from constructs_lib.engine import EngineSpec
from constructs_lib.instances import InstanceSettings
from constructs_lib.redundant_database import Member, Promoted, Retired


def instance_settings(config: DatabaseConfig) -> InstanceSettings:
    """What every instance of the environment shares, in either region."""
    return InstanceSettings(
        engine=EngineSpec(name=config.engine, version=config.engine_version),
        replica_engine=EngineSpec(name=config.engine, version=config.replica_engine_version)
        if config.replica_engine_version else None,
        extended_support=config.extended_support is not None,
        logical_replication=config.logical_replication,
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


def writer_member(layout: Layout) -> Member:
    """The writer as a construct sees it: a new primary, or a promoted replica rendered from the
    member it replicated from (the previous writer)."""
    writer = layout.writer
    if not writer.promoted:
        return Member(construct_id=writer.construct_id, identifier=writer.identifier)
    previous = layout.previous_writer
    assert previous is not None
    return Promoted(construct_id=writer.construct_id, identifier=writer.identifier,
                    source_identifier=previous.identifier,
                    source_region=previous.region if writer.cross_region else None,
                    # a writer that moved region takes a secret of its new region
                    new_password=writer.stack != DATABASE_STACK)


def members(layout: Layout, stack: str) -> tuple[list[Member], list[Retired]]:
    """(replicas, retired writers) that the `stack` role's composition renders."""
    replicas = [Member(construct_id=m.construct_id, identifier=m.identifier)
                for m in layout.replicas if m.stack == stack]
    return replicas, retired_members(layout, stack)


def retired_members(layout: Layout, stack: str) -> list[Retired]:
    """The retired members whose fenced leftovers the `stack` role renders."""
    return [Retired(construct_id=m.construct_id, identifier=m.identifier,
                    created_as_primary=not m.promoted, engine_version=m.engine_version)
            for m in layout.retired_in(stack)]


def detached_settings(config: DatabaseConfig, version: str) -> InstanceSettings:
    """The settings of a detached DR replica: the env's, on the version it keeps."""
    return dataclasses.replace(instance_settings(config),
                               engine=EngineSpec(name=config.engine, version=version),
                               replica_engine=None)
