"""What the emulator did not create: template resources missing from the deployed stack.

moto skips resource types it does not support (with a log warning only). Comparing the template's
logical ids with `ListStackResources` names every one of them, so `make deploy` can report them
instead of dropping them silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cloud_assembly import Resource, Stack, StackArtifact


@dataclass(frozen=True, kw_only=True, order=True)
class SkippedResource:
    resource_type: str
    stack: str
    logical_id: str


def skipped_resources(cloudformation: Any, stack: StackArtifact) -> list[SkippedResource]:
    """Resources of `stack`'s template that the deployed stack does not hold."""
    deployed: set[str] = set()
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack.name):
        deployed.update(r["LogicalResourceId"] for r in page["StackResourceSummaries"]
                        if r.get("LogicalResourceId"))
    return sorted(SkippedResource(resource_type=resource.type, stack=stack.name,
                                  logical_id=resource.logical_id)
                  for resource in _resources(stack) if resource.logical_id not in deployed)


def _resources(stack: StackArtifact) -> Iterable[Resource]:
    return Stack.from_template(stack.name, stack.template).resources.values()


def skipped_by_type(skipped: Iterable[SkippedResource]) -> dict[str, list[SkippedResource]]:
    grouped: dict[str, list[SkippedResource]] = defaultdict(list)
    for item in skipped:
        grouped[item.resource_type].append(item)
    return dict(sorted(grouped.items()))


def _keys(value: Any) -> Iterable[str]:
    """Every dict key in `value`, at any depth."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def emulation_limits(stacks: Iterable[StackArtifact], limits: dict[str, str]) -> dict[str, str]:
    """The emulator's `limits` for what these stacks use: {resource type: what still differs
    from AWS} for the types in use, {"TYPE.Property": ...} when a resource of that type sets
    the property (at any depth of its `Properties`), and {"TYPE.Property=value": ...} when one
    sets that top-level property to that value (e.g. `AWS::RDS::DBInstance.Engine=postgres`)."""
    used: set[str] = set()
    for stack in stacks:
        for resource in _resources(stack):
            used.add(resource.type)
            used.update(f"{resource.type}.{key}" for key in _keys(resource.properties))
            used.update(f"{resource.type}.{key}={value}"
                        for key, value in resource.properties.items()
                        if isinstance(value, str | int | bool))
    return {key: limit for key, limit in limits.items() if key in used}
