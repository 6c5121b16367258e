"""Where the committed snapshots live, and how the guard reads its baseline from them.

Layout (written by syrupy through `review.snapshot_extension`, one readable file per stack; stack
names carry the environment):

    tests/__snapshots__/test_snapshots/test_stack_template[RedundantDb-prod-Database].json
    tests/data_loss_allowlist.toml      (beside the snapshots, not inside: syrupy counts every
                                         file under __snapshots__ as its own, reports an unknown
                                         one as unused and deletes it on --snapshot-update)

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
ALLOWLIST_PATH = ROOT / "tests" / "data_loss_allowlist.toml"
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
    """(whether the ref holds the snapshot, its template). `git cat-file blob` rather than
    `git show`: with a path that is not in the ref, `git show` can print nothing and succeed."""
    relative = snapshot_path(stack=stack).relative_to(ROOT).as_posix()
    shown = _git("cat-file", "blob", f"{ref}:{relative}")
    if shown.returncode != 0:
        return False, None
    return True, _parse(shown.stdout, origin=f"{ref}:{relative}")


def _ref_exists(ref: str) -> bool:
    try:
        return _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").returncode == 0
    except FileNotFoundError:  # no git on the machine
        return False


def _stack_of(filename: str) -> str | None:
    """The stack name in a snapshot file name, or None for another file."""
    head, suffix = f"{SNAPSHOT_TEST}[", "].json"
    if filename.startswith(head) and filename.endswith(suffix):
        return filename[len(head):-len(suffix)]
    return None


def snapshotted_stacks(*, prefix: str, ref: str | None) -> set[str]:
    """Stacks named `prefix...` that have a snapshot at `ref` (None: in the working tree)."""
    if ref is None:
        names = os.listdir(SNAPSHOT_DIR) if SNAPSHOT_DIR.is_dir() else []
    else:
        listed = _git("ls-tree", "--name-only", f"{ref}:{SNAPSHOT_DIR.relative_to(ROOT).as_posix()}")
        names = listed.stdout.splitlines() if listed.returncode == 0 else []
    return {stack for stack in map(_stack_of, names) if stack and stack.startswith(prefix)}


def load_baseline(*, stacks: Iterable[str], ref: str | None = None,
                  stack_prefix: str | None = None) -> Baseline:
    """The normalized baseline template of each of `stacks` (None: no snapshot, a new stack).

    With `stack_prefix` (e.g. 'RedundantDb-prod-'), every snapshotted stack of that name is
    included too, so a stack that the app no longer builds is compared with nothing and the
    guard reports the loss of its stateful resources.

    `ref` (default: `$REVIEW_BASELINE`, else `HEAD`) is a git revision or `worktree`.
    An explicit ref that git does not know is an error; the `HEAD` default falls back to the
    working tree when there is no commit (or no git) and per file when HEAD lacks it.
    """
    explicit = ref or os.environ.get(BASELINE_ENV)
    chosen = explicit or "HEAD"
    names = set(stacks)
    if chosen == WORKTREE or not _ref_exists(chosen):
        if explicit and chosen != WORKTREE:
            raise BaselineError(f"{BASELINE_ENV}={chosen!r}: not a git revision of {ROOT}")
        if stack_prefix is not None:
            names |= snapshotted_stacks(prefix=stack_prefix, ref=None)
        source = ("working-tree snapshots" if chosen == WORKTREE
                  else "working-tree snapshots (no git commit yet)")
        return Baseline(source=source,
                        templates={name: _read_worktree(name) for name in sorted(names)})
    if stack_prefix is not None:
        names |= snapshotted_stacks(prefix=stack_prefix, ref=chosen)
    templates: dict[str, Template | None] = {}
    fallbacks: list[str] = []
    for name in sorted(names):
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
