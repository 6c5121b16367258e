"""The reviewed exceptions to the data-loss guard: intended replacements, one entry each.

An entry names one stack, one resource (its logical id in the baseline), one property and the
value it changes *to*, with a reason a reviewer can check::

    [[allow]]
    stack = "RedundantDb-dev-Database"
    resource = "DatabasePrimaryInstanceBFD6CC54"
    property = "MasterUsername"
    to = "appadmin"
    reason = "dev is rebuilt from seed data; agreed in PR #42 by the DBA on call"

Pinning `to` keeps an entry narrow: it allows this transition, not every future change of the
property. It also keeps an entry meaningful after the snapshots are updated: the entry still
*holds* (the resource now has that value), so it can stay committed as the record of the
decision. An entry that neither allows a pending finding nor holds in the current synthesis
(a typo, a resource since removed, a value changed again) is stale, and a test fails on it.
"""

from __future__ import annotations

import builtins
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloud_assembly import removal
from review.guard import ABSENT, LOGICAL_ID, Finding, canonical
from review.stateful import effective_value

_FIELDS = ("stack", "resource", "property", "to", "reason")
_PLACEHOLDER_STARTS = ("<", "todo", "tbd", "fixme", "xxx")
MIN_REASON_LENGTH = 20


class AllowListError(ValueError):
    """The allow-list file is malformed. The message names the file, the entry and the field."""


@dataclass(frozen=True, kw_only=True)
class AllowEntry:
    """One reviewed, intended data-losing change."""

    stack: str
    resource: str
    property: str
    to: Any
    reason: str
    index: int = 0

    @builtins.property  # to mypy, a bare `property` here is the field of that name
    def to_value(self) -> Any:
        return None if self.to == ABSENT else self.to

    def allows(self, finding: Finding) -> bool:
        return (finding.stack, finding.resource, finding.property) == (
            self.stack, self.resource, self.property) and canonical(finding.new) == canonical(
            self.to_value)

    def holds(self, templates: Mapping[str, Mapping[str, Any]]) -> bool:
        """True when the current synthesis already has the state this entry allowed."""
        template = templates.get(self.stack)
        if template is None:
            return False
        resources = template.get("Resources", {})
        if self.property == LOGICAL_ID:
            return self.resource not in resources and (
                self.to_value is None or self.to_value in resources)
        resource = resources.get(self.resource)
        if resource is None:
            return False
        if self.property in ("DeletionPolicy", "UpdateReplacePolicy"):
            return bool(removal.policy_of(resource, self.property) == self.to)
        current = effective_value(resource.get("Properties", {}).get(self.property),
                                  template=template)
        return canonical(current) == canonical(self.to_value)

    def describe(self) -> str:
        return (f"entry #{self.index} ({self.stack} {self.resource} {self.property} -> "
                f"{canonical(self.to_value)})")


def parse(text: str, *, source: str) -> tuple[AllowEntry, ...]:
    """The entries of an allow-list document; raise `AllowListError` naming what is wrong."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AllowListError(f"{source}: not valid TOML: {error}") from error
    unknown = set(document) - {"allow"}
    if unknown:
        raise AllowListError(f"{source}: unknown top-level keys {sorted(unknown)}; "
                             "entries are [[allow]] tables")
    tables = document.get("allow", [])
    if not isinstance(tables, list):
        raise AllowListError(f"{source}: 'allow' is a {type(tables).__name__}; "
                             "entries are [[allow]] tables")
    entries: list[AllowEntry] = []
    for index, raw in enumerate(tables, 1):
        where = f"{source}: [[allow]] entry #{index}"
        missing = [name for name in _FIELDS if name not in raw]
        extra = sorted(set(raw) - set(_FIELDS))
        if missing or extra:
            raise AllowListError(f"{where}: missing {missing}, unknown {extra}; "
                                 f"an entry has exactly {', '.join(_FIELDS)}")
        for name in ("stack", "resource", "property", "reason"):
            if not isinstance(raw[name], str) or not raw[name].strip():
                raise AllowListError(f"{where}: {name}={raw[name]!r}: a non-empty string")
        reason = raw["reason"].strip()
        if len(reason) < MIN_REASON_LENGTH or reason.lower().startswith(_PLACEHOLDER_STARTS):
            raise AllowListError(
                f"{where}: reason={reason!r}: say why losing this data is intended and who "
                f"checked (at least {MIN_REASON_LENGTH} characters, not a placeholder)")
        entries.append(AllowEntry(stack=raw["stack"], resource=raw["resource"],
                                  property=raw["property"], to=raw["to"], reason=reason,
                                  index=index))
    return tuple(entries)


def load(path: Path) -> tuple[AllowEntry, ...]:
    """The entries of the allow-list file at `path`; none when the file does not exist."""
    if not path.exists():
        return ()
    return parse(path.read_text(encoding="utf-8"), source=str(path))


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The guard's decision over all findings of a review."""

    blocking: tuple[Finding, ...]
    allowed: tuple[tuple[Finding, AllowEntry], ...]
    notes: tuple[Finding, ...]

    @property
    def passed(self) -> bool:
        return not self.blocking


def judge(*, findings: Iterable[Finding], entries: Sequence[AllowEntry]) -> Verdict:
    """Split findings into blocking, allowed (with the entry that allows each) and notes."""
    blocking: list[Finding] = []
    allowed: list[tuple[Finding, AllowEntry]] = []
    notes: list[Finding] = []
    for finding in findings:
        if not finding.blocking:
            notes.append(finding)
            continue
        entry = next((e for e in entries if e.allows(finding)), None)
        if entry is None:
            blocking.append(finding)
        else:
            allowed.append((finding, entry))
    return Verdict(blocking=tuple(blocking), allowed=tuple(allowed), notes=tuple(notes))


def stale_entries(*, entries: Sequence[AllowEntry], findings: Iterable[Finding],
                  templates: Mapping[str, Mapping[str, Any]]) -> tuple[AllowEntry, ...]:
    """Entries that allow no finding and do not hold in `templates` ({stack: template}).

    Only entries whose stack is in `templates` are judged, so one environment's review does not
    call another environment's entries stale.
    """
    pending = list(findings)
    return tuple(
        entry for entry in entries
        if entry.stack in templates
        and not any(entry.allows(finding) for finding in pending)
        and not entry.holds(templates))
