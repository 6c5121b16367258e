"""Disaster recovery in a second region: a key and a backup vault that exist before the primary
(its backups are copied there), then a cross-region read replica of the primary."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Fn, Stack
from constructs import Construct

from config import DatabaseConfig
from constructs_lib.backup import locked_vault
from constructs_lib.cross_region_replica import CrossRegionReplica
from constructs_lib.encryption import DatabaseKey
from constructs_lib.network import IsolatedNetwork
from stacks.props import (alarm_thresholds, instance_settings, instance_type,
                          writer_endpoint_parameter_name)


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
        self.vault = locked_vault(self, "Vault", key=self.key.key)
        CfnOutput(self, "KeyArn", value=self.key.key.key_arn,
                  description="DR-region CMK (replica storage, replicated backups)")
        CfnOutput(self, "VaultArn", value=self.vault.backup_vault_arn,
                  description="DR-region backup vault receiving copies of the primary's backups")


class DrReplicaStack(Stack):
    """A cross-region read replica of the primary (`CrossRegionReplica`), encrypted with a key
    of this stack, and its outputs."""

    def __init__(self, scope: Construct, construct_id: str, *, config: DatabaseConfig,
                 network: IsolatedNetwork, source_region: str, source_stack_name: str,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id,
                         termination_protection=config.termination_protection, **kwargs)
        cfg = config
        # A key of this stack for the replica's storage, Performance Insights, logs and alarms
        # (the foundation's key protects the backups): local references, which AWS Control
        # Tower's cfn-guard controls can follow, and a smaller blast radius per key.
        self.key = DatabaseKey(
            self, "Key", alias=f"alias/{cfg.resource_prefix}-dr-replica",
            description=f"{cfg.resource_prefix}: DR replica storage, logs, alarms")
        key = self.key.key
        # `Default`: CDK leaves it out of logical ids, so the replica keeps the logical id it
        # was first deployed with.
        self.dr = CrossRegionReplica(
            self, "Default", settings=instance_settings(cfg), vpc=network.vpc,
            subnets=network.database_subnets, key=key,
            source_identifier=cfg.instance_identifier("primary"), source_region=source_region,
            identifier=cfg.instance_identifier("dr-replica"),
            instance_type=instance_type(cfg.replica_instance_class),
            writer_endpoint_parameter_name=writer_endpoint_parameter_name(cfg),
            writer_endpoint=Fn.join(":", [
                Fn.get_stack_output(source_stack_name, "PrimaryEndpoint", source_region),
                str(cfg.port)]),
            alarm_thresholds=alarm_thresholds(cfg))
        self.replica = self.dr.replica
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
            ("WriterEndpointParameter", self.dr.writer_endpoint.parameter_name,
             "SSM parameter (DR region) holding the current writer host:port"),
            ("AlarmTopicArn", self.dr.topic.topic_arn, "SNS topic of the DR replica-lag alarm"),
            ("ClientsSecurityGroupId", self.dr.clients_security_group.security_group_id,
             "Security group to attach to application clients in the DR region"),
        ):
            CfnOutput(self, name, value=value, description=description)
