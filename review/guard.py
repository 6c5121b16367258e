"""The data-loss guard: which changes between two syntheses of a stack destroy stored data.

`find_data_loss` compares a baseline template (the committed snapshot) with the current one and
returns one `Finding` per stateful resource that CloudFormation would delete or replace, or whose
deletion/replacement policy weakens. It looks only at the stateful types of `review.stateful`:
replacing a security group or an alarm loses nothing, replacing a database loses everything
written since its last snapshot.

Both templates must be normalized (`review.normalize`) so that masking is the same on both sides.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cloud_assembly import rds, removal
from review.stateful import STATEFUL_TYPES, StatefulType, effective_value, engine_major

Template = Mapping[str, Any]

#: How an absent value is written in messages and in the allow-list (TOML has no null).
ABSENT = "(absent)"
#: The pseudo-property of a finding about the logical id itself (rename or removal).
LOGICAL_ID = "LogicalId"
_POLICIES = ("DeletionPolicy", "UpdateReplacePolicy")


def canonical(value: Any) -> str:
    """A stable text of a template value, so equal values compare equal whatever the key order."""
    return ABSENT if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def show(value: Any) -> str:
    """A value as a reviewer reads it in a message: strings quoted, absent spelled out."""
    if value is None:
        return ABSENT
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One change that deletes or replaces a stateful resource, or weakens its protection.

    `blocking` is False for changes worth a reviewer's eye that destroy nothing (promoting a read
    replica); those are reported but never fail the guard.
    """

    stack: str
    resource: str
    resource_type: str
    label: str
    property: str
    old: Any
    new: Any
    consequence: str
    blocking: bool = True

    def message(self) -> str:
        return (f"{self.stack}: {self.label} ({self.resource_type} {self.resource}): "
                f"{self.property} {show(self.old)} -> {show(self.new)}: {self.consequence}")

    def allow_entry_toml(self) -> str:
        """A ready-to-paste allow-list entry; the reviewer still has to write the reason."""
        to = ABSENT if self.new is None else self.new
        return "\n".join((
            "[[allow]]",
            f"stack = {json.dumps(self.stack)}",
            f"resource = {json.dumps(self.resource)}",
            f"property = {json.dumps(self.property)}",
            f"to = {_toml_value(to)}",
            'reason = "<why losing this data is intended, and who checked>"',
        ))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def label_of(resource: Mapping[str, Any], *, spec: StatefulType, logical_id: str) -> str:
    """'database prod-mysql-primary' when the resource has a literal name, else the logical id."""
    name = resource.get("Properties", {}).get(spec.name_property) if spec.name_property else None
    return f"{spec.noun} {name}" if isinstance(name, str) else f"{spec.noun} {logical_id}"


