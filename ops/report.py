"""Check results and how they print: one line per check, PASS/FAIL/WARN/SKIP first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"  # a known degraded state (e.g. after a failover); fails only with --strict
    SKIP = "SKIP"  # the check does not apply here (the line says why)


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    status: Status
    resource: str  # e.g. "rds local-postgres-primary", "ssm /local-postgres/writer-endpoint"
    check: str  # what was checked, e.g. "backup retention (days)"
    expected: str | None = None
    actual: str | None = None
    note: str = ""

    def line(self) -> str:
        text = f"{self.status.value}  {self.resource}: {self.check}"
        if self.status in (Status.FAIL, Status.WARN) and self.expected is not None:
            text += f": expected {self.expected}, actual {self.actual}"
        elif self.actual is not None:
            text += f" = {self.actual}"
        if self.note:
            text += f" ({self.note})"
        return text


def compare(ok: bool, *, resource: str, check: str, expected: object, actual: object,
          note: str = "", degraded: bool = False) -> CheckResult:
    """PASS when `ok`; otherwise FAIL, or WARN when the failure is a known `degraded` state."""
    status = Status.PASS if ok else (Status.WARN if degraded else Status.FAIL)
    return CheckResult(status=status, resource=resource, check=check, expected=str(expected),
                       actual=str(actual), note=note)


@dataclass(frozen=True, kw_only=True)
class Summary:
    results: tuple[CheckResult, ...]

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    def ok(self, *, strict: bool = False) -> bool:
        bad = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
        return not any(r.status in bad for r in self.results)

    def text(self) -> str:
        return (f"{len(self.results)} checks: {self.count(Status.PASS)} passed, "
                f"{self.count(Status.FAIL)} failed, {self.count(Status.WARN)} warnings, "
                f"{self.count(Status.SKIP)} skipped")


def print_results(results: Iterable[CheckResult], out: TextIO) -> Summary:
    collected = tuple(results)
    for result in collected:
        print(result.line(), file=out)
    summary = Summary(results=collected)
    print(summary.text(), file=out)
    return summary
