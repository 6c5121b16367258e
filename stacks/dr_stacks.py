"""Disaster recovery in a second region: a key and a backup vault that exist before the primary
(its backups are copied there), then a cross-region read replica of the primary; or, after a
regional failover moved the writer here, the writer with its replicas, credentials and backups."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from config import DatabaseConfig
from config.topology import DR_STACK
from constructs_lib.alarms import alarm_topic
from constructs_lib.backup import locked_vault
from constructs_lib.cross_region_replica import CrossRegionReplica
from constructs_lib.encryption import DatabaseKey
from constructs_lib.network import IsolatedNetwork
from constructs_lib.redundant_database import DisasterRecoveryTarget, RedundantDatabase
from stacks.database_stack import (
    standby_outputs,
    writer_composition_props,
    writer_endpoint_of,
    writer_outputs,
)
from stacks.props import (
    alarm_thresholds,
    detached_settings,
    instance_settings,
    instance_type,
    retired_members,
    writer_endpoint_parameter_name,
)

_DR_CLIENTS = "Attach to the application in the DR region: allowed into the replica"
_DR_WRITER_ENDPOINT = ("host:port of the current writer, as seen from the DR region; repointed "
                       "to the DR replica by `failover --region-dr`")


class DrFoundationStack(Stack):
    """The DR region's CMK and backup vault (stateful; deployed before the primary's stack,
    which copies its backups here). Outputs `KeyArn` and `VaultArn`, read by the primary region
    with `Fn::GetStackOutput` (no export, no custom resource)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig,
                 alias: str = "dr", where: str = "DR region", **kwargs: Any) -> None:
        super().__init__(scope, construct_id,
                         termination_protection=config.termination_protection, **kwargs)
        self.key = DatabaseKey(
            self, "Key", alias=f"alias/{config.resource_prefix}-{alias}",
            description=f"{config.resource_prefix}: DR replica, copied backups ({where})")
        self.vault = locked_vault(self, "Vault", key=self.key.key)
        CfnOutput(self, "KeyArn", value=self.key.key.key_arn,
                  description="DR-region CMK (replica storage, replicated backups)")
        CfnOutput(self, "VaultArn", value=self.vault.backup_vault_arn,
                  description="DR-region backup vault receiving copies of the primary's backups")


class DrReplicaStack(Stack):
    """The DR region's database stack, with a key of its own.

    While the writer is in the env's region: a cross-region read replica of it
    (`CrossRegionReplica`, encrypted with this stack's key), read from `source_stack_name` in
    `source_region`. After a regional failover moved the writer here: the promoted replica as
    the writer (`RedundantDatabase` under the id `Default`, like the replica it was), with its
    replicas, a credentials secret of this region, backups copied to
    `disaster_recovery` (the other region's foundation) and alarms.

    Construct ids here are frozen: they are the logical ids of deployed databases.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig,
                 network: IsolatedNetwork, source_region: str, source_stack_name: str,
                 disaster_recovery: DisasterRecoveryTarget | None = None,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id,
                         termination_protection=config.termination_protection, **kwargs)
        cfg = config
        layout = cfg.layout
        # A key of this stack for the replica's storage, Performance Insights, logs and alarms
        # (the foundation's key protects the backups): local references, which AWS Control
        # Tower's cfn-guard controls can follow, and a smaller blast radius per key.
        self.key = DatabaseKey(
            self, "Key", alias=f"alias/{cfg.resource_prefix}-dr-replica",
            description=f"{cfg.resource_prefix}: DR replica storage, logs, alarms")
        key = self.key.key
        self.dr: CrossRegionReplica | None = None
        self.writer: RedundantDatabase | None = None
        if layout.writer_stack == DR_STACK:
            # The topic of the DR replica's alarm serves the writer's alarms. `Default`: CDK
            # leaves it out of logical ids, so the promoted replica keeps its logical id.
            topic = alarm_topic(self, "AlarmTopic", key=key)
            self.writer = RedundantDatabase(
                self, "Default", vpc=network.vpc, subnets=network.database_subnets, key=key,
                endpoint_security_group=network.endpoint_security_group,
                disaster_recovery=disaster_recovery, alarm_topic=topic,
                clients_description=_DR_CLIENTS, writer_endpoint_description=_DR_WRITER_ENDPOINT,
                **writer_composition_props(cfg, DR_STACK))
            writer_outputs(self, self.writer, config=cfg, key_arn=key.key_arn)
            return
        # The DR replica, or the one a rebuild detached (promoted in place, fenced) while the
        # writer is upgraded; the replicas detached before leave their fenced leftovers.
        detached = layout.detached
        standby = detached or layout.standby
        assert standby is not None
        # `Default`: CDK leaves it out of logical ids, so the replica keeps the logical id it
        # was first deployed with.
        self.dr = CrossRegionReplica(
            self, "Default", settings=detached_settings(cfg, detached.engine_version)
            if detached is not None and detached.engine_version else instance_settings(cfg),
            vpc=network.vpc, subnets=network.database_subnets, key=key,
            source_identifier=layout.writer.identifier, source_region=source_region,
            identifier=standby.identifier, replica_id=standby.construct_id,
            instance_type=instance_type(cfg.replica_instance_class),
            writer_endpoint_parameter_name=writer_endpoint_parameter_name(cfg),
            writer_endpoint=writer_endpoint_of(cfg, source_stack_name, source_region),
            alarm_thresholds=alarm_thresholds(cfg), detached=detached is not None,
            retired=retired_members(layout, DR_STACK))
        self.replica = self.dr.replica
        standby_outputs(self, replica=self.replica, key_arn=key.key_arn,
                        writer_stack_name=source_stack_name, writer_region=source_region,
                        config=cfg, writer_parameter=self.dr.writer_endpoint,
                        topic_arn=self.dr.topic.topic_arn,
                        clients_group_id=self.dr.clients_security_group.security_group_id,
                        detached=detached is not None)
