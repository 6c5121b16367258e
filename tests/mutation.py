"""`make mutation`: mutation testing (mutmut) of the code whose mistakes lose or expose data.

Three areas, each mutated and tested on its own, by its own tests only, so that each score says
how well those tests pin that code:

- config: `config/` (what an environment may be), by tests/test_config.py and test_topology.py;
- gate: the Redundancy rules and their model (`policy/rules/*.py`, `policy/model.py`), by
  tests/test_policy_rules.py;
- guard: the data-loss guard (`review/guard.py`), by tests/test_data_loss_guard.py.

Each area runs in build/mutation/<area>/ (links to the repo's files and a pyproject.toml of
its own, where mutmut reads its settings), from scratch. mutmut forks one process per mutant
from the process that ran the tests once: a test that talks to jsii's Node process (a synth, a
`cdk.App`) cannot run in those children, which share the parent's pipe to it, so the selected
tests are those that need no synth (`DESELECT` lists the others, with why).

A surviving mutant that changes no behaviour (an equivalent mutant) is listed with why in
docs/mutation.md (`| \\`name\\` | why |`): it is left out of the score, and a listed mutant that no
longer survives is reported, so the list stays true. Scores: build/mutation/scores.md.

Environment: MUTATION_AREAS (comma-separated area names, default all), MUTATION_CHILDREN
(parallel mutants, default the number of cores), MUTATION_RESCORE=1 (score the last run again,
e.g. after listing an equivalent mutant, without running mutmut).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "mutation"
DOC = ROOT / "docs" / "mutation.md"
# Everything a test may import or read, linked into each area's directory; mutmut copies the
# packages (mutating only the area's files) and tests/ into its mutants/ directory.
PACKAGES = ("app.py", "bench", "cloud_assembly", "config", "constructs_lib", "local_aws", "ops",
            "policy", "review", "stacks")
ALSO_COPY = ("pytest.ini", "cdk.json", "cdk.context.json")
# mutmut's exit codes (mutmut.stats): a failing test run kills the mutant, a run past its time
# limit is counted as killed too (the mutant made the code hang).
KILLED = {1, 3, 36, -24, 24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}


@dataclass(frozen=True)
class Area:
    name: str
    mutate: tuple[str, ...]  # glob patterns of the files mutated
    tests: tuple[str, ...]
    deselect: tuple[str, ...] = ()


DESELECT_APP = (
    # They test app.py (through a subprocess, or a cdk.App in the test process), not config/.
    "tests/test_config.py::test_app_exits_1_with_one_line_on_a_bad_environment",
    "tests/test_config.py::test_app_refuses_a_bad_switch_before_building_anything",
    # A jsii call: it maps each retention onto CDK's, and exercises no config code.
    "tests/test_config.py::test_every_allowed_log_retention_maps_to_a_cdk_retention",
)
AREAS = (
    Area("config", ("config/*",), ("tests/test_config.py", "tests/test_topology.py"),
         DESELECT_APP),
    Area("gate", ("policy/rules/*.py", "policy/model.py"), ("tests/test_policy_rules.py",)),
    # The guard's tests that synthesize (the committed state, real re-syntheses, declared
    # promotions) run in `make test`; here the guard runs on the committed snapshots.
    Area("guard", ("review/guard.py",), ("tests/test_data_loss_guard.py",),
         ("tests/test_data_loss_guard.py::test_synthesized",)),
)


@dataclass
class Score:
    area: str
    files: dict[str, dict[str, int]]  # file -> {"killed", "survived", "no_tests", "equivalent"}
    survivors: list[str]
    stale_equivalents: list[str]
    seconds: float

    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for counts in self.files.values():
            for key, value in counts.items():
                total[key] = total.get(key, 0) + value
        return total


def equivalents() -> dict[str, str]:
    """{mutant name: why it changes no behaviour}, from docs/mutation.md."""
    if not DOC.exists():
        return {}
    rows = re.findall(r"^\| `([\w.]+__mutmut_\d+)` \| (.+?) \|$", DOC.read_text(), re.M)
    return dict(rows)


def _pyproject(area: Area) -> str:
    def toml_list(items: tuple[str, ...] | list[str]) -> str:
        return "[" + ", ".join(json.dumps(item) for item in items) + "]"

    selection = [*area.tests, *(arg for test in area.deselect for arg in ("--deselect", test))]
    return "\n".join((
        "[tool.mutmut]",
        f"source_paths = {toml_list(PACKAGES)}",
        f"only_mutate = {toml_list(area.mutate)}",
        f"also_copy = {toml_list(ALSO_COPY)}",
        f"pytest_add_cli_args_test_selection = {toml_list(selection)}",
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "no:xdist"]',
        "use_git_change_detection = false",
        "",
    ))


def _prepare(area: Area) -> Path:
    work = OUT / area.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in (*PACKAGES, *ALSO_COPY, "tests"):
        (work / name).symlink_to(ROOT / name)
    (work / "pyproject.toml").write_text(_pyproject(area))
    return work


def _mutmut(work: Path, children: int) -> None:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(2):  # mutmut resumes where it stopped: once more if a signal stopped it
        run = subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(children)],
            cwd=work, env=env, capture_output=True, text=True, check=False)
        with (work / "mutmut.log").open("a") as log:
            log.write(run.stdout + run.stderr)
        if run.returncode >= 0:
            break
    if run.returncode != 0:
        sys.exit(f"mutmut failed in {work} (exit {run.returncode}); see {work / 'mutmut.log'}:\n"
                 + "\n".join((run.stdout + run.stderr).splitlines()[-30:]))


def _score(area: Area, work: Path, seconds: float, known: dict[str, str]) -> Score:
    files: dict[str, dict[str, int]] = {}
    survivors: list[str] = []
    codes: dict[str, int | None] = {}
    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        path = str(meta.relative_to(work / "mutants")).removesuffix(".meta")
        counts = {"killed": 0, "survived": 0, "no_tests": 0, "equivalent": 0}
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            codes[name] = code
            if code in KILLED:
                counts["killed"] += 1
            elif name in known:
                counts["equivalent"] += 1
            else:
                counts["no_tests" if code in NO_TESTS else "survived"] += 1
                survivors.append(f"{name}: " + ("no test runs it" if code in NO_TESTS else
                                                "survived" if code in SURVIVED else
                                                f"not killed (mutmut exit {code})"))
        files[path] = counts
    prefixes = tuple(_module(pattern) for pattern in area.mutate)
    stale = sorted(name for name in known
                   if name.startswith(prefixes) and (name not in codes or codes[name] in KILLED))
    return Score(area.name, files, survivors, stale, seconds)


def _module(pattern: str) -> str:
    """The prefix of the mutant names of a pattern's files: 'policy/rules/*.py' ->
    'policy.rules.', 'review/guard.py' -> 'review.guard.'."""
    return pattern.removesuffix(".py").replace("*", "").replace("/", ".").rstrip(".") + "."


def _percent(killed: int, scored: int) -> str:
    return f"{100 * killed / scored:.1f}%" if scored else "n/a"


def render(scores: list[Score], children: int) -> str:
    lines = ["# Mutation scores", "",
             f"mutmut, {children} mutants in parallel. Score: killed / (mutants - equivalent).",
             "", "| area | file | mutants | killed | survived | no test | equivalent | score |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for score in scores:
        for path, c in [*score.files.items(), ("(all)", score.counts())]:
            mutants = sum(c.values())
            lines.append(f"| {score.area} | {path} | {mutants} | {c['killed']} | {c['survived']} "
                         f"| {c['no_tests']} | {c['equivalent']} | "
                         f"{_percent(c['killed'], mutants - c['equivalent'])} |")
    lines += ["", "| area | seconds |", "| --- | ---: |",
              *(f"| {s.area} | {s.seconds:.0f} |" for s in scores)]
    for score in scores:
        if score.survivors:
            lines += ["", f"## {score.area}: not killed", "",
                      *(f"- {line}" for line in score.survivors)]
        if score.stale_equivalents:
            lines += ["", f"## {score.area}: listed as equivalent in docs/mutation.md but killed "
                      "or gone (delete them there)", "",
                      *(f"- {name}" for name in score.stale_equivalents)]
    return "\n".join(lines) + "\n"


def main() -> int:
    wanted = [a for a in os.environ.get("MUTATION_AREAS", "").split(",") if a]
    unknown = set(wanted) - {a.name for a in AREAS}
    if unknown:
        sys.exit(f"MUTATION_AREAS={','.join(wanted)}: unknown {sorted(unknown)}; areas: "
                 + ", ".join(a.name for a in AREAS))
    children = int(os.environ.get("MUTATION_CHILDREN") or os.cpu_count() or 2)
    rescore = os.environ.get("MUTATION_RESCORE") == "1"
    known = equivalents()
    scores = []
    for area in AREAS:
        if wanted and area.name not in wanted:
            continue
        print(f"==> mutation testing {area.name}: {', '.join(area.mutate)}", flush=True)
        work = OUT / area.name
        start = time.monotonic()
        if rescore:
            seconds = float((work / "seconds").read_text())
        else:
            _prepare(area)
            _mutmut(work, children)
            seconds = time.monotonic() - start
            (work / "seconds").write_text(f"{seconds:.1f}\n")
        scores.append(_score(area, work, seconds, known))
        c = scores[-1].counts()
        print(f"    {_percent(c['killed'], sum(c.values()) - c['equivalent'])} of "
              f"{sum(c.values()) - c['equivalent']} mutants killed "
              f"({scores[-1].seconds:.0f} s)", flush=True)
    text = render(scores, children)
    (OUT / "scores.md").write_text(text)
    print(f"==> {OUT / 'scores.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
