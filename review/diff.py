"""Resource-level changes between the baseline and the current template of one stack.

A reviewer needs "which resources are added, removed or modified, and which property changed",
not a line diff. Whether a change loses data is the guard's call; `review.report` joins the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from review.guard import canonical

Action = Literal["added", "removed", "modified"]
_ATTRIBUTES = ("DeletionPolicy", "UpdateReplacePolicy", "DependsOn", "Condition", "Metadata")


@dataclass(frozen=True, kw_only=True)
class Change:
    """One resource that differs; `details` names the changed properties and attributes."""

    stack: str
    logical_id: str
    resource_type: str
    action: Action
    details: tuple[str, ...] = ()


def _changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    old_props, new_props = old.get("Properties", {}), new.get("Properties", {})
    fields = sorted(name for name in set(old_props) | set(new_props)
                    if canonical(old_props.get(name)) != canonical(new_props.get(name)))
    fields += [name for name in _ATTRIBUTES
               if canonical(old.get(name)) != canonical(new.get(name))]
    return tuple(fields)


def diff_stack(*, stack: str, old: Mapping[str, Any] | None,
               new: Mapping[str, Any] | None) -> list[Change]:
    """Every added, removed or modified resource, in logical-id order."""
    old_resources = (old or {}).get("Resources", {})
    new_resources = (new or {}).get("Resources", {})
    changes: list[Change] = []
    for logical_id in sorted(set(old_resources) | set(new_resources)):
        before, after = old_resources.get(logical_id), new_resources.get(logical_id)
        if before is None:
            changes.append(Change(stack=stack, logical_id=logical_id,
                                  resource_type=after["Type"], action="added"))
        elif after is None:
            changes.append(Change(stack=stack, logical_id=logical_id,
                                  resource_type=before["Type"], action="removed"))
        elif before.get("Type") != after.get("Type"):
            changes.append(Change(stack=stack, logical_id=logical_id,
                                  resource_type=f"{before['Type']} -> {after['Type']}",
                                  action="modified", details=("Type",)))
        else:
            fields = _changed_fields(before, after)
            if fields:
                changes.append(Change(stack=stack, logical_id=logical_id,
                                      resource_type=after["Type"], action="modified",
                                      details=fields))
    return changes
