"""Which stacks hold the writer and its standby: the declared topology (`config/topology.json`)
and the one the stacks are deployed with, which differ between a failover and the deploy that
reconciles the stacks.

The stacks are named by role, not by what they hold: the writer is in the env region's
`Database` stack unless a regional failover moved it to the DR region's `DrReplica` stack; the
standby (the cross-region replica of the writer) is in the other one. A stack holding the writer
has the writer outputs (`PrimaryIdentifier`, ...), a stack holding the standby the standby
outputs (`ReplicaIdentifier`, ...), so the deployed generation is the newest one whose writer
the writer's stack names as its `PrimaryIdentifier`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from config import DatabaseConfig
from config.naming import stack_name
from config.topology import DATABASE_STACK, DR_STACK, Layout, Topology
from ops.errors import OpsError

FOUNDATION = {DR_STACK: "DrFoundation", DATABASE_STACK: "Foundation"}


@dataclass(frozen=True, kw_only=True)
class Placement:
    """Where one generation's writer and standby are, as stack names and regions."""

    layout: Layout
    writer_stack: str
    writer_region: str | None
    standby_stack: str | None
    standby_region: str | None
    foundation_stack: str | None  # the standby side's key and vault

    @property
    def generation(self) -> int:
        return self.layout.generation


def place(config: DatabaseConfig, *, prefix: str, region: str | None) -> Placement:
    """The stacks and regions of `config`'s declared layout (`region`: the env's region when
    the config pins none)."""
    layout = config.layout
    env_region = config.region or region

    def region_of(role: str) -> str | None:
        return env_region if role == DATABASE_STACK else config.dr_region

    standby = layout.standby
    return Placement(
        layout=layout, writer_stack=stack_name(config.name, layout.writer_stack, prefix=prefix),
        writer_region=region_of(layout.writer_stack),
        standby_stack=stack_name(config.name, standby.stack, prefix=prefix) if standby else None,
        standby_region=region_of(standby.stack) if standby else None,
        foundation_stack=stack_name(config.name, FOUNDATION[standby.stack], prefix=prefix)
        if standby else None)


def generations(config: DatabaseConfig) -> list[DatabaseConfig]:
    """`config` at each generation of its declared history, the newest first."""
    promotions = config.topology.promotions
    return [dataclasses.replace(config, topology=Topology(
        promotions=promotions[:n], decommissioned=tuple(
            d for d in config.topology.decommissioned if n == len(promotions))))
        for n in range(len(promotions), -1, -1)]


def deployed(config: DatabaseConfig, *, cloudformation_of: Any, prefix: str,
             region: str | None) -> Placement:
    """The newest generation of the declared history whose writer its writer stack names
    (`cloudformation_of(region)`: a CloudFormation client there). The declared one when no
    stack can be read (the caller's reads then say why)."""
    declared = None
    for candidate in generations(config):
        placement = place(candidate, prefix=prefix, region=region)
        declared = declared or placement
        if placement.writer_region is None:
            continue
        try:
            stacks = cloudformation_of(placement.writer_region).describe_stacks(
                StackName=placement.writer_stack)["Stacks"]
        except (BotoCoreError, ClientError, OpsError):
            continue
        outputs = {o["OutputKey"]: o.get("OutputValue") for o in stacks[0].get("Outputs", [])}
        if outputs.get("PrimaryIdentifier") == placement.layout.writer.identifier:
            return placement
    assert declared is not None
    return declared


def as_seen(config: DatabaseConfig, placement: Placement) -> DatabaseConfig:
    """`config` as the checks of the writer's and the standby's sides read it: with the DR
    region's fields in place of the env region's while the writer is in the DR region (its
    replicas are in the DR AZs, the standby in the env region's)."""
    if placement.layout.writer_stack != DR_STACK:
        return config
    return dataclasses.replace(
        config, region=config.dr_region, dr_region=config.region,
        availability_zones=config.dr_availability_zones,
        dr_availability_zones=config.availability_zones)
