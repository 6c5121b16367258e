"""Redundancy: every primary has a read replica."""

from __future__ import annotations

from cloud_assembly.template import Resource
from policy.model import (
    COMPLIANT,
    NOT_APPLICABLE,
    Result,
    Rule,
    StackView,
    is_replica,
    is_writer,
    non_compliant,
)


def _has_replica(resource: Resource, stack: StackView) -> Result:
    if not is_writer(resource, stack):
        return NOT_APPLICABLE
    for other in stack.of_type("AWS::RDS::DBInstance"):
        if is_replica(other) and stack.target(other.prop("SourceDBInstanceIdentifier")) is resource:
            return COMPLIANT
    return non_compliant("no AWS::RDS::DBInstance in this stack has it as "
                         "SourceDBInstanceIdentifier")


PRIMARY_HAS_REPLICA = Rule(
    id="Redundancy-PrimaryHasReplica",
    info="The primary database has no read replica.",
    explanation="A read replica is the warm standby that the failover runbook promotes when the "
                "primary or its AZ is lost; without one, recovery means a restore from backup "
                "(hours, and data since the last backup).",
    resource_types=("AWS::RDS::DBInstance",),
    check=_has_replica,
)

RULES = (PRIMARY_HAS_REPLICA,)
