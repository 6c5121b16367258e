"""What CloudFormation does with a resource's data when the resource leaves the stack
(DeletionPolicy) or is replaced (UpdateReplacePolicy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DELETE, SNAPSHOT, RETAIN, RETAIN_EXCEPT_ON_CREATE = (
    "Delete", "Snapshot", "Retain", "RetainExceptOnCreate")
#: How much of the data each policy keeps; an absent policy is Delete.
STRENGTH: Mapping[str, int] = {DELETE: 0, SNAPSHOT: 1, RETAIN_EXCEPT_ON_CREATE: 2, RETAIN: 2}
#: Policies after which the data still exists: a final snapshot, or the resource itself.
KEEPING: tuple[str, ...] = (SNAPSHOT, RETAIN, RETAIN_EXCEPT_ON_CREATE)
#: CDK's RemovalPolicy member names, as CloudFormation spells them.
FROM_CDK: Mapping[str, str] = {"DESTROY": DELETE, "DELETE": DELETE, "RETAIN": RETAIN,
                               "SNAPSHOT": SNAPSHOT,
                               "RETAIN_ON_UPDATE_OR_DELETE": RETAIN,
                               "RETAIN_EXCEPT_ON_CREATE": RETAIN_EXCEPT_ON_CREATE}


def effective(policy: str | None) -> str:
    """`policy` with CloudFormation's default for an absent one."""
    return policy or DELETE


def strength(policy: str | None) -> int:
    return STRENGTH.get(effective(policy), 0)


def keeps_data(policy: str | None) -> bool:
    """The data outlives the resource: a final snapshot, or the resource kept."""
    return effective(policy) in KEEPING


def keeps_resource(policy: str | None) -> bool:
    """The resource itself is kept (orphaned outside the stack), not only a snapshot."""
    return strength(policy) >= STRENGTH[RETAIN]


def policy_of(body: Mapping[str, Any], attribute: str) -> str:
    """A template resource's `DeletionPolicy` or `UpdateReplacePolicy`, with the default."""
    return effective(body.get(attribute))
