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
from ops.aws import ClientFactory
from ops.errors import OpsError
from ops.instances import AVAILABLE, describe_instance, source_of, status_of
from ops.report import CheckResult, Status, compare

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
    """`config` at each generation of its declared history, the newest first: the newest as
    declared (its decommissioned members, DR rebuilds and engine record, so the DR stack's
    view names the DR replica, or the detached one, the topology declares), the older ones
    with their promotions only."""
    topology = config.topology
    promotions = topology.promotions
    return [config, *(dataclasses.replace(config, topology=Topology(promotions=promotions[:n]))
                      for n in range(len(promotions) - 1, -1, -1))]


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


def check_detached(config: DatabaseConfig, *, factory: ClientFactory,
                   region: str) -> list[CheckResult]:
    """The DR replica a DR rebuild detached, while the rebuild is in that phase: it keeps the
    last DR copy of the data, so it is available, standalone, protected from deletion and on
    the version it keeps. (Its fence, a security group that admits no one, is the stacks' and
    the gate's.)"""
    member = config.layout.detached
    if member is None:
        return []
    where, resource = member.region or region, f"rds {member.identifier}"
    check = "detached DR replica kept: available, standalone, deletion protection"
    try:
        instance = describe_instance(factory(where, True).rds, member.identifier)
    except (BotoCoreError, ClientError) as error:
        return [CheckResult(status=Status.SKIP, resource=resource, check=check,
                            note=f"{where} unreadable ({error})")]
    if instance is None:
        return [CheckResult(status=Status.FAIL, resource=resource, check=check,
                            expected="the instance (the last DR copy while the DR replica is "
                                     "rebuilt)", actual="missing")]
    protected = bool(instance.get("DeletionProtection"))
    source = source_of(instance)
    version = str(instance.get("EngineVersion"))
    kept = member.engine_version or version
    ok = status_of(instance) == AVAILABLE and source is None and protected and version == kept
    return [compare(
        ok, resource=resource, check=check, expected=f"available, standalone, protected, {kept}",
        actual=f"{status_of(instance)}, source {source or 'none'}, "
               f"{'protected' if protected else 'unprotected'}, {version}",
        note=f"the DR rebuild's phase 'detached' (config/topology.json); the DR replica is "
             f"rebuilt by `python -m ops upgrade --env {config.name} --execute`" if ok else
             "deploy the declared detach (its promotion), or repair it before the rebuild")]
