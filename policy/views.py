"""The two views of an app the Redundancy rules run on, built from what `app.synth()` wrote.

- The **template view**: each stack's final template, escape hatches included.
- The **construct view**: every L1's own properties and removal policies, as cdk-nag reads
  them, without raw overrides. CDK writes every L1's resolved properties to the assembly's
  `tree.json` (`aws:cdk:cloudformation:props`, in jsii's camelCase), so the view is read from
  disk. Node is asked only what the tree lacks (each question is a round trip of ~0.5 ms, and
  asking everything, as `construct_view_via_jsii`, the reference implementation, does, cost
  ~50 ms per database stack): the removal policies of POLICY_TYPES and those the cross-view
  check compares (a type that holds data, not retained by the template), the condition of a
  resource the template puts under one, and the type and properties of a raw `CfnResource`
  (CDK's custom-resource providers), which the tree does not record.

The keys of the tree's properties are respelt as CloudFormation spells them by matching the
template's keys at the same place, ignoring case; where a key has no counterpart (a raw
override removed it) or two (an override added a miscased twin), Node renders that resource's
properties exactly (`_render_properties`).
Tests hold the fast view equal to the reference one on every environment and on mutated apps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard, TypeVar

import aws_cdk as cdk
from constructs import IConstruct

from cloud_assembly import CloudAssembly, removal
from cloud_assembly.manifest import TreeNode, assembly_with_tree
from cloud_assembly.template import Resource
from policy.model import PolicySettings, StackView
from policy.rules import ALL_RULES
from policy.rules.escape_hatch import policies_compared

# Removal policies live in the L1's cfnOptions, not in the tree: asked where a rule reads them
# (POLICY_TYPES) and where the cross-view check compares them (`policies_compared`).
# Elsewhere the construct view leaves them unset, which a rule would read as Delete.
POLICY_TYPES = frozenset(t for rule in ALL_RULES if rule.reads_removal_policies
                         for t in rule.resource_types)


@dataclass(frozen=True)
class SynthesizedStack:
    """A stack the gate checks, as the cloud assembly describes it."""

    path: str  # construct path
    name: str
    region: str | None  # None for an environment-agnostic stack
    template_path: Path
    template: dict[str, Any]
    settings: PolicySettings

    @property
    def logical_ids(self) -> dict[str, str]:
        """{construct path: logical id} from the template's `aws:cdk:path` metadata."""
        return {body["Metadata"]["aws:cdk:path"]: logical_id
                for logical_id, body in self.template.get("Resources", {}).items()
                if "aws:cdk:path" in (body.get("Metadata") or {})}


class UnsynthesizedStackError(RuntimeError):
    """A stack registered with the gate has no template in the assembly: it would go unchecked."""


def synthesized_stacks(template_paths: Iterable[str],
                       settings: dict[str, PolicySettings]) -> list[SynthesizedStack]:
    """The registered stacks among the templates of the validation context, with their
    construct paths, names and regions from the assembly's manifest (what CDK itself passes
    plugins as `stackTemplates`, read without a round trip per field). Each assembly's
    manifest is read once, however many of its templates there are."""
    assemblies: dict[Path, CloudAssembly] = {}
    out = []
    for template_path in template_paths:
        template_file = Path(template_path)
        if template_file.parent not in assemblies:
            assemblies[template_file.parent] = CloudAssembly.load(template_file.parent)
        artifact = assemblies[template_file.parent].stack_with_template(template_file)
        if artifact.path not in settings:
            continue
        out.append(SynthesizedStack(
            path=artifact.path, name=artifact.name, region=artifact.region,
            template_path=template_file, template=artifact.template,
            settings=settings[artifact.path]))
    missing = sorted(set(settings) - {stack.path for stack in out})
    if missing:
        raise UnsynthesizedStackError(f"policy gate: no template for registered stack(s) "
                                      f"{', '.join(missing)}: they would go unchecked")
    return out


def template_view(stack: SynthesizedStack) -> StackView:
    return StackView.from_template(stack.name, stack.template, region=stack.region,
                                   settings=stack.settings)


def _policy(value: Any) -> str | None:
    """A removal policy Node returned (a CfnDeletionPolicy member) as the template spells it."""
    if value is None:
        return None
    name = getattr(value, "name", None) or str(value).rsplit(".", 1)[-1]
    return removal.FROM_CDK.get(name, name)


def _condition(value: Any) -> str | None:
    """The condition Node resolved (`{"Condition": name}`) as the template names it."""
    return value.get("Condition") if isinstance(value, dict) else value


_TYPE_OF_CLASS: dict[type, str] = {}  # L1 class -> its CloudFormation type, asked once per class


def _renders_type(node: cdk.CfnResource, resource_type: str) -> bool:
    """True when `node`'s class is the generated L1 of `resource_type` (`CfnDBInstance` for
    `AWS::RDS::DBInstance`), told by the class's jsii name without a round trip. A False is
    no verdict: ask `_resource_type`."""
    name = getattr(type(node), "__jsii_type__", "").rsplit(".", 1)[-1]
    return name == "Cfn" + resource_type.rsplit("::", 1)[-1]


