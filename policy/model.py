"""What a project rule sees: the resources of one stack of the synthesized app
(`cloud_assembly.template.Stack`, which follows references across stacks) and the rules'
per-environment settings. The same rules run on two views of the app:

- the construct tree (L1 properties, before escape hatches), and
- the final synthesized template (after every raw override, removal policy and deletion),

so an `add_property_override` that cdk-nag cannot see is still caught.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from cloud_assembly import rds
from cloud_assembly.baseline import MIN_BACKUP_RETENTION_DAYS
from cloud_assembly.template import Resource, Stack


class Compliance(enum.Enum):
    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class Result:
    compliance: Compliance
    detail: str = ""


COMPLIANT = Result(Compliance.COMPLIANT)
NOT_APPLICABLE = Result(Compliance.NOT_APPLICABLE)


def non_compliant(detail: str) -> Result:
    return Result(Compliance.NON_COMPLIANT, detail)


@dataclass(frozen=True)
class PolicySettings:
    """Per-stack parameters of the rules, taken from the environment's config."""

    environment: str = "?"
    min_backup_retention_days: int = MIN_BACKUP_RETENTION_DAYS
    dr_region: str | None = None  # backups must reach this region when set


@dataclass(eq=False)
class StackView(Stack):
    """One stack of the app as the rules see it: its resources and outputs, linked to the other
    stacks (`cloud_assembly.link_stacks`), with its environment's settings."""

    settings: PolicySettings = field(default_factory=PolicySettings)


def is_replica(resource: Resource) -> bool:
    """A DB instance that is a read replica."""
    return resource.type == rds.DB_INSTANCE and rds.is_replica(resource.properties)


def is_primary(resource: Resource) -> bool:
    """A DB instance that is not a read replica."""
    return resource.type == rds.DB_INSTANCE and not rds.is_replica(resource.properties)


Check = Callable[[Resource, StackView], Result]


@dataclass(frozen=True)
class Rule:
    """One project rule. `check` sees one resource of `resource_types` and its stack.

    `reads_removal_policies`: the check reads `deletion_policy`/`update_replace_policy`. The
    construct view asks Node for them only on the types of such rules (see policy.views).
    """

    id: str
    info: str
    explanation: str
    resource_types: tuple[str, ...]
    check: Check
    reads_removal_policies: bool = False

    def evaluate(self, resource: Resource, stack: StackView) -> Result:
        if resource.type not in self.resource_types:
            return NOT_APPLICABLE
        return self.check(resource, stack)
