"""A read replica of a database in another region, with what it needs to serve there."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from constructs_lib.alarms import AlarmThresholds, alarm_topic, replica_lag_alarm
from constructs_lib.instances import (
    ISOLATED_SUBNETS,
    InstanceSettings,
    PromotedReplica,
    ReadReplica,
    monitoring_role,
)
from constructs_lib.redundant_database import Retired, retired_leftovers
from constructs_lib.security import clients_security_group
from constructs_lib.validation import db_identifier, distinct, other_region
from constructs_lib.writer_endpoint import check_parameter_name, writer_endpoint_parameter


class CrossRegionReplica(Construct):
    """A cross-region read replica of `source_identifier` in `source_region`, encrypted with
    `key` (a key of this region), with the same pieces as `RedundantDatabase`'s replicas: its
    subnet group, security group, parameter group, monitoring and deletion protection; a
    clients security group, a replica-lag alarm to an encrypted topic, and a writer-endpoint
    parameter in this region (which a regional failover repoints to the promoted replica).

    Its children have the ids `MonitoringRole`, `Source` (the imported source), `Replica` (or
    `replica_id`),
    `ClientsSecurityGroup`, `AlarmTopic`, `ReplicaLag` and `WriterEndpoint`. Given the id
    `Default`, which CDK leaves out of logical ids, it adds no level to them: a stack that
    created these constructs itself can compose it without renaming (hence replacing) the
    replica.

    Props:
    - `settings`: what the replica shares with the source's instances (`InstanceSettings`).
    - `vpc`, `subnets`: where it runs in this region; subnets default to the isolated ones.
    - `key`: a key of this region: storage, Performance Insights, logs, alarm topic.
    - `source_identifier`, `source_region`: the source instance and its region (not this
      stack's).
    - `identifier`: the replica's DB instance identifier (create-only).
    - `instance_type`: the replica's class.
    - `writer_endpoint_parameter_name`: the SSM parameter in this region holding the writer's
      host:port; `writer_endpoint`: its value, the current writer as this region sees it.
    - `alarm_thresholds`: default `AlarmThresholds()`; its `replica_lag_seconds` applies.
    - `replica_id`: the replica's construct id; default 'Replica'. A replica that replaces
      another (of a new writer, after a failover) needs an id of its own: both exist while
      CloudFormation swaps them.
    - `detached`: default False; True renders the replica promoted in place and fenced (a DR
      rebuild's first phase): a standalone instance (`PromotedReplica`: its template loses
      `SourceDBInstanceIdentifier` and keeps SourceRegion, KmsKeyId and every other create-only
      property), with automated backups, DeletionPolicy Retain and deletion protection, that
      admits no client and has no lag alarm; the writer-endpoint parameter keeps naming the
      writer. `settings.engine` is then the version it runs.
    - `retired`: default none; replicas detached before, retained outside the stack: their
      fenced leftovers (`RetiredInstance`, at their construct ids), on the version each last ran.
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
        source_identifier: str,
        source_region: str,
        identifier: str,
        instance_type: ec2.InstanceType,
        writer_endpoint_parameter_name: str,
        writer_endpoint: str,
        alarm_thresholds: AlarmThresholds = AlarmThresholds(),
        replica_id: str = "Replica",
        detached: bool = False,
        retired: Sequence[Retired] = (),
    ) -> None:
        owner = "CrossRegionReplica"
        db_identifier(owner, "source_identifier", source_identifier)
        db_identifier(owner, "identifier", identifier)
        for member in retired:
            db_identifier(owner, "retired", member.identifier)
        distinct(owner, "retired", (identifier, *(m.identifier for m in retired)))
        other_region(owner, "source_region", source_region, scope,
                     "the source is in another region")
        check_parameter_name(owner, "writer_endpoint_parameter_name",
                             writer_endpoint_parameter_name)
        super().__init__(scope, construct_id)
        self.monitoring_role = monitoring_role(self, "MonitoringRole")
        # The source as CDK sees it (engine, port); the replica names it by ARN in its region.
        self.source = rds.DatabaseInstance.from_database_instance_attributes(
            self, "Source", instance_identifier=source_identifier,
            instance_endpoint_address=f"{source_identifier}.invalid", port=settings.port,
            security_groups=[], engine=settings.engine.instance_engine)
        self.detached = detached
        self.replica = (PromotedReplica if detached else ReadReplica)(
            self, replica_id, settings=settings, vpc=vpc, subnets=subnets, key=key,
            monitoring_role=self.monitoring_role, source=self.source, identifier=identifier,
            instance_type=instance_type, source_region=source_region)
        self.retired = retired_leftovers(self, retired, settings=settings, vpc=vpc,
                                         subnets=subnets, key=key)
        # Applications in this region attach this group to reach the replica (and, after a
        # regional failover, the new writer); a detached replica admits no one.
        self.clients_security_group = clients_security_group(
            self, "ClientsSecurityGroup", vpc=vpc, members=[] if detached else [self.replica],
            port=settings.port,
            description="Attach to the application in the DR region: allowed into the replica")
        self.topic = alarm_topic(self, "AlarmTopic", key=key)
        self.lag_alarm = None if detached else replica_lag_alarm(
            self, "ReplicaLag", replica=self.replica.instance, label="DR replica",
            threshold_seconds=alarm_thresholds.replica_lag_seconds, topic=self.topic,
            impact="the regional RPO is growing")
        self.writer_endpoint = writer_endpoint_parameter(
            self, "WriterEndpoint", parameter_name=writer_endpoint_parameter_name,
            endpoint=writer_endpoint,
            description="host:port of the current writer, as seen from the DR region; repointed "
                        "to the DR replica by `failover --region-dr`")