def _resource_type(node: cdk.CfnResource) -> str:
    """`node.cfn_resource_type` without a call into Node for every resource: a generated L1
    class names its type once (CFN_RESOURCE_TYPE_NAME); a raw `CfnResource` is asked."""
    cls = type(node)
    if cls is cdk.CfnResource:
        return node.cfn_resource_type
    if cls not in _TYPE_OF_CLASS:
        _TYPE_OF_CLASS[cls] = getattr(cls, "CFN_RESOURCE_TYPE_NAME", None) or node.cfn_resource_type
    return _TYPE_OF_CLASS[cls]


# --- the construct view from tree.json -------------------------------------------------------

def spelt_like(value: Any, counterpart: Any) -> tuple[Any, bool]:
    """`value` (jsii spelling) with every key spelt as in `counterpart`, the template's value at
    the same place, matched ignoring case (`dbSubnetGroupName` -> `DBSubnetGroupName`; a map's
    keys and a JSON document's keys match themselves). The flag is False when a key has no
    counterpart: only Node knows its spelling then."""
    if value == counterpart:  # spelt alike already (a JSON document, a map, a scalar): as is
        return value, True
    if isinstance(value, dict):
        theirs = {key.lower(): key for key in counterpart} if isinstance(counterpart, dict) else {}
        if isinstance(counterpart, dict) and len(theirs) < len(counterpart):
            return value, False  # two keys differ only in case (an override's typo): ambiguous
        out = {}
        for key, item in value.items():
            name = theirs.get(key.lower())
            if name is None:
                return value, False
            out[name], exact = spelt_like(item, counterpart[name])
            if not exact:
                return value, False
        return out, True
    if isinstance(value, list):
        pairs = counterpart if isinstance(counterpart, list) else []
        out_list = []
        for index, item in enumerate(value):
            if isinstance(item, (dict, list)) and index >= len(pairs):
                return value, False
            converted, exact = spelt_like(item, pairs[index] if index < len(pairs) else None)
            if not exact:
                return value, False
            out_list.append(converted)
        return out_list, True
    return value, True


@dataclass
class _Pending:
    """What one resource of the construct view still needs from Node."""

    node: cdk.CfnResource
    entry: TreeNode
    type: str
    stack: SynthesizedStack
    logical_id: str | None
    properties: dict[str, Any] | None  # None: render with Node
    options: bool  # ask its removal policies and condition


def construct_views(app: IConstruct, stacks: list[SynthesizedStack]) -> list[StackView] | None:
    """The construct view of `stacks`, every resource, read from the tree CDK wrote. Node is
    asked, per stack in one `resolve`, only what the tree lacks (see the module doc) and any
    logical id the template's metadata lacks. None when the tree is missing or does not match
    the app."""
    if not stacks:
        return []
    assembly = assembly_with_tree(stacks[0].template_path)
    tree = assembly.tree() if assembly is not None else None
    nodes = app.node.find_all() if tree is not None else []
    if tree is None or len(nodes) != len(tree):
        return None
    stack_nodes: dict[str, cdk.Stack] = {}
    for node, entry in zip(nodes, tree, strict=True):
        if is_a(node, cdk.Stack):
            stack_nodes[entry.path] = node
        elif (entry.type is not None and is_a(node, cdk.CfnResource)
              and not _renders_type(node, entry.type) and _resource_type(node) != entry.type):
            return None  # the tree is not this app's
    by_path: dict[str | None, SynthesizedStack] = {stack.path: stack for stack in stacks}
    logical_ids = {stack.path: stack.logical_ids for stack in stacks}
    template_resources = {stack.path: stack.template.get("Resources", {}) for stack in stacks}
    pending: list[_Pending] = []
    for node, entry in zip(nodes, tree, strict=True):
        if not is_a(node, cdk.CfnResource):
            continue
        stack = by_path.get(_owner(entry.path, stack_nodes))
        if stack is None:
            continue
        logical_id = logical_ids[stack.path].get(entry.path)
        rendered = template_resources[stack.path].get(logical_id) or {}
        resource_type = entry.type or _resource_type(node)
        properties = None
        if entry.props is not None:
            converted, exact = spelt_like(entry.props, rendered.get("Properties") or {})
            properties = converted if exact else None
        options = (resource_type in POLICY_TYPES or "Condition" in rendered
                   or logical_id is None
                   or policies_compared(resource_type, rendered.get("DeletionPolicy"),
                                        rendered.get("UpdateReplacePolicy")))
        pending.append(_Pending(node, entry, resource_type, stack, logical_id, properties,
                                options))
    resources: dict[str, dict[str, Resource]] = {stack.path: {} for stack in stacks}
    for stack in stacks:
        mine = [p for p in pending if p.stack is stack]
        asked = _ask_node(stack_nodes[stack.path], mine)
        for item, answer in zip(mine, asked, strict=True):
            logical_id = item.logical_id or answer["id"]
            properties = item.properties
            if properties is None:
                bag = item.entry.props if item.entry.props is not None else answer["props"]
                properties = _rendered(item.node, bag)
            asked_options = answer.get("options") or {}
            resources[stack.path][logical_id] = Resource(
                logical_id=logical_id, type=item.type, properties=properties,
                deletion_policy=_policy(asked_options.get("deletionPolicy")),
                update_replace_policy=_policy(asked_options.get("updateReplacePolicy")),
                path=item.entry.path, condition=_condition(asked_options.get("condition")))
    # A CfnOutput has no escape hatch: its template entry is its construct's value.
    return [StackView(name=stack.name, resources=resources[stack.path], settings=stack.settings,
                      outputs=stack.template.get("Outputs", {}), region=stack.region)
            for stack in stacks]