def _successor(old: Mapping[str, Any], *, spec: StatefulType,
               added: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The new logical id that takes over `old`'s role: same type and same literal name, or
    identical properties. A rename is then reported as one replacement, not a loss plus a gain."""
    old_props = old.get("Properties", {})
    name = old_props.get(spec.name_property) if spec.name_property else None
    for new_id, new in added.items():
        if new.get("Type") != spec.type:
            continue
        new_props = new.get("Properties", {})
        if isinstance(name, str) and new_props.get(spec.name_property) == name:
            return new_id
        if canonical(new_props) == canonical(old_props):
            return new_id
    return None


def _fate(policy: str) -> str:
    if removal.keeps_resource(policy):
        return "retained"
    if policy == removal.SNAPSHOT:
        return "deleted after a final snapshot"
    return "deleted without a snapshot"


def _removal_consequence(old: Mapping[str, Any], *, spec: StatefulType) -> str:
    policy = removal.policy_of(old, "DeletionPolicy")
    if removal.keeps_resource(policy):
        return (f"removes the {spec.noun} from the stack: it is orphaned (kept, but no longer "
                "managed, and its alarms, backups and rotation go with the stack)")
    if policy == removal.SNAPSHOT:
        return (f"deletes the {spec.noun} after a final snapshot; everything written after that "
                "snapshot and its automated backups are lost")
    return f"deletes the {spec.noun} and its data (DeletionPolicy Delete)"


def _property_findings(*, stack: str, logical_id: str, spec: StatefulType, label: str,
                       old_template: Template, new_template: Template) -> Iterator[Finding]:
    old = old_template["Resources"][logical_id]
    new = new_template["Resources"][logical_id]
    old_props, new_props = old.get("Properties", {}), new.get("Properties", {})

    def value(template: Template, props: Mapping[str, Any], name: str) -> Any:
        return effective_value(props.get(name), template=template)

    def finding(prop: str, before: Any, after: Any, consequence: str, *,
                blocking: bool = True) -> Finding:
        return Finding(stack=stack, resource=logical_id, resource_type=spec.type, label=label,
                       property=prop, old=before, new=after, consequence=consequence,
                       blocking=blocking)

    replaced = spec.replacement(old)
    for prop in spec.create_only:
        before, after = value(old_template, old_props, prop), value(new_template, new_props, prop)
        if canonical(before) != canonical(after):
            yield finding(prop, before, after, replaced)

    for attribute in _POLICIES:
        before, after = removal.policy_of(old, attribute), removal.policy_of(new, attribute)
        if removal.strength(after) < removal.strength(before):
            when = ("the stack is deleted or the resource removed" if attribute == "DeletionPolicy"
                    else "it is replaced")
            yield finding(attribute, before, after,
                          f"weakens the protection of the {spec.noun}: when {when}, it is "
                          f"{_fate(after)} instead of {_fate(before)}")

    if spec.type == rds.DB_INSTANCE:
        yield from _database_conditionals(old=old_props, new=new_props, finding=finding,
                                          replaced=replaced)


def _database_conditionals(*, old: Mapping[str, Any], new: Mapping[str, Any],
                           finding: Callable[..., Finding], replaced: str) -> Iterator[Finding]:
    """The create-only-in-some-cases properties of AWS::RDS::DBInstance."""
    if old.get("Engine") and new.get("Engine") and old["Engine"] != new["Engine"]:
        yield finding("Engine", old["Engine"], new["Engine"], replaced)
    old_major = engine_major(engine=old.get("Engine"), version=old.get("EngineVersion"))
    new_major = engine_major(engine=new.get("Engine"), version=new.get("EngineVersion"))
    if old_major and new_major and old_major != new_major:
        yield finding("EngineVersion", old["EngineVersion"], new["EngineVersion"],
                      f"changes the engine major version {old_major} -> {new_major}: a one-way "
                      "upgrade with downtime (CloudFormation refuses it unless "
                      "AllowMajorVersionUpgrade is set); the only way back is a restore")
    for prop, why in (
        ("AvailabilityZone", "moving a Single-AZ instance to another AZ"),
        ("StorageType", "some storage type changes"),
    ):
        if canonical(old.get(prop)) != canonical(new.get(prop)):
            yield finding(prop, old.get(prop), new.get(prop),
                          f"can replace the database (CloudFormation does for {why}); if it "
                          f"does: {replaced.partition(': ')[2]}")
    before, after = old.get("PerformanceInsightsKMSKeyId"), new.get("PerformanceInsightsKMSKeyId")
    if before is not None and canonical(before) != canonical(after):
        yield finding("PerformanceInsightsKMSKeyId", before, after,
                      f"{replaced} (the Performance Insights key cannot change once set)")
    before, after = old.get(rds.SOURCE), new.get(rds.SOURCE)
    if rds.is_replica(old) and not rds.is_replica(new):
        yield finding(rds.SOURCE, before, after,
                      "promotes the read replica to a standalone instance: it stops replicating "
                      "and keeps its data (no replacement)", blocking=False)
    elif canonical(before) != canonical(after):
        yield finding(rds.SOURCE, before, after,
                      f"{replaced} (a replica is re-created from its new source)")


def find_data_loss(*, stack: str, old: Template | None, new: Template | None) -> list[Finding]:
    """Every data-losing change of stateful resources from `old` to `new` (normalized templates).

    `old` None means a new stack (nothing to lose); `new` None means the stack is gone.
    """
    if old is None:
        return []
    old_resources: Mapping[str, Any] = old.get("Resources", {})
    new_resources: Mapping[str, Any] = (new or {}).get("Resources", {})
    added = {lid: res for lid, res in new_resources.items() if lid not in old_resources}
    findings: list[Finding] = []
    for logical_id, resource in old_resources.items():
        spec = STATEFUL_TYPES.get(resource.get("Type", ""))
        if spec is None:
            continue
        label = label_of(resource, spec=spec, logical_id=logical_id)
        current = new_resources.get(logical_id)
        if current is None or current.get("Type") != resource.get("Type"):
            successor = _successor(resource, spec=spec, added=added)
            consequence = (spec.replacement(resource) if successor
                           else _removal_consequence(resource, spec=spec))
            if successor:
                consequence += " (a changed construct id or path changes the logical id)"
            findings.append(Finding(
                stack=stack, resource=logical_id, resource_type=spec.type, label=label,
                property=LOGICAL_ID, old=logical_id, new=successor, consequence=consequence))
            continue
        assert new is not None
        findings.extend(_property_findings(stack=stack, logical_id=logical_id, spec=spec,
                                           label=label, old_template=old, new_template=new))
    return findings
