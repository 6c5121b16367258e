"""The data-loss guard: which changes between two syntheses of a stack destroy stored data.

`find_data_loss` compares a baseline template (the committed snapshot) with the current one and
returns one `Finding` per stateful resource that CloudFormation would delete or replace, or whose
deletion/replacement policy weakens. It looks only at the stateful types of `review.stateful`:
replacing a security group or an alarm loses nothing, replacing a database loses everything
written since its last snapshot.

Both templates must be normalized (`review.normalize`) so that masking is the same on both sides.

Engine versions are judged across the environment's stacks (`find_upgrade_problems`): a writer
and its replicas live in different stacks, and CloudFormation's order (a writer before its
replicas, the DR replica's stack last) decides what RDS accepts. An upgrade RDS refuses blocks
(`cloud_assembly.upgrades`: a downgrade, a MySQL writer before its replicas, a PostgreSQL
replica on a new major version of its own, a major version without `AllowMajorVersionUpgrade`
or with a parameter group of the old family), and so does a cross-region replica a PostgreSQL
major upgrade leaves behind (it stops replicating); every accepted upgrade is a note saying
what changes, how and at what downtime.

A promotion declared in config/topology.json (`DeclaredPromotion`) changes three verdicts, and
only for what it declares: the removal of `SourceDBInstanceIdentifier` from the promoted writer
is CloudFormation's in-place promotion (a note: a brief interruption, no replacement); the
former writer leaving the stack is its retirement (a note, when its DeletionPolicy keeps it);
the stateful resources of the replicas it replaces, and of what moved with the writer to its
new region, leaving the stack are notes too. Everything else still blocks: a create-only change
on the promoted writer, a source removed from a replica the config does not declare, the
retired writer deployed with a policy that would delete it.

A DR rebuild declared in config/topology.json (`DeclaredDrRebuild`) changes two verdicts the
same way: in its detached phase, the removal of `SourceDBInstanceIdentifier` from the DR replica
it names is an in-place promotion (a note); in its rebuilt phase, that instance leaving the
stack is its retirement (a note, when the template deployed before, the detached one, keeps it
with DeletionPolicy Retain). The same changes undeclared still block.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cloud_assembly import rds, removal, upgrades
from cloud_assembly.template import Stack, link_stacks
from review.stateful import STATEFUL_TYPES, StatefulType, effective_value

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


@dataclass(frozen=True, kw_only=True)
class DeclaredPromotion:
    """The changes a promotion declared in config/topology.json makes expected.

    - `writer`: the DB instance identifier promoted in place;
    - `retired`: the former writer's identifier, which leaves its stack retained;
    - `replaced`: {stack: logical-id prefixes} of the replicas of the former writer (their
      constructs' resources), which replicas of the new writer replace;
    - `moved`: {stack: logical-id prefixes} of what moved with the writer to its new region
      (the credentials secret), kept by its DeletionPolicy;
    - `decommission`: the commands that delete the retired writer for good, when it is time.
    """

    writer: str
    retired: str
    decommission: str = ""
    replaced: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    moved: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def owner(self, stack: str, logical_id: str) -> str | None:
        """'replaced' or 'moved' when `logical_id` is a resource of such a construct."""
        for kind, table in (("replaced", self.replaced), ("moved", self.moved)):
            if any(_belongs(logical_id, prefix) for prefix in table.get(stack, ())):
                return kind
        return None


@dataclass(frozen=True, kw_only=True)
class DeclaredDrRebuild:
    """The changes a DR rebuild declared in config/topology.json makes expected.

    - `detached`: the DR replica's identifier promoted in place and fenced (the detached phase);
    - `retired`: the detached instance's identifier, which leaves its stack retained (the
      rebuilt phase);
    - `decommission`: the commands that delete the retired instance for good.
    """

    detached: str | None = None
    retired: str | None = None
    decommission: str = ""


def _belongs(logical_id: str, prefix: str) -> bool:
    """A logical id of the construct whose path makes `prefix` (CDK joins the path's parts and
    adds an 8-digit hash): the prefix, then a capitalized part or the hash."""
    rest = logical_id[len(prefix):]
    return logical_id.startswith(prefix) and bool(rest) and (rest[0].isupper() or
                                                             len(rest) == 8)


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
    if spec.type == rds.DB_INSTANCE and not rds.deletion_policy_applies(
            old.get("Properties", {})):
        return ("deletes the read replica whatever its DeletionPolicy (CloudFormation ignores "
                "it on a replica; deletion protection makes the delete fail and leaves it "
                "outside the stack): a reader of the writer is lost")
    if removal.keeps_resource(policy):
        return (f"removes the {spec.noun} from the stack: it is orphaned (kept, but no longer "
                "managed, and its alarms, backups and rotation go with the stack)")
    if policy == removal.SNAPSHOT:
        return (f"deletes the {spec.noun} after a final snapshot; everything written after that "
                "snapshot and its automated backups are lost")
    return f"deletes the {spec.noun} and its data (DeletionPolicy Delete)"


def _property_findings(*, stack: str, logical_id: str, spec: StatefulType, label: str,
                       old_template: Template, new_template: Template,
                       declared: DeclaredPromotion | None = None,
                       rebuild: DeclaredDrRebuild | None = None) -> Iterator[Finding]:
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
                                          replaced=replaced, declared=declared, rebuild=rebuild)


def _database_conditionals(*, old: Mapping[str, Any], new: Mapping[str, Any],
                           finding: Callable[..., Finding], replaced: str,
                           declared: DeclaredPromotion | None = None,
                           rebuild: DeclaredDrRebuild | None = None) -> Iterator[Finding]:
    """The create-only-in-some-cases properties of AWS::RDS::DBInstance."""
    if old.get("Engine") and new.get("Engine") and old["Engine"] != new["Engine"]:
        yield finding("Engine", old["Engine"], new["Engine"], replaced)
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
    identifier = new.get("DBInstanceIdentifier")
    if rds.is_replica(old) and not rds.is_replica(new):
        if declared is not None and identifier == declared.writer:
            yield finding(rds.SOURCE, before, after, promotion_consequence(declared),
                          blocking=False)
        elif rebuild is not None and identifier == rebuild.detached:
            yield finding(rds.SOURCE, before, after,
                          f"the DR rebuild config/topology.json declares: CloudFormation "
                          f"promotes {identifier} in place (no replacement, its data kept), "
                          "a standalone instance, fenced, not the writer: the last DR copy "
                          "while the writer is upgraded, until a new DR replica is built",
                          blocking=False)
        else:
            yield finding(rds.SOURCE, before, after,
                          "promotes a read replica that config/topology.json does not declare "
                          "the writer: CloudFormation would make it a second writer that stops "
                          "replicating (no replacement); declare the promotion after the "
                          "failover that made it the writer, or keep its source")
    elif canonical(before) != canonical(after):
        yield finding(rds.SOURCE, before, after,
                      f"{replaced} (a replica is re-created from its new source)")


def promotion_consequence(declared: DeclaredPromotion) -> str:
    return (f"the promotion config/topology.json declares: CloudFormation promotes "
            f"{declared.writer} in place (a brief interruption, no replacement, its data and "
            f"automated backups kept); {declared.retired} is retired (kept outside the stack, "
            f"deletion protection on); the replicas of {declared.retired} are replaced by "
            f"replicas of {declared.writer}")


def _declared_removal(resource: Mapping[str, Any], *, stack: str, logical_id: str,
                      spec: StatefulType, declared: DeclaredPromotion | None,
                      rebuild: DeclaredDrRebuild | None = None) -> str | None:
    """Why removing this resource is what the declared promotion or DR rebuild does (a note),
    else None."""
    policy = removal.policy_of(resource, "DeletionPolicy")
    name = resource.get("Properties", {}).get(spec.name_property) if spec.name_property else None
    def kept(role: str, decommission: str, *, purpose: str = "") -> str | None:
        """The note for a retired instance CloudFormation keeps, else None."""
        if not (removal.keeps_resource(policy)
                and rds.deletion_policy_applies(resource.get("Properties", {}))):
            return None
        return (f"retires {name}, {role}: CloudFormation keeps it outside the stack "
                "(DeletionPolicy Retain, deletion protection on), fenced, "
                f"{purpose}until it is decommissioned"
                + (f": {decommission}" if decommission else ""))

    if rebuild is not None and spec.type == rds.DB_INSTANCE and name == rebuild.retired:
        return kept("the DR replica detached for the rebuild", rebuild.decommission)
    if declared is None:
        return None
    if spec.type == rds.DB_INSTANCE and name == declared.retired:
        return kept("the former writer", declared.decommission, purpose="for forensics ")
    kind = declared.owner(stack, logical_id)
    if kind == "replaced":
        what = ("the replica is deleted once its successor exists: it holds only a copy of "
                "the former writer's data" if spec.type == rds.DB_INSTANCE else
                f"the {spec.noun} goes with its replica "
                f"({'kept outside the stack' if removal.keeps_resource(policy) else 'deleted'})")
        return (f"a replica of {declared.retired} replaced by a replica of {declared.writer} "
                f"(RDS cannot re-parent a replica): {what}")
    if kind == "moved" and removal.keeps_resource(policy):
        return (f"moves with the writer to its region: the {spec.noun} is kept outside this "
                "stack (DeletionPolicy Retain); the writer's stack holds its successor")
    return None


def find_data_loss(*, stack: str, old: Template | None, new: Template | None,
                   declared: DeclaredPromotion | None = None,
                   rebuild: DeclaredDrRebuild | None = None) -> list[Finding]:
    """Every data-losing change of stateful resources from `old` to `new` (normalized templates).

    `old` None means a new stack (nothing to lose); `new` None means the stack is gone.
    `declared`, `rebuild`: the promotion or the DR rebuild phase config/topology.json declares
    between the two (module doc).
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
            expected = _declared_removal(resource, stack=stack, logical_id=logical_id, spec=spec,
                                         declared=declared, rebuild=rebuild) \
                if current is None else None
            if expected is not None:
                findings.append(Finding(
                    stack=stack, resource=logical_id, resource_type=spec.type, label=label,
                    property=LOGICAL_ID, old=logical_id, new=None, consequence=expected,
                    blocking=False))
                continue
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
                                           label=label, old_template=old, new_template=new,
                                           declared=declared, rebuild=rebuild))
    return findings