_SUBCLASS: dict[tuple[type, type], bool] = {}


_T = TypeVar("_T")


def is_a(node: object, cls: type[_T]) -> TypeGuard[_T]:
    """`isinstance(node, cls)` read from the class's MRO, once per class. jsii's classes are
    ABCs: the first `isinstance` of each class against CfnResource walks its thousands of
    generated L1 subclasses (~45 ms for one app's ~80 classes)."""
    key = (type(node), cls)
    found = _SUBCLASS.get(key)
    if found is None:
        found = _SUBCLASS[key] = cls in type(node).__mro__
    return found


def _owner(path: str, stacks: dict[str, Any]) -> str | None:
    """The path of the stack nearest above the construct at `path`."""
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        if path in stacks:
            return path
    return None


def _rendered(node: cdk.CfnResource, bag: dict[str, Any] | None) -> dict[str, Any]:
    """An L1's resolved property bag as the template spells it. A raw CfnResource's bag is
    spelt so already (its `_render_properties` returns it as is): no round trip for it."""
    if type(node) is cdk.CfnResource:
        return bag or {}
    return dict(node._render_properties(bag or {}) or {})


def _ask_node(stack: cdk.Stack, items: list[_Pending]) -> list[dict[str, Any]]:
    """One `resolve` for what `items` need from Node: removal policies and conditions, logical
    ids missing from the metadata, and the property bag of a raw CfnResource."""
    questions = []
    for index, item in enumerate(items):
        question: dict[str, Any] = {"index": index}  # never empty: resolve drops empty values
        if item.options:
            question["options"] = item.node.cfn_options
        if item.logical_id is None:
            question["id"] = item.node.logical_id
        if item.entry.props is None:
            question["props"] = item.node._cfn_properties
        questions.append(question)
    if all(len(question) == 1 for question in questions):
        return questions
    answers: list[dict[str, Any]] = [{} for _ in items]
    for answer in stack.resolve(questions):
        answers[answer["index"]] = answer
    return answers


# --- the construct view through jsii, the reference ----------------------------------------

def _own_constructs(stack: cdk.Stack) -> list[IConstruct]:
    """The constructs of `stack`, not those of a nested stack."""
    nodes = stack.node.find_all()
    nested = [n.node.path + "/" for n in nodes[1:] if isinstance(n, cdk.Stack)]
    if not nested:
        return nodes
    return [n for n in nodes if not any(n.node.path.startswith(p) or n.node.path + "/" == p
                                        for p in nested)]


def construct_view_via_jsii(stack: cdk.Stack, synthesized: SynthesizedStack) -> StackView:
    """The construct view of one stack asked of Node property by property: what
    `construct_views` reads from the tree, used when the tree is missing and, in the tests, as
    the reference the fast view must equal."""
    nodes: list[tuple[cdk.CfnResource, str]] = []
    output_nodes: list[cdk.CfnOutput] = []
    for node in _own_constructs(stack):
        if isinstance(node, cdk.CfnResource):
            nodes.append((node, _resource_type(node)))
        elif isinstance(node, cdk.CfnOutput):
            output_nodes.append(node)
    resolved = stack.resolve({
        "resources": [{"id": node.logical_id, "props": node._cfn_properties,
                       "options": node.cfn_options, "path": node.node.path}
                      for node, _ in nodes],
        "outputs": [{"id": node.logical_id, "value": node.value, "export": node.export_name}
                    for node in output_nodes],
    }) or {}
    resources: dict[str, Resource] = {}
    for (node, resource_type), entry in zip(nodes, resolved["resources"], strict=True):
        options = entry.get("options") or {}
        resources[entry["id"]] = Resource(
            logical_id=entry["id"],
            type=resource_type,
            properties=_rendered(node, entry.get("props")),
            deletion_policy=_policy(options.get("deletionPolicy")),
            update_replace_policy=_policy(options.get("updateReplacePolicy")),
            path=entry["path"],
            condition=_condition(options.get("condition")),
        )
    # As the template renders them: rules follow Fn::ImportValue to an output by its export.
    outputs = {entry["id"]: {"Value": entry.get("value"),
                             **({"Export": {"Name": entry["export"]}} if "export" in entry else {})}
               for entry in resolved["outputs"]}
    return StackView(name=synthesized.name, resources=resources, settings=synthesized.settings,
                     outputs=outputs, region=synthesized.region)
