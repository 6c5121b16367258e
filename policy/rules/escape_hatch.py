"""The template CloudFormation receives is the app the construct tree describes.

cdk-nag's packs read the L1 properties of the construct tree; an escape hatch
(`add_property_override`, `add_property_deletion_override`, `add_override("DeletionPolicy", ...)`)
changes the template without changing what they see, so their "compliant" would not hold for
what is deployed. Without an escape hatch the two views are equal, property for property, on
every resource of this app; any difference is one, and this check reports each on its own, as
`Redundancy-TemplateMatchesConstructs[Property::<path>]` (or `[Attribute::<name>]`), so an
intended override can be acknowledged for one property of one construct and nothing more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from cloud_assembly import removal
from cloud_assembly.template import Resource
from policy.model import COMPLIANT, NOT_APPLICABLE, Result, Rule, StackView, non_compliant

#: The types whose DeletionPolicy/UpdateReplacePolicy the check compares: those that hold data
#: (deleting or replacing one loses it). A removal policy lives in the L1's options, which Node
#: answers one resource at a time (~0.5 ms), so it is asked only where it is compared
#: (`policies_compared`; policy.views), not of every resource.
STATEFUL_TYPES = frozenset({
    "AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::KMS::Key",
    "AWS::SecretsManager::Secret", "AWS::Logs::LogGroup", "AWS::Backup::BackupVault",
    "AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::EFS::FileSystem", "AWS::EC2::Volume",
})
RULE_ID = "Redundancy-TemplateMatchesConstructs"
# Names of properties that may hold a secret (`MasterUserPassword`, `SecretString`,
# `AuthToken`...): a finding on one, or on a value holding one, says "differs", never a value.
_SECRET = re.compile(r"(password|passphrase|secretstring|token|secretaccesskey|privatekey)$",
                     re.I)
_SHOWN = 120  # characters of a value shown in a finding
_ABSENT = object()


def _is_intrinsic(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and (
        "Ref" in value or next(iter(value)).startswith("Fn::"))


def differences(mine: Any, theirs: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, construct value, template value) wherever two property values differ: down
    through maps (key by key; `Parameters.require_secure_transport`) and lists of equal length
    (item by item; `BackupPlanRule.0.Lifecycle`), never into an intrinsic function, which
    differs as a whole."""
    if mine is theirs or mine == theirs:
        return
    if (isinstance(mine, dict) and isinstance(theirs, dict)
            and not _is_intrinsic(mine) and not _is_intrinsic(theirs)):
        for key in [*mine, *(k for k in theirs if k not in mine)]:
            yield from differences(mine.get(key, _ABSENT), theirs.get(key, _ABSENT),
                                   f"{path}.{key}" if path else key)
    elif isinstance(mine, list) and isinstance(theirs, list) and len(mine) == len(theirs):
        for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            yield from differences(a, b, f"{path}.{index}" if path else str(index))
    else:
        yield path, mine, theirs


def _shown(value: Any) -> str:
    if value is _ABSENT or value is None:
        return "absent"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _holds_secret(name: str, *values: Any) -> bool:
    """`name` (a property path) or a key inside `values` names a property that may hold a
    secret."""
    if _SECRET.search(name):  # anchored at the end: the path's last part
        return True
    todo = list(values)
    while todo:
        value = todo.pop()
        if isinstance(value, dict):
            if any(_SECRET.search(str(key)) for key in value):
                return True
            todo.extend(value.values())
        elif isinstance(value, list):
            todo.extend(value)
    return False


def _finding(kind: str, name: str, mine: Any, theirs: Any) -> Result:
    if _holds_secret(name, mine, theirs):
        detail = f"{name} differs between the construct tree and the template (value not shown)"
    else:
        detail = f"{name} is {_shown(mine)} in the construct tree, {_shown(theirs)} in the template"
    return non_compliant(detail, f"{kind}::{name}")


def policies_compared(resource_type: str, deletion_policy: str | None,
                      update_replace_policy: str | None) -> bool:
    """The removal policies of a template resource are compared with the construct's: on a
    type that holds data, unless the template keeps the resource on deletion and on
    replacement (Retain), which no construct setting is stronger than, so no override weakens."""
    return resource_type in STATEFUL_TYPES and not (
        removal.keeps_resource(deletion_policy) and removal.keeps_resource(update_replace_policy))


def _compare(resource: Resource, stack: StackView) -> Result | tuple[Result, ...]:
    if stack.constructs is None:
        return NOT_APPLICABLE  # the construct view itself, or a stack without one
    construct = stack.constructs.resources.get(resource.logical_id)
    if construct is None:
        return non_compliant("the resource is in the template but no construct of the tree "
                             "renders it", "Attribute::Resource")
    found: list[Result] = []
    if construct.type != resource.type:
        found.append(_finding("Attribute", "Type", construct.type, resource.type))
    if construct.properties != resource.properties:
        found += [_finding("Property", path, mine, theirs) for path, mine, theirs
                  in differences(construct.properties, resource.properties)]
    if construct.condition != resource.condition:
        found.append(_finding("Attribute", "Condition", construct.condition, resource.condition))
    if policies_compared(resource.type, resource.deletion_policy,
                         resource.update_replace_policy):
        for name, mine, theirs in (
                ("DeletionPolicy", construct.deletion_policy, resource.deletion_policy),
                ("UpdateReplacePolicy", construct.update_replace_policy,
                 resource.update_replace_policy)):
            if removal.effective(mine) != removal.effective(theirs):
                found.append(_finding("Attribute", name, removal.effective(mine),
                                      removal.effective(theirs)))
    return tuple(found) or COMPLIANT


TEMPLATE_MATCHES_CONSTRUCTS = Rule(
    id=RULE_ID,
    info="The template differs from the construct tree: an escape hatch changed what "
         "CloudFormation receives.",
    explanation="cdk-nag's packs judge the construct tree's L1 properties; a raw override "
                "(add_property_override, add_property_deletion_override, "
                "add_override('DeletionPolicy', ...)) changes the template behind their back, "
                "so their verdict would not hold for what is deployed. Set the property on the "
                "construct instead; an override that must stay is acknowledged in "
                "policy/acknowledgments.py for that one construct and property, with a reason.",
    resource_types=(),  # every type
    check=_compare,
)

RULES = (TEMPLATE_MATCHES_CONSTRUCTS,)
