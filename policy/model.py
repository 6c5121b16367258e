"""What a project rule sees: CloudFormation resources of a stack, and a few helpers to follow
references between them. The same rules run on two views of the app:

- the construct tree (L1 properties, before escape hatches), and
- the final synthesized template (after every raw override, removal policy and deletion),

so an `add_property_override` that cdk-nag cannot see is still caught.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


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
class Resource:
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    deletion_policy: str | None = None
    update_replace_policy: str | None = None
    path: str = ""

    def prop(self, name: str, default: Any = None) -> Any:
        return self.properties.get(name, default)

    @property
    def is_db_instance(self) -> bool:
        return self.type == "AWS::RDS::DBInstance"

    @property
    def is_replica(self) -> bool:
        return self.is_db_instance and "SourceDBInstanceIdentifier" in self.properties

    @property
    def is_primary(self) -> bool:
        return self.is_db_instance and not self.is_replica


@dataclass(frozen=True)
class PolicySettings:
    """Per-stack parameters of the rules, taken from the environment's config."""

    environment: str = "?"
    min_backup_retention_days: int = 7
    dr_region: str | None = None  # backups must reach this region when set


@dataclass
class StackView:
    """The resources of one stack, with the outputs of every stack in the app for following
    cross-stack references: `Fn::GetStackOutput` (CDK's weak references, this app's setting)
    and `Fn::ImportValue` of an exported output (CDK's default, strong references)."""

    name: str
    resources: dict[str, Resource]
    settings: PolicySettings = field(default_factory=PolicySettings)
    app: dict[str, StackView] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    region: str | None = None  # None for an environment-agnostic stack

    def of_type(self, *types: str) -> Iterator[Resource]:
        return (r for r in self.resources.values() if r.type in types)

    def target(self, value: Any) -> Resource | None:
        """The resource `value` points at: Ref, Fn::GetAtt, or an ARN built with Fn::Join
        around one of those, or a reference to another stack's output (Fn::GetStackOutput,
        Fn::ImportValue)."""
        found = self.targets(value)
        return found[0] if found else None

    def instance_named(self, identifier: str) -> Resource | None:
        """The DB instance of this app (any stack) whose DBInstanceIdentifier is `identifier`."""
        for stack in self.app.values() or [self]:
            for resource in stack.of_type("AWS::RDS::DBInstance"):
                if resource.prop("DBInstanceIdentifier") == identifier:
                    return resource
        return None

    def stack_of(self, resource: Resource) -> StackView:
        for stack in self.app.values():
            if stack.resources.get(resource.logical_id) is resource:
                return stack
        return self

    def targets(self, value: Any) -> list[Resource]:
        out: list[Resource] = []
        for stack, logical_id in _references(value, self):
            resource = stack.resources.get(logical_id)
            if resource is not None:
                out.append(resource)
        return out


def _references(value: Any, stack: StackView) -> Iterator[tuple[StackView, str]]:
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            yield stack, value["Ref"]
            return
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            name = att[0] if isinstance(att, list) else str(att).split(".")[0]
            yield stack, name
            return
        if "Fn::GetStackOutput" in value:
            spec = value["Fn::GetStackOutput"]
            other = stack.app.get(spec.get("StackName", ""))
            if other is not None:
                yield from _references(other.outputs.get(spec.get("OutputName"), {}).get(
                    "Value"), other)
            return
        if "Fn::ImportValue" in value:  # a strong reference: the output exported by that name
            name = _export_name(value["Fn::ImportValue"], stack)
            for other in stack.app.values():
                for output in other.outputs.values():
                    if name is not None and _export_name(
                            (output.get("Export") or {}).get("Name"), other) == name:
                        yield from _references(output.get("Value"), other)
            return
        for item in value.values():
            yield from _references(item, stack)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item, stack)


def _export_name(value: Any, stack: StackView) -> str | None:
    """An export name as a string: a literal, or an Fn::Sub / Fn::Join whose only intrinsic is
    the stack's own name (CDK's exports are literals; hand-written ones often use the stack
    name). None when it depends on anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        rendered = value["Fn::Sub"].replace("${AWS::StackName}", stack.name)
        return None if "${" in rendered else rendered
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        texts = [stack.name if p == {"Ref": "AWS::StackName"} else p for p in parts]
        return sep.join(texts) if all(isinstance(t, str) for t in texts) else None
    return None


def literal_string(value: Any) -> str | None:
    """`value` as a string when it is one, or an Fn::Join of strings and intrinsics rendered with
    the intrinsics as `${...}` (enough to recognise a dynamic reference's prefix)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(p if isinstance(p, str) else "${}" for p in parts)
    return None


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


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