# --- engine upgrades, across the environment's stacks ---------------------------------------

#: What to do instead of an upgrade RDS refuses, per rule (`cloud_assembly.upgrades`).
_ADVICE = {
    upgrades.REPLICAS_FIRST: "CloudFormation updates a writer before its replicas (they "
                             "reference it): declare the replicas' version first, in a deploy "
                             "of its own (replica_engine_version), then the writer's; `python -m "
                             "ops upgrade` plans and carries out both stages",
    upgrades.DOWNGRADE: "an engine version cannot go back: the only way to an older version is "
                        "a restore from a snapshot",
    upgrades.FLAG: "declare AllowMajorVersionUpgrade on the instance",
    upgrades.FAMILY: "give the instance a parameter group of the new family in the same deploy",
    upgrades.REPLICA_MAJOR: "declare the new major version in engine_version: RDS upgrades the "
                            "in-Region replicas with their writer",
}


@dataclass(frozen=True, kw_only=True)
class UpgradeReview:
    """The engine-version changes of a deploy: findings (refusals block, the rest are notes)
    and one line per instance in CloudFormation's order, for the report."""

    findings: tuple[Finding, ...] = ()
    lines: tuple[str, ...] = ()


def _linked(templates: Mapping[str, Template]) -> dict[str, Stack]:
    return link_stacks(Stack.from_template(name, template)
                       for name, template in templates.items())


