"""Where the committed snapshots live, and how the guard reads its baseline from them.

Layout (written by syrupy through `review.snapshot_extension`, one readable file per stack; stack
names carry the environment):

    tests/__snapshots__/test_snapshots/test_stack_template[RedundantDb-prod-Database].json
    tests/__snapshots__/data_loss_allowlist.toml

The baseline is the snapshot as *committed*, read from git at `REVIEW_BASELINE` (default `HEAD`):
running `make snapshot-update` rewrites the working-tree files, but cannot by itself silence the
guard, because the guard still compares against the commit. In CI on a pull request, set
`REVIEW_BASELINE` to the target branch (e.g. `origin/main`) so the PR's own snapshot update is not
its own baseline. `REVIEW_BASELINE=worktree` compares against the files on disk instead.
A snapshot that the ref does not hold yet (a new stack, a repository before its first commit of
snapshots) falls back to the working-tree file when `REVIEW_BASELINE` is unset.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from review.normalize import normalize

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT_ROOT = ROOT / "tests" / "__snapshots__"
#: syrupy's directory for the snapshots of tests/test_snapshots.py.
SNAPSHOT_DIR = SNAPSHOT_ROOT / "test_snapshots"
ALLOWLIST_PATH = SNAPSHOT_ROOT / "data_loss_allowlist.toml"
SNAPSHOT_TEST = "test_stack_template"
BASELINE_ENV = "REVIEW_BASELINE"
WORKTREE = "worktree"

Template = dict[str, Any]


class BaselineError(RuntimeError):
    """The baseline cannot be read (an unknown git ref, a snapshot that is not JSON)."""


def snapshot_path(*, stack: str) -> Path:
    """The snapshot file of `stack`, as syrupy names it for the parametrized snapshot test."""
    return SNAPSHOT_DIR / f"{SNAPSHOT_TEST}[{stack}].json"


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """The committed templates the current synthesis is compared with."""

    source: str
    templates: dict[str, Template | None]


def _parse(text: str, *, origin: str) -> Template:
    try:
        return normalize(json.loads(text))
    except json.JSONDecodeError as error:
        raise BaselineError(f"{origin}: snapshot is not JSON ({error}); "
                            "run `make snapshot-update` to rewrite it") from error


def _read_worktree(stack: str) -> Template | None:
    path = snapshot_path(stack=stack)
    return _parse(path.read_text(encoding="utf-8"), origin=str(path)) if path.exists() else None


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True,
                          check=False)


def _read_git(ref: str, stack: str) -> tuple[bool, Template | None]:
    """(whether the ref holds the snapshot, its template)."""
    relative = snapshot_path(stack=stack).relative_to(ROOT).as_posix()
    shown = _git("show", f"{ref}:{relative}")
    if shown.returncode != 0:
        return False, None
    return True, _parse(shown.stdout, origin=f"{ref}:{relative}")


def _ref_exists(ref: str) -> bool:
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode == 0
    except FileNotFoundError:  # no git on the machine
        return False


def load_baseline(*, stacks: Iterable[str], ref: str | None = None) -> Baseline:
    """The normalized baseline template of each of `stacks` (None: no snapshot, a new stack).

    `ref` (default: `$REVIEW_BASELINE`, else `HEAD`) is a git revision or `worktree`.
    An explicit ref that git does not know is an error; the `HEAD` default falls back to the
    working tree when there is no commit (or no git) and per file when HEAD lacks it.
    """
    explicit = ref or os.environ.get(BASELINE_ENV)
    chosen = explicit or "HEAD"
    names = list(stacks)
    if chosen == WORKTREE:
        return Baseline(source="working-tree snapshots",
                        templates={name: _read_worktree(name) for name in names})
    if not _ref_exists(chosen):
        if explicit:
            raise BaselineError(f"{BASELINE_ENV}={chosen!r}: not a git revision of {ROOT}")
        return Baseline(source="working-tree snapshots (no git commit yet)",
                        templates={name: _read_worktree(name) for name in names})
    templates: dict[str, Template | None] = {}
    fallbacks: list[str] = []
    for name in names:
        found, template = _read_git(chosen, name)
        if not found and not explicit:
            template = _read_worktree(name)
            if template is not None:
                fallbacks.append(name)
        templates[name] = template
    source = f"snapshots committed at {chosen}"
    if fallbacks:
        source += f" (working tree for uncommitted {', '.join(fallbacks)})"
    return Baseline(source=source, templates=templates)
