"""The README stays true: it documents every config field, every rule and every make target it
names, and starts with the two commands. Every doc names only files that exist, and neither
docs nor code tell the history of the work (that is git's job)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from config.schema import AlarmThresholds, DatabaseConfig
from policy.rules import RULE_IDS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def test_starts_with_the_two_commands() -> None:
    first_block = README.split("```")[1]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()[1:]] == [
        "make deploy", "make test"]


def test_config_reference_lists_every_field_with_its_default() -> None:
    for f in dataclasses.fields(DatabaseConfig):
        if f.name == "alarms":
            continue
        assert re.search(rf"^\| `{f.name}` \|", README, re.M), f.name
    for f in dataclasses.fields(AlarmThresholds):
        row = re.search(rf"^\| `alarms\.{f.name}` \| `(\d+)` \|", README, re.M)
        assert row and int(row.group(1)) == f.default, f.name
    defaults = DatabaseConfig(name="x")
    for name in ("replica_count", "backup_retention_days", "port", "log_retention_days",
                 "monitoring_interval_seconds", "secret_rotation_days"):
        row = re.search(rf"^\| `{name}` \| `([^`]+)` \|", README, re.M)
        assert row and row.group(1) == str(getattr(defaults, name)), name


def test_every_rule_is_documented() -> None:
    for rule_id in RULE_IDS:
        assert f"| `{rule_id}` |" in README


def test_every_make_target_named_exists() -> None:
    named = set(re.findall(r"`make ([a-z-]+)`", README))
    defined = set(re.findall(r"^([a-z-]+):", MAKEFILE, re.M))
    assert named and named <= defined, named - defined


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A file of the repo named in backticks or as a link target (output paths such as
# build/compliance/<env>.md are not files of the repo and do not match).
REPO_FILE = re.compile(r"`((?:\.github|bench|cloud_assembly|config|constructs_lib|docs|local_aws|"
                       r"ops|policy|review|stacks|tests)/[\w./-]+\.(?:py|md|toml|yml|txt|json)"
                       r"|app\.py)`|\]\(([\w./-]+\.md)\)")


def test_every_repo_file_the_docs_name_exists() -> None:
    for doc in DOCS:
        named = {code or link for code, link in REPO_FILE.findall(doc.read_text())}
        # A path from the repo's root, or a link relative to the doc (docs/ links docs/x.md).
        missing = sorted(n for n in named if not (ROOT / n).exists()
                         and not (doc.parent / n).exists())
        assert named and not missing, f"{doc.name}: {missing}"


# History belongs in git: docs, code and committed results say how things are and why.
HISTORY = re.compile(r"\b(?:issue|session) #?\d+\b|\b(?:this|last|first|second|third) session\b",
                     re.IGNORECASE)
SKIPPED_DIRS = {".venv", "node_modules", "build", "cdk.out", "__pycache__", ".git"}


def _repo_text_files() -> list[Path]:
    files = [*DOCS, ROOT / "bench" / "results.md"]
    for path in sorted(ROOT.rglob("*.py")):
        if not SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
            files.append(path)
    return files


def test_docs_and_code_say_how_things_are_not_when_they_were_done() -> None:
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
             for path in _repo_text_files()
             for n, line in enumerate(path.read_text().splitlines(), 1) if HISTORY.search(line)]
    assert not found, "\n".join(found)


# The examples are written as templates, so that a grep of the repo for history finds none here.
@pytest.mark.parametrize("template, word, history", [
    ("the budgets of issue {}", "6", True), ("DR design (issue #{})", "7", True),
    ("in the three other runs of {} session", "this", True),
    ("the {} session's runs", "second", True),
    ("the pytest session's assembly", "", False), ("aws/aws-cdk#{}", "28998", False),
    ("a session fixture", "", False),
])
def test_history_is_told_apart_from_plain_words(template: str, word: str, history: bool) -> None:
    assert bool(HISTORY.search(template.format(word))) is history