def find_upgrade_problems(*, old: Mapping[str, Template],
                          new: Mapping[str, Template]) -> UpgradeReview:
    """What the engine versions `new` declares ask of RDS, deployed over `old` ({stack:
    template}, the environment's every stack): module doc."""
    before = upgrades.instance_engines(_linked(old))
    after = upgrades.instance_engines(_linked(new))
    kept = {identifier: now for identifier, now in after.items() if identifier in before}
    engine = next((i.engine for i in kept.values() if i.engine), None)
    if engine is None:
        return UpgradeReview()
    steps = upgrades.simulate_deploy(engine, [upgrades.Declared(
        identifier=identifier, kind=now.kind, source=now.source,
        before=before[identifier].version, after=now.version, allow_major=now.allow_major,
        parameter_group=now.parameter_group, family=now.family)
        for identifier, now in kept.items()])
    findings = []
    for step in steps:
        instance = kept[step.identifier]
        if step.refusal is not None:
            consequence = (f"RDS refuses this upgrade ({step.refusal}): the deploy fails at this "
                           f"instance, after what CloudFormation updated before it; "
                           f"{_ADVICE[step.refusal.rule]}")
        elif step.left_behind:
            consequence = (f"RDS does not upgrade a cross-Region read replica with its "
                           f"{engine} source: {step.identifier} stays on {step.from_version} "
                           "and stops replicating from a writer of a newer major version (the "
                           "DR copy goes stale, nothing says so); the RDS user guide recreates "
                           "it from the upgraded writer: declare a DR rebuild (`python -m "
                           "ops upgrade` detaches the DR replica first and rebuilds it after "
                           "the writer), or upgrade within the major version")
        else:
            consequence = f"upgraded in place: {step.describe(engine)}"
        findings.append(Finding(
            stack=instance.stack, resource=instance.logical_id, resource_type=rds.DB_INSTANCE,
            label=f"database {step.identifier}", property="EngineVersion",
            old=step.from_version, new=step.to_version, consequence=consequence,
            blocking=step.refusal is not None or step.left_behind))
    lines = tuple(f"{'REFUSED: ' if s.refusal else ''}{s.describe(engine)}"
                  + (f" -- {s.refusal}" if s.refusal else "") for s in steps)
    return UpgradeReview(findings=tuple(findings), lines=lines)
