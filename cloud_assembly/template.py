"""A stack's template as resources and outputs, and how one value refers to another resource.

`Stack.targets(value)` follows every way a template names a resource: `Ref`, `Fn::GetAtt` in
its list and its short string form (`Key.Arn`), `${Name}` / `${Name.Attr}` inside `Fn::Sub`, and
across stacks `Fn::GetStackOutput` (CDK's weak references) and `Fn::ImportValue` of an exported
output (CDK's default strong references; an export name may be built with `Fn::Sub` or
`Fn::Join` from the stack's own name). Pseudo parameters (`AWS::Region`, ...) refer to nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


@dataclass(frozen=True)
class Resource:
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    deletion_policy: str | None = None
    update_replace_policy: str | None = None
    path: str = ""  # construct path (aws:cdk:path), the logical id when unknown
    condition: str | None = None  # the condition it is created under; None: always

    def prop(self, name: str, default: Any = None) -> Any:
        return self.properties.get(name, default)

    @classmethod
    def from_template(cls, logical_id: str, body: Mapping[str, Any]) -> Resource:
        return cls(logical_id=logical_id, type=body.get("Type", ""),
                   properties=body.get("Properties") or {},
                   deletion_policy=body.get("DeletionPolicy"),
                   update_replace_policy=body.get("UpdateReplacePolicy"),
                   path=(body.get("Metadata") or {}).get("aws:cdk:path", logical_id),
                   condition=body.get("Condition"))


@dataclass(eq=False)
class Stack:
    """The resources and outputs of one stack. `app` holds every stack of the same app by name
    (`link_stacks`), so references to another stack's outputs can be followed."""

    name: str
    resources: dict[str, Resource]
    outputs: dict[str, Any] = field(default_factory=dict)
    region: str | None = None  # None for an environment-agnostic stack
    app: dict[str, Self] = field(default_factory=dict, repr=False)

    @classmethod
    def from_template(cls, name: str, template: Mapping[str, Any], *,
                      region: str | None = None, **extra: Any) -> Self:
        return cls(name=name,
                   resources={logical_id: Resource.from_template(logical_id, body)
                              for logical_id, body in (template.get("Resources") or {}).items()},
                   outputs=dict(template.get("Outputs") or {}), region=region, **extra)

    def of_type(self, *types: str) -> Iterator[Resource]:
        return (r for r in self.resources.values() if r.type in types)

    def target(self, value: Any) -> Resource | None:
        """The first resource `value` refers to (see the module doc), or None."""
        found = self.targets(value)
        return found[0] if found else None

    def targets(self, value: Any) -> list[Resource]:
        """Every resource `value` refers to, anywhere inside it, in order."""
        return [resource for stack, resource in self.addresses(value)]

    def addresses(self, value: Any) -> list[tuple[Stack, Resource]]:
        """(stack, resource) of every resource `value` refers to."""
        out = []
        for stack, logical_id in references(value, self):
            resource = stack.resources.get(logical_id)
            if resource is not None:
                out.append((stack, resource))
        return out

    def stack_of(self, resource: Resource) -> Self:
        """The stack of the app that holds `resource` (this one when none does)."""
        for stack in self.app.values():
            if stack.resources.get(resource.logical_id) is resource:
                return stack
        return self

    def instance_named(self, identifier: str) -> Resource | None:
        """The DB instance of this app (any stack) whose DBInstanceIdentifier is `identifier`."""
        for stack in self.app.values() or [self]:
            for resource in stack.of_type("AWS::RDS::DBInstance"):
                if resource.prop("DBInstanceIdentifier") == identifier:
                    return resource
        return None


StackT = TypeVar("StackT", bound=Stack)


def link_stacks(stacks: Iterable[StackT]) -> dict[str, StackT]:
    """{name: stack}, each stack's `app` set to it so references cross stacks."""
    app = {stack.name: stack for stack in stacks}
    for stack in app.values():
        stack.app = app
    return app


def referenced(value: Any) -> str | None:
    """The logical id that a bare `Ref` or `Fn::GetAtt` names, else None (pseudo parameters
    included: `AWS::Region` is no resource)."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    if isinstance(value.get("Ref"), str):
        name = value["Ref"]
    elif "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        name = att[0] if isinstance(att, list) and att else str(att).split(".", 1)[0]
    else:
        return None
    return None if not isinstance(name, str) or name.startswith("AWS::") else name


def references(value: Any, stack: Stack) -> Iterator[tuple[Stack, str]]:
    """(stack, logical id) of every reference inside `value`, read in `stack`."""
    if isinstance(value, list):
        for item in value:
            yield from references(item, stack)
        return
    if not isinstance(value, dict):
        return
    name = referenced(value)
    if name is not None:
        yield stack, name
        return
    if "Ref" in value or "Fn::GetAtt" in value:
        return  # a pseudo parameter
    if "Fn::Sub" in value:
        yield from _sub_references(value["Fn::Sub"], stack)
        return
    if "Fn::GetStackOutput" in value:
        spec = value["Fn::GetStackOutput"]
        other = stack.app.get(spec.get("StackName", "")) if isinstance(spec, dict) else None
        if other is not None:
            output = other.outputs.get(spec.get("OutputName")) or {}
            yield from references(output.get("Value"), other)
        return
    if "Fn::ImportValue" in value:
        name = export_name(value["Fn::ImportValue"], stack)
        if name is None:
            return
        for other in stack.app.values():
            for output in other.outputs.values():
                if export_name((output.get("Export") or {}).get("Name"), other) == name:
                    yield from references(output.get("Value"), other)
        return
    for item in value.values():
        yield from references(item, stack)


def _sub_references(spec: Any, stack: Stack) -> Iterator[tuple[Stack, str]]:
    """`${Name}` and `${Name.Attr}` of an Fn::Sub string that are not its own variables."""
    text, variables = (spec, {}) if isinstance(spec, str) else (
        (spec[0], spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {})
        if isinstance(spec, list) and spec and isinstance(spec[0], str) else ("", {}))
    for item in variables.values():
        yield from references(item, stack)
    for match in _SUB_VARIABLE.finditer(text):
        name = match[1].split(".", 1)[0]
        if name not in variables and not name.startswith("AWS::"):
            yield stack, name


def export_name(value: Any, stack: Stack) -> str | None:
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
    the intrinsics as `${}` (enough to recognise a dynamic reference's prefix or an ARN's
    suffix)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        joined: str = sep.join(p if isinstance(p, str) else "${}" for p in parts)
        return joined
    return None


def boolean(value: Any) -> bool | None:
    """A literal boolean as CloudFormation reads it (`true`, `"true"`, `"True"`: True); None
    when `value` is not a literal boolean (absent, or an intrinsic)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def truthy(value: Any) -> bool:
    """True when CloudFormation reads `value` as the boolean true."""
    return boolean(value) is True
