"""Eager checks of construct props: each raises a `ValueError` naming the construct, the prop, the
bad value and what is allowed, before any resource exists. The floors come from
`cloud_assembly`, where the gate's rules read them too."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import Enum

from aws_cdk import Duration, RemovalPolicy, Stack, Token
from constructs import Construct

from cloud_assembly.baseline import MIN_BACKUP_RETENTION_DAYS, MIN_LOG_RETENTION_DAYS
from cloud_assembly.rds import BACKUP_RETENTION_LIMITS, LOG_RETENTION_DAYS

# 1 to 63 letters, digits or hyphens; a letter first; no two hyphens in a row, none at the end.
_DB_IDENTIFIER = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")


def invalid(owner: str, prop: str, value: object, allowed: str) -> ValueError:
    """The error for `owner`'s `prop` set to `value`: `Owner: prop=value: allowed`."""
    if isinstance(value, Duration):
        shown = value.to_human_string()
    elif isinstance(value, Enum):
        shown = f"{type(value).__name__}.{value.name}"
    else:
        shown = repr(value)
    return ValueError(f"{owner}: {prop}={shown}: {allowed}")


def whole_days(owner: str, prop: str, duration: Duration, low: int, high: int | None,
               why: str = "") -> int:
    """`duration` in days, a whole number from `low` to `high` (no upper bound if None)."""
    days = duration.to_days(integral=False)
    if days != int(days) or days < low or (high is not None and days > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise invalid(owner, prop, duration, f"whole days {bounds}{why}")
    return int(days)


def backup_retention_days(owner: str, prop: str, duration: Duration) -> int:
    """Automated backups kept for at least the project's floor, at most what RDS allows."""
    return whole_days(owner, prop, duration, MIN_BACKUP_RETENTION_DAYS,
                      BACKUP_RETENTION_LIMITS[1], " (automated backups are required)")


def log_retention_days(owner: str, prop: str, days: int) -> int:
    """A retention CloudWatch Logs accepts, at least the project's floor (logs are evidence)."""
    if days not in LOG_RETENTION_DAYS:
        raise invalid(owner, prop, days, "a CloudWatch Logs retention in days: "
                      + ", ".join(map(str, LOG_RETENTION_DAYS)))
    if days < MIN_LOG_RETENTION_DAYS:
        raise invalid(owner, prop, days, f"at least {MIN_LOG_RETENTION_DAYS} days: database "
                      "logs are audit evidence (AWS Control Tower CT.CLOUDWATCH.PR.2)")
    return days


def stateful_removal_policy(owner: str, prop: str, policy: RemovalPolicy) -> RemovalPolicy:
    """SNAPSHOT or RETAIN: deleting the stack never deletes the data."""
    if policy not in (RemovalPolicy.SNAPSHOT, RemovalPolicy.RETAIN):
        raise invalid(owner, prop, policy, "RemovalPolicy.SNAPSHOT or RemovalPolicy.RETAIN "
                      "(deleting the stack must not delete the data)")
    return policy


def db_identifier(owner: str, prop: str, identifier: str) -> str:
    """An RDS DB instance identifier (create-only: renaming one replaces the instance)."""
    if Token.is_unresolved(identifier) or not _DB_IDENTIFIER.match(identifier):
        raise invalid(owner, prop, identifier, "1 to 63 letters, digits or hyphens, a letter "
                      "first, no two hyphens in a row and none at the end")
    return identifier


def distinct(owner: str, prop: str, values: Iterable[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value.lower() in seen:  # RDS stores identifiers in lower case
            raise invalid(owner, prop, value, "each identifier once (RDS ignores case)")
        seen.add(value.lower())


def in_range(owner: str, prop: str, value: int, low: int, high: int) -> int:
    if not low <= value <= high:
        raise invalid(owner, prop, value, f"from {low} to {high}")
    return value


def other_region(owner: str, prop: str, region: str, scope: Construct, what: str) -> str:
    """A region other than `scope`'s stack's (when that one is known at synth time)."""
    own = Stack.of(scope).region
    if region == own:
        raise invalid(owner, prop, region, f"a region other than this stack's ({own}): {what}")
    return region
