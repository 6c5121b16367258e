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
    # A granular finding of the rule, cdk-nag style: the violation is reported (and can only be
    # acknowledged) as `<rule id>[<finding>]`, e.g. `Property::MultiAZ`.
    finding: str = ""


COMPLIANT = Result(Compliance.COMPLIANT)
NOT_APPLICABLE = Result(Compliance.NOT_APPLICABLE)


def non_compliant(detail: str, finding: str = "") -> Result:
    return Result(Compliance.NON_COMPLIANT, detail, finding)


@dataclass(frozen=True)
class InstancePromise:
    """What the environment's config promises for one DB instance, found by its identifier."""

    identifier: str  # DBInstanceIdentifier
    replica: bool  # a read replica (same region or cross-region)
    port: int
    multi_az: bool  # True: must be multi-AZ (False promises nothing)
    monitoring_interval: int  # enhanced monitoring, seconds: at least this frequent, never off
    log_exports: tuple[str, ...]  # exported to CloudWatch Logs, at least these
    backup_retention_days: int | None  # at least this; None where RDS keeps none
    performance_insights: bool  # True: must be on (False promises nothing)
    engine_version: str | None = None  # the EngineVersion it declares
    #: Its EngineLifecycleSupport (standard support only, or Extended Support opted in);
    #: None where the engine has no such setting (MariaDB).
    lifecycle_support: str | None = None
    #: A DR replica a declared DR rebuild detached (config/topology.json): standalone, fenced,
    #: not the writer: it serves no one, so it needs no replica of its own.
    detached: bool = False


@dataclass(frozen=True)
class AlarmPromise:
    """A configured alarm threshold: the alarm on `metric` fires at least this early."""

    metric: str  # the AWS/RDS metric name, e.g. CPUUtilization
    threshold: float
    above: bool  # fires above the threshold (else below it)


@dataclass(frozen=True)
class PolicySettings:
    """Per-stack parameters of the rules, taken from the environment's config as plain data.
    A promise left empty (None, ()) is not checked."""

    environment: str = "?"
    min_backup_retention_days: int = MIN_BACKUP_RETENTION_DAYS
    dr_region: str | None = None  # backups must reach this region when set
    instances: tuple[InstancePromise, ...] = ()  # every DB instance the config declares
    replica_count: int | None = None  # same-region read replicas of the primary, at least
    log_retention_days: int | None = None  # every log group keeps events at least this long
    secret_rotation_days: int | None = None  # the secret rotates at least this often
    alarms: tuple[AlarmPromise, ...] = ()
    #: (identifier, construct path of a CMK) of each promoted writer (config/topology.json): a
    #: promoted replica carries no StorageEncrypted of its own (adding it would replace the
    #: instance); its storage is encrypted with the key of the source it was created from.
    inherited_encryption: tuple[tuple[str, str], ...] = ()
    #: The engine of every DB instance (a read replica's template names none of its own).
    engine: str | None = None
    #: Why the config opts in to RDS Extended Support (None: standard support only).
    extended_support_reason: str | None = None

    def instance(self, identifier: object) -> InstancePromise | None:
        return next((i for i in self.instances if i.identifier == identifier), None)

    def inherited_key(self, identifier: object) -> str | None:
        """The construct path of the CMK a promoted writer inherited its encryption from."""
        return next((path for name, path in self.inherited_encryption if name == identifier),
                    None)


@dataclass(eq=False)
class StackView(Stack):
    """One stack of the app as the rules see it: its resources and outputs, linked to the other
    stacks (`cloud_assembly.link_stacks`), with its environment's settings."""

    settings: PolicySettings = field(default_factory=PolicySettings)
    # On the template view: the same stack as the construct tree sees it, which the cross-view
    # check compares with (None on the construct view itself).
    constructs: StackView | None = field(default=None, repr=False)


def is_replica(resource: Resource) -> bool:
    """A DB instance that is a read replica."""
    return resource.type == rds.DB_INSTANCE and rds.is_replica(resource.properties)


def is_primary(resource: Resource) -> bool:
    """A DB instance that is not a read replica."""
    return resource.type == rds.DB_INSTANCE and not rds.is_replica(resource.properties)


def is_writer(resource: Resource, stack: StackView) -> bool:
    """A DB instance that is not a read replica, nor a DR replica a declared rebuild detached
    (standalone, fenced, serving no one: the rules of a writer's replicas and backup plan do
    not apply to it; its automated backups, encryption and protection do)."""
    promise = stack.settings.instance(resource.prop("DBInstanceIdentifier"))
    return is_primary(resource) and not (promise is not None and promise.detached)


# A check returns one result, or one per granular finding (a rule that reports each differing
# property on its own returns them all, or one COMPLIANT result).
Check = Callable[[Resource, StackView], Result | tuple[Result, ...]]


@dataclass(frozen=True)
class Rule:
    """One project rule. `check` sees one resource of `resource_types` and its stack.

    `reads_removal_policies`: the check reads `deletion_policy`/`update_replace_policy`. The
    construct view asks Node for them only on the types of such rules (see policy.views).
    """

    id: str
    info: str
    explanation: str
    resource_types: tuple[str, ...]  # () for every type
    check: Check
    reads_removal_policies: bool = False

    def results(self, resource: Resource, stack: StackView) -> tuple[Result, ...]:
        """The check's results on `resource`: one, or one per granular finding."""
        if self.resource_types and resource.type not in self.resource_types:
            return (NOT_APPLICABLE,)
        try:
            found = self.check(resource, stack)
        except (AttributeError, KeyError, IndexError, TypeError, ValueError) as error:
            # A template no construct would render (an override's malformed value): the rule
            # cannot vouch for it, so it fails closed instead of stopping the whole gate.
            return (non_compliant(f"cannot be checked: a property has an unexpected shape "
                                  f"({type(error).__name__}: {error})"),)
        return found if isinstance(found, tuple) else (found,)

    def evaluate(self, resource: Resource, stack: StackView) -> Result:
        """The check's verdict on `resource` as one result (granular findings joined)."""
        found = self.results(resource, stack)
        failed = [r for r in found if r.compliance is Compliance.NON_COMPLIANT]
        if len(found) == 1 or not failed:
            return found[0]
        return non_compliant("; ".join(r.detail for r in failed))
