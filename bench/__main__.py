"""`make bench`: time synthesis, the policy gate, its peers and the test suite side by side.

Every case runs once per round, all cases interleaved, for BENCH_RUNS rounds (default 5): on a
shared, noisy machine each round's cases saw the same load, and ratios are taken round by round.
Each figure is the median of the rounds with its min and max. Results: bench/results.json and
bench/results.md (Markdown tables: the machine, every figure and the budgets, pass or fail).

The failover drill (`make failover`: a write load through a planned failover of env local on
the real PostgreSQL servers `make deploy` just started) follows each round's `make deploy`: its
write unavailability (the old writer's last commit -> the new writer's first) and the rows lost
at lag zero (must be 0) are figures of their own. It records the promotion into a topology file
of its own, never config/topology.json, and runs only on an emulator the benchmark started.

Environment: BENCH_RUNS (rounds, >= 5 for the published figures), BENCH_SUITE_RUNS (rounds
that also run `make test`, `make deploy` and the failover drill, default BENCH_RUNS: together
~2 min a round, the bulk of the run), BENCH_CASES (comma-separated case-name prefixes, to run a subset while
working on one), BENCH_CHECKOV (checkov executable; default build/checkov-venv/bin/checkov,
installed by `make bench` outside the project's venv).
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import Summary, least_squares, paired_differences, paired_ratios, summarize
from bench.timed_app import GATE_PARTS

ROOT = Path(__file__).resolve().parents[1]
OUT_JSON = ROOT / "bench" / "results.json"
OUT_MD = ROOT / "bench" / "results.md"
PY = str(ROOT / ".venv" / "bin" / "python")
CDK = [str(ROOT / "node_modules" / ".bin" / "cdk"), "--no-notices"]
ENVS = ("local", "dev", "prod")
# The CLI is timed on one environment (the per-environment budget) and on all of them in one
# process (`cdk synth -c env=all`, as `make synth` runs).
CLI_TARGETS = ("dev", "all")
SCALE = (1, 10, 50)
CHECKOV = os.environ.get("BENCH_CHECKOV", str(ROOT / "build" / "checkov-venv" / "bin" / "checkov"))
MIB = 1024  # ru_maxrss is in KiB on Linux

# As the Makefile runs things: compiled modules are cached (PYTHONDONTWRITEBYTECODE unset).
CHILD_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
}


@dataclass
class Sample:
    wall: float  # seconds, spawn to exit
    rss_mib: float  # ru_maxrss of the child's process tree (its largest process)
    data: dict[str, Any] = field(default_factory=dict)  # what the child reported
    exit_code: int = 0
    round: int = 0


class ChildFailed(RuntimeError):
    pass


def run_child(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 600,
              ok_codes: tuple[int, ...] = (0,),
              parse: Callable[[str], dict[str, Any]] | None = None) -> Sample:
    """Run `cmd` in a fresh process; its wall time and peak memory from wait4. What the child
    reported: `parse(stdout)`, or by default the last line of its stdout that is JSON."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env or CHILD_ENV, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode not in ok_codes:
        raise ChildFailed(f"{' '.join(cmd)} exited {proc.returncode}\n{stderr[-3000:]}"
                          f"\n{stdout[-2000:]}")
    if parse is not None:
        return Sample(wall, usage.ru_maxrss / MIB, parse(stdout), proc.returncode)
    data: dict[str, Any] = {}
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
                break
            except json.JSONDecodeError:
                pass
    return Sample(wall, usage.ru_maxrss / MIB, data, proc.returncode)


# --- the cases -----------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    label: str
    run: Callable[[Path], Sample]
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # one line per failed round
    error: str | None = None  # set before the run: the case cannot run here at all


# The gate's cold cost: at most this many times its floor's wall time.
GATE_LIMIT = 1.3

# The floor: the same stacks without the gate (bench/floor_app.py; its templates refuse any
# deploy). The gate is the app itself (cdk.json's "app").
FLOOR_APP = f"{PY} -m bench.floor_app"
# The `-c env=all` pair also has CDK write its performance counters (this threshold at 0, to the
# file CDK_PERF_COUNTERS_FILE names): the gate runs under bench.timed_app, which times the
# gate's own work in the process and reads the validation plugins' time from those counters
# (its seconds become the sample's data); the floor pays for the same counters.
PERF_COUNTERS = ["-c", "@aws-cdk/core.slowSynthThreshold=0"]
TIMED_APP = f"{PY} -m bench.timed_app"


def cdk_synth(env: str, variant: str) -> Callable[[Path], Sample]:
    """`cdk synth -c env=ENV` of the app (`gate`) or of the floor (`floor`)."""
    def run(tmp: Path) -> Sample:
        out = ["-c", f"env={env}", "--output", str(tmp / "cdk.out")]
        floor = ["--app", FLOOR_APP] if variant == "floor" else []
        if env != "all":
            return run_child([*CDK, "synth", "--quiet", *floor, *out])
        if variant == "floor":
            return run_child([*CDK, "synth", "--quiet", *floor, *PERF_COUNTERS, *out],
                             env={**CHILD_ENV, "CDK_PERF_COUNTERS_FILE": str(tmp / "perf.json")})
        times = tmp / "gate-times.json"
        sample = run_child([*CDK, "synth", "--quiet", "--app", TIMED_APP, *PERF_COUNTERS, *out],
                           env={**CHILD_ENV, "BENCH_GATE_TIMES": str(times)})
        sample.data = json.loads(times.read_text())
        TEMPLATES.keep(tmp / "cdk.out")  # every template, through the gate: the peers' input
        return sample
    return run


PYTHON_APPS = {"gate": ["app.py"], "floor": ["-m", "bench.floor_app"],
               "validated": ["-m", "bench.validated_app"]}


def python_app(env: str, variant: str) -> Callable[[Path], Sample]:
    """`python app.py` (or the floor, or the validated app) as the CDK CLI runs it: context
    and outdir from the environment."""
    def run(tmp: Path) -> Sample:
        context = json.loads((ROOT / "cdk.json").read_text())["context"]
        context.update({"env": env, "aws:cdk:enable-path-metadata": True})
        return run_child([PY, *PYTHON_APPS[variant]],
                         env={**CHILD_ENV, "CDK_OUTDIR": str(tmp / "cdk.out"),
                              "CDK_CONTEXT_JSON": json.dumps(context)})
    return run


def workload(*args: str) -> Callable[[Path], Sample]:
    def run(tmp: Path) -> Sample:
        return run_child([PY, "-m", "bench.workloads", *args])
    return run


def make_target(target: str, ok_codes: tuple[int, ...] = (0,)) -> Callable[[Path], Sample]:
    def run(tmp: Path) -> Sample:
        return run_child(["make", "--no-print-directory", target], timeout=900,
                         ok_codes=ok_codes)
    return run


class LocalAws:
    """The local emulator `make deploy` starts. If the benchmark started it (none was running),
    every timed deploy starts from a stopped emulator and the benchmark stops it at the end; one
    that was already running (someone's) is reused and left running."""

    owned: bool | None = None

    @staticmethod
    def _cli(*args: str) -> int:
        return subprocess.run([PY, "-m", "local_aws", *args], cwd=ROOT, env=CHILD_ENV,
                              capture_output=True, timeout=120).returncode

    def before_deploy(self) -> None:
        if self.owned is None:
            self.owned = self._cli("status") != 0
        if self.owned:
            self._cli("stop")

    def cleanup(self) -> None:
        if self.owned:
            self._cli("stop")


LOCAL_AWS = LocalAws()


def make_deploy(tmp: Path) -> Sample:
    LOCAL_AWS.before_deploy()
    return run_child(["make", "--no-print-directory", "deploy"], timeout=900)


# The failover runbook's data-path report (ops/datapath.py), one line each.
UNAVAILABLE = re.compile(r"^ *write unavailability ([\d.]+)s: the old writer ", re.MULTILINE)
ROWS_LOST = re.compile(r"^ *rows lost at lag zero: (\d+) of the (\d+) ", re.MULTILINE)


def failover_figures(stdout: str) -> dict[str, Any]:
    """The write unavailability (s) and the rows lost at lag zero of `make failover`'s report.
    Raises ChildFailed when either is missing: a drill that measured nothing has no figure."""
    unavailable, lost = UNAVAILABLE.search(stdout), ROWS_LOST.search(stdout)
    if unavailable is None or lost is None:
        missing = " and ".join(what for what, found in (
            ("'write unavailability'", unavailable), ("'rows lost at lag zero'", lost))
            if found is None)
        raise ChildFailed(f"make failover printed no {missing} line:\n{stdout[-2000:]}")
    return {"write_unavailability_s": float(unavailable[1]), "rows_lost": int(lost[1]),
            "rows_covered": int(lost[2])}


def make_failover(tmp: Path) -> Sample:
    """`make failover` on the emulator this round's `make deploy` started, its promotion
    recorded into a topology file of its own (the next round's deploy starts a new emulator
    from the original topology)."""
    if not LOCAL_AWS.owned:
        raise ChildFailed("the local emulator was already running (someone's): the failover "
                          "drill runs only on an emulator the benchmark started")
    from config.topology import TOPOLOGY_FILE_VARIABLE

    outputs: list[str] = []

    def parse(stdout: str) -> dict[str, Any]:
        outputs.append(stdout)
        return failover_figures(stdout)

    # The runbook fails (make exits 2) when rows were lost: that run is a sample, and it fails
    # the budget; a failure that lost nothing is a failed run.
    sample = run_child(["make", "--no-print-directory", "failover"], timeout=300,
                       env={**CHILD_ENV, TOPOLOGY_FILE_VARIABLE: str(tmp / "topology.json")},
                       ok_codes=(0, 2), parse=parse)
    if sample.exit_code != 0 and not sample.data["rows_lost"]:
        raise ChildFailed(f"make failover exited {sample.exit_code}\n{outputs[0][-2000:]}")
    return sample


class Templates:
    """Every environment's templates, synthesized once through the gate, for the peers."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-templates-"))
        self.files: list[Path] = []

    def keep(self, assembly: Path) -> None:
        """Take the templates of a `cdk synth -c env=all` the benchmark ran anyway."""
        if not self.files:
            shutil.copytree(assembly, self.dir / "all", dirs_exist_ok=True)
            self.files = sorted(self.dir.glob("*/*.template.json"))

    def ensure(self) -> list[Path]:
        if not self.files:  # the peers run without the CLI cases (BENCH_CASES=peer.)
            run_child([*CDK, "synth", "--quiet", "-c", "env=all",
                       "--output", str(self.dir / "all")])
            self.files = sorted(self.dir.glob("*/*.template.json"))
        return self.files


TEMPLATES = Templates()


def cfn_lint(tmp: Path) -> Sample:
    # The regions and explained warnings of tests/test_cfn_lint_and_secrets.py; exit 4 = warnings.
    files = [str(f) for f in TEMPLATES.ensure()]
    return run_child([str(ROOT / ".venv" / "bin" / "cfn-lint"), "--regions", "us-east-1",
                      "eu-west-1", "--ignore-checks", "W3010", "W3005", "--", *files],
                     ok_codes=(0, 4, 8, 12))


def checkov(tmp: Path) -> Sample:
    target = tmp / "templates"
    target.mkdir()
    for f in TEMPLATES.ensure():
        shutil.copy(f, target / f.name)
    # Findings make checkov exit 1: the time is what is compared, not the verdict.
    return run_child([CHECKOV, "-d", str(target), "--framework", "cloudformation", "--quiet",
                      "--compact", "--skip-download", "-o", "json"],
                     env={**CHILD_ENV, "BC_SKIP_MAPPING": "TRUE"}, ok_codes=(0, 1))


def cases() -> list[Case]:
    out: list[Case] = []
    for env in CLI_TARGETS:
        for variant in ("gate", "floor"):
            out.append(Case(f"cli.{variant}.{env}", f"cdk synth -c env={env}, {variant}",
                            cdk_synth(env, variant)))
    # BENCH_VALIDATED=1 adds the app with CDK's built-in validation in every synth
    # (bench/validated_app.py): ~5 s a round, left out by default (`make bench` is long enough).
    variants = ("gate", "floor", "validated") if os.environ.get("BENCH_VALIDATED") else (
        "gate", "floor")
    for variant in variants:
        label = {"gate": "gate", "floor": "floor",
                 "validated": "gate + CDK built-in validation in every synth"}
        out.append(Case(f"app.{variant}.dev", f"python app.py (dev), {label[variant]}",
                        python_app("dev", variant)))
    for variant in ("gate", "floor"):
        out.append(Case(f"inproc.{variant}.dev", f"in-process synth (dev), {variant}",
                        workload("inproc", "--env", "dev", "--variant", variant, "--warm", "1")))
    for n in SCALE:
        out.append(Case(f"scale.gate.{n}", f"one App, {n} replicated database(s), gate",
                        workload("scale", "--n", str(n), "--variant", "gate")))
    out.append(Case("peer.cfn-lint", "cfn-lint, all templates (cold process)", cfn_lint))
    out.append(Case("peer.checkov", "checkov --framework cloudformation, all templates (cold)",
                    checkov))
    # A failing suite still has a wall time: kept, and its exit code shown beside it.
    out.append(Case("make.test", "make test (installed)", make_target("test", (0, 1, 2))))
    out.append(Case("make.deploy", "make deploy (local emulator, started by the deploy)",
                    make_deploy))
    out.append(Case("make.failover", "make failover (write load through a planned failover "
                                     "of env local, after the round's make deploy)",
                    make_failover))
    return out


def deploy_available() -> str | None:
    """None if the Makefile has a `deploy` target (a failing deploy is reported when it runs)."""
    probe = subprocess.run(["make", "-n", "deploy"], cwd=ROOT, capture_output=True, text=True)
    return None if probe.returncode == 0 else "no `deploy` target in the Makefile"


def checkov_available() -> str | None:
    if not Path(CHECKOV).exists():
        return (f"{CHECKOV} not found: `make checkov` installs it into build/checkov-venv "
                "from the registry; the install failed or was skipped")
    return None


# --- the run -------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    def cmd(*args: str) -> str:
        try:
            return subprocess.run(args, capture_output=True, text=True, env=CHILD_ENV,
                                  cwd=ROOT, timeout=60).stdout.strip()
        except OSError:
            return "?"
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                   .splitlines() if line.startswith("MemTotal"))
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": cmd(PY, "--version").replace("Python ", ""),
        "node": cmd("node", "--version"),
        "cdk_cli": cmd(*CDK, "--version").split(" ")[0],
        "aws_cdk_lib": cmd(PY, "-c", "import importlib.metadata as m; "
                                     "print(m.version('aws-cdk-lib'))"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def execute(selected: list[Case], runs: int, suite_runs: int) -> None:
    def due(case: Case, r: int) -> bool:
        return not case.error and (r <= suite_runs or not case.name.startswith("make."))

    total = sum(due(c, r) for r in range(1, runs + 1) for c in selected)
    done = 0
    began = time.perf_counter()
    for r in range(1, runs + 1):
        for case in selected:
            if not due(case, r):
                continue
            done += 1
            with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
                try:
                    sample = case.run(Path(tmp))
                except ChildFailed as error:
                    lines = str(error).strip().splitlines()
                    why = next((x for x in reversed(lines) if x.strip()), lines[0])
                    case.failures.append(f"round {r}: {why.strip()[:300]}")
                    print(f"[{done}/{total}] round {r} {case.name}: FAILED {why[:200]}",
                          flush=True)
                    continue
            sample.round = r
            case.samples.append(sample)
            print(f"[{done}/{total}] round {r} {case.name}: {sample.wall:.2f} s, "
                  f"{sample.rss_mib:.0f} MiB (elapsed {time.perf_counter() - began:.0f} s)",
                  flush=True)


def walls(case: Case) -> list[float]:
    return [s.wall for s in case.samples]


def rss(case: Case) -> list[float]:
    return [s.rss_mib for s in case.samples]


def field_of(case: Case, key: str) -> list[float]:
    return [s.data[key] for s in case.samples]


def analyse(by: dict[str, Case], runs: int) -> dict[str, Any]:
    """Figures, ratios and budgets from the samples. A ratio or a difference pairs the rounds in
    which every case it needs succeeded (a case can fail in one round while someone edits the
    tree; its other rounds still count, and the figure shows how many runs it has)."""
    ok = {name: c for name, c in by.items() if c.samples}
    figures: dict[str, Any] = {}
    for name, case in ok.items():
        figures[name] = {"label": case.label, "wall_s": summarize(walls(case)).as_dict(),
                         "peak_rss_mib": summarize(rss(case)).as_dict(1),
                         "failed_runs": len(case.failures)}
        if name.startswith("inproc."):
            figures[name]["import_s"] = summarize(field_of(case, "import")).as_dict()
            figures[name]["first_synth_s"] = summarize(field_of(case, "first")).as_dict()
            figures[name]["warm_synth_s"] = summarize(
                [min(s.data["warm"]) for s in case.samples]).as_dict()
        if name.startswith("make."):
            figures[name]["exit_codes"] = [s.exit_code for s in case.samples]
        if name == "make.failover":
            figures[name]["write_unavailability_s"] = summarize(
                field_of(case, "write_unavailability_s")).as_dict()
            figures[name]["rows_lost_at_lag_zero"] = [s.data["rows_lost"] for s in case.samples]
            figures[name]["rows_covered"] = [s.data["rows_covered"] for s in case.samples]
        if name.startswith("scale."):
            figures[name]["warm_synth_s"] = summarize(field_of(case, "total")).as_dict()
            figures[name]["stacks"] = case.samples[0].data["stacks"]
    derived: dict[str, Any] = {}
    budgets: list[dict[str, Any]] = []

    def rounds(*names: str) -> list[int]:
        """The rounds in which every case of `names` has a sample."""
        if not all(n in ok for n in names):
            return []
        return sorted(set.intersection(*({s.round for s in ok[n].samples} for n in names)))

    def at(name: str, r: int) -> Sample:
        return next(s for s in ok[name].samples if s.round == r)

    def column(name: str, rs: list[int], get: Callable[[Sample], float]) -> list[float]:
        return [get(at(name, r)) for r in rs]

    def wall(s: Sample) -> float:
        return s.wall

    def data_of(key: str) -> Callable[[Sample], float]:
        return lambda s: float(s.data[key])

    def mem(s: Sample) -> float:
        return s.rss_mib

    # (1) the CLI, all environments in one process: the ratio gate / floor.
    cli_rounds = rounds("cli.gate.all", "cli.floor.all")
    gate_sum = column("cli.gate.all", cli_rounds, wall) if cli_rounds else []
    floor_sum = column("cli.floor.all", cli_rounds, wall) if cli_rounds else []
    if cli_rounds:
        derived["cli_all_envs_gate_s"] = summarize(gate_sum).as_dict()
        derived["cli_all_envs_floor_s"] = summarize(floor_sum).as_dict()
        derived["cli_all_envs_gate_over_floor"] = paired_ratios(gate_sum, floor_sum).as_dict(3)
        derived["gate_added_cost_all_templates_s"] = paired_differences(
            gate_sum, floor_sum).as_dict()
        # The same gate processes' own clocks (bench.timed_app): the gate's work, timed where
        # it runs, without the noise of subtracting two cold processes.
        for part in (*GATE_PARTS, "total"):
            derived[f"gate_own_{part}_s"] = summarize(
                column("cli.gate.all", cli_rounds, data_of(part))).as_dict()
    for env in CLI_TARGETS:
        g, f = f"cli.gate.{env}", f"cli.floor.{env}"
        rs = rounds(g, f)
        if not rs:
            continue
        wall_ratio = paired_ratios(column(g, rs, wall), column(f, rs, wall))
        rss_ratio = paired_ratios(column(g, rs, mem), column(f, rs, mem))
        derived[f"cli_{env}_gate_over_floor_wall"] = wall_ratio.as_dict(3)
        derived[f"cli_{env}_gate_over_floor_rss"] = rss_ratio.as_dict(3)
        budgets.append(_budget(f"cdk synth -c env={env}: gate wall <= {GATE_LIMIT}x floor",
                               wall_ratio, GATE_LIMIT, "x"))
        budgets.append(_budget(f"cdk synth -c env={env}: gate peak memory <= 1.5x floor",
                               rss_ratio, 1.5, "x"))
    # python app.py, one environment.
    for variant in ("gate", "validated"):
        a, f = f"app.{variant}.dev", "app.floor.dev"
        rs = rounds(a, f)
        if not rs:
            continue
        wall_ratio = paired_ratios(column(a, rs, wall), column(f, rs, wall))
        rss_ratio = paired_ratios(column(a, rs, mem), column(f, rs, mem))
        derived[f"app_dev_{variant}_over_floor_wall"] = wall_ratio.as_dict(3)
        derived[f"app_dev_{variant}_over_floor_rss"] = rss_ratio.as_dict(3)
        if variant == "gate":
            budgets.append(_budget(f"python app.py (dev): gate wall <= {GATE_LIMIT}x floor",
                                   wall_ratio, GATE_LIMIT, "x"))
            budgets.append(_budget("python app.py (dev): gate peak memory <= 1.5x floor",
                                   rss_ratio, 1.5, "x"))
    # (2, 3) in-process: the gate's ratio, first and warm.
    rs = rounds("inproc.gate.dev", "inproc.floor.dev")
    if rs:
        def first(s: Sample) -> float:
            return float(s.data["first"])

        def warm(s: Sample) -> float:
            return float(min(s.data["warm"]))

        derived["inproc_dev_first_gate_over_floor"] = paired_ratios(
            column("inproc.gate.dev", rs, first), column("inproc.floor.dev", rs, first)).as_dict(3)
        derived["inproc_dev_warm_gate_over_floor"] = paired_ratios(
            column("inproc.gate.dev", rs, warm), column("inproc.floor.dev", rs, warm)).as_dict(3)
    # (4) scale: the marginal cost of one more replicated database, round by round.
    scale_names = [f"scale.gate.{n}" for n in SCALE]
    rs = rounds(*scale_names)
    if rs:
        xs = [float(n) for n in SCALE]
        slopes, build_slopes, mem_slopes, r2s, growth = [], [], [], [], []
        for r in rs:
            samples = [at(n, r) for n in scale_names]
            slopes.append(least_squares(xs, [s.data["synth"] for s in samples])[0])
            build_slopes.append(least_squares(xs, [s.data["total"] for s in samples])[0])
            mslope, _, r2 = least_squares(xs, [s.rss_mib for s in samples])
            mem_slopes.append(mslope)
            r2s.append(r2)
            # At most linear: the memory one more database costs between 10 and 50 databases
            # is no more than between 1 and 10 (x1.25 for noise); a leak or a quadratic cost
            # would break it.
            m1, m10, m50 = (s.rss_mib for s in samples)
            growth.append(((m50 - m10) / 40) / max((m10 - m1) / 9, 0.1))
        per_db = summarize(slopes)
        derived["scale_marginal_synth_s_per_replicated_database"] = per_db.as_dict()
        derived["scale_marginal_build_and_synth_s_per_replicated_database"] = summarize(
            build_slopes).as_dict()
        derived["scale_marginal_mib_per_replicated_database"] = summarize(mem_slopes).as_dict(2)
        derived["scale_peak_rss_linear_fit_r2"] = summarize(r2s).as_dict(4)
        budgets.append(_budget("warm synthesis (app.synth) of one more replicated-database "
                               "stack in a shared network, gate included, <= 0.1 s (building "
                               "its constructs is reported beside it)", per_db, 0.1, "s"))
        grow = summarize(growth)
        derived["scale_peak_rss_growth_10_50_over_1_10"] = grow.as_dict(3)
        budgets.append({"budget": "peak memory grows at most linearly with the stacks (MiB per "
                                  "database from 10 to 50 <= 1.25x that from 1 to 10)",
                        "measured": f"{grow.median:.2f}x ({grow.min:.2f}-{grow.max:.2f}); "
                                    f"R^2 of a line {summarize(r2s).median:.3f}",
                        "median": round(grow.median, 4), "limit": 1.25, "pass": grow.median <= 1.25})
    # (5) peers: checkov runs once, in a cold process, over every template; the gate's added
    # cost is its own work in one cold `cdk synth -c env=all` (as `make synth` runs), timed in
    # that process; the wall-clock difference from its floor is shown beside it.
    if "peer.checkov" in ok and cli_rounds:
        chk = summarize(walls(ok["peer.checkov"])).median
        own = derived["gate_own_total_s"]["median"]
        added = paired_differences(gate_sum, floor_sum)
        ratio = chk / max(own, 1e-3)
        derived["checkov_over_gate_added_cost"] = {"median": round(ratio, 3), "min": None,
                                                   "max": None, "runs": len(gate_sum)}
        budgets.append({"budget": "gate's added cost over all templates (its own work in one "
                                  "cold `cdk synth -c env=all`) >= 5x below checkov's time on "
                                  "them",
                        "measured": f"checkov {chk:.2f} s / gate {own:.2f} s = {ratio:.2f}x "
                                    "(ratio of the medians; the gate over its floor, wall minus "
                                    f"wall: {added.median:.2f} s, {added.min:.2f}-"
                                    f"{added.max:.2f})",
                        "median": round(ratio, 4), "limit": 5, "pass": ratio >= 5})
    else:
        checkov = by.get("peer.checkov")
        why = (checkov.failures[0] if checkov and checkov.failures else None) or (
            "the cdk synth -c env=all pair was not measured" if "peer.checkov" in ok
            else "checkov was not measured")
        budgets.append({"budget": "gate's added cost over all templates >= 5x below checkov's",
                        "measured": f"not measured: {why.splitlines()[0][:160]}", "pass": None})
    files = len(TEMPLATES.files) or 1
    for peer in ("peer.cfn-lint", "peer.checkov"):
        if peer in ok:
            derived[f"{peer.split('.')[1]}_s_per_template"] = summarize(
                [w / files for w in walls(ok[peer])]).as_dict()
    if "gate_own_total_s" in derived:
        derived["gate_s_per_template"] = {
            k: (round(v / files, 4) if k != "runs" else v)
            for k, v in derived["gate_own_total_s"].items()}
    # (6) the test suite, the local deploy and its failover drill.
    if "make.test" in ok:
        budgets.append(_budget("make test <= 90 s", summarize(walls(ok["make.test"])), 90, "s"))
    if "make.deploy" in ok:
        budgets.append(_budget("make deploy <= 60 s", summarize(walls(ok["make.deploy"])), 60,
                               "s"))
    if "make.failover" in ok:
        drills = ok["make.failover"].samples
        lost = [s.data["rows_lost"] for s in drills]
        unavailable = summarize(field_of(ok["make.failover"], "write_unavailability_s"))
        budgets.append({"budget": "failover drill: rows lost at lag zero = 0 in every run",
                        "measured": f"{max(lost)} at most in {len(drills)} runs "
                                    f"({min(s.data['rows_covered'] for s in drills)}-"
                                    f"{max(s.data['rows_covered'] for s in drills)} rows "
                                    "covered a run); write unavailability "
                                    f"{unavailable.median:.2f}s ({unavailable.min:.2f}-"
                                    f"{unavailable.max:.2f})",
                        "median": max(lost), "limit": 0, "pass": max(lost) == 0})
    for b in budgets:  # say when a verdict rests on fewer rounds than asked for
        b.setdefault("pass", None)
    return {"figures": figures, "derived": derived, "budgets": budgets}


def _budget(text: str, summary: Summary, limit: float, unit: str) -> dict[str, Any]:
    return {"budget": text, "measured": f"{summary.median:.3g}{unit} "
                                        f"({summary.min:.3g}-{summary.max:.3g})",
            "median": round(summary.median, 4), "limit": limit, "pass": summary.median <= limit}


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {results['finished']} by `make bench`: {results['runs']} rounds, every case "
        f"once per round, interleaved (`make test`, `make deploy` and the failover drill in "
        f"{results.get('suite_runs', results['runs'])} of them); each figure is the median of "
        "its runs (min-max). "
        "Peak memory is `ru_maxrss` of the child process tree (its largest process: Node's "
        "jsii kernel or the CDK CLI).",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB RAM, Linux "
        f"{m['kernel']}; Python {m['python']}, Node {m['node']}, CDK CLI {m['cdk_cli']}, "
        f"aws-cdk-lib {m['aws_cdk_lib']}. Load average at start: "
        f"{', '.join(str(x) for x in m['load_average_at_start'])} (a shared machine).",
        "",
        "| case | wall time, s | peak memory, MiB |",
        "| --- | --- | --- |",
    ]
    for name, f in results["figures"].items():
        w, r = f["wall_s"], f["peak_rss_mib"]
        failed = [c for c in f.get("exit_codes", []) if c]
        label = f["label"] + (f" (exit {failed[0]} in {len(failed)} of {w['runs']} runs: tests "
                              "failing in the tree at the time)" if failed else "")
        if f.get("failed_runs"):
            label += (f" ({w['runs']} runs: it failed in {f['failed_runs']} more, see "
                      "`failures` in results.json)")
        lines.append(f"| {label} | {w['median']:.2f} ({w['min']:.2f}-{w['max']:.2f}) | "
                     f"{r['median']:.0f} ({r['min']:.0f}-{r['max']:.0f}) |")
        if name.startswith("inproc."):
            for key, text in (("import_s", "import aws_cdk + app"),
                              ("first_synth_s", "first synth"), ("warm_synth_s", "warm synth")):
                v = f[key]
                lines.append(f"| &nbsp;&nbsp;{text} | {v['median']:.3f} "
                             f"({v['min']:.3f}-{v['max']:.3f}) | |")
        if name == "make.failover":
            v = f["write_unavailability_s"]
            lines.append(f"| &nbsp;&nbsp;write unavailability, s | {v['median']:.2f} "
                         f"({v['min']:.2f}-{v['max']:.2f}) | |")
            lines.append(f"| &nbsp;&nbsp;rows lost at lag zero, each run | "
                         f"{', '.join(map(str, f['rows_lost_at_lag_zero']))} | |")
        if name.startswith("scale."):
            v = f["warm_synth_s"]
            lines.append(f"| &nbsp;&nbsp;warm synth of the {f['stacks']} stacks | "
                         f"{v['median']:.3f} ({v['min']:.3f}-{v['max']:.3f}) | |")
    for name, error in results["errors"].items():
        lines.append(f"| {name} | not available: {error.splitlines()[0][:200]} | |")
    lines += ["", "| derived (round by round) | median (min-max) |", "| --- | --- |"]
    for key, v in results["derived"].items():
        spread = f" ({v['min']}-{v['max']})" if v["min"] is not None else ""
        lines.append(f"| {key} | {v['median']}{spread} |")
    lines += ["", "| budget | measured | verdict |", "| --- | --- | --- |"]
    for b in results["budgets"]:
        verdict = {True: "pass", False: "**FAIL**", None: "not measured"}[b["pass"]]
        lines.append(f"| {b['budget']} | {b['measured']} | {verdict} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    # Settings come from the environment (the docstring); --help says so, and any argument is
    # refused rather than ignored: a run takes minutes.
    import argparse

    argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter
                            ).parse_args(argv)
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    suite_runs = int(os.environ.get("BENCH_SUITE_RUNS", str(runs)))
    prefixes = [p for p in os.environ.get("BENCH_CASES", "").split(",") if p]
    all_cases = cases()
    selected = [c for c in all_cases if not prefixes or any(c.name.startswith(p)
                                                             for p in prefixes)]
    print(f"==> bench: {len(selected)} cases x {runs} rounds (make test/deploy/failover in "
          f"{min(suite_runs, runs)})", flush=True)
    info = machine()
    errors: dict[str, str] = {}
    by = {c.name: c for c in selected}
    for name in ("make.deploy", "make.failover"):
        if name in by and (reason := deploy_available()):
            by[name].error = errors[name] = reason
    if "peer.checkov" in by and (reason := checkov_available()):
        by["peer.checkov"].error = errors["peer.checkov"] = reason
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    began = time.perf_counter()
    try:
        execute(selected, runs, suite_runs)
    finally:
        LOCAL_AWS.cleanup()
    if LOCAL_AWS.owned is False and "make.deploy" in by:
        by["make.deploy"].label = "make deploy (local emulator already running: reused)"
    for c in selected:
        if not c.samples and c.failures and not c.error:
            errors[c.name] = c.failures[0]
    results = {
        "started": started,
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "duration_s": round(time.perf_counter() - began, 1),
        "runs": runs,
        "suite_runs": min(suite_runs, runs),
        "machine": info,
        "templates": [f.name for f in TEMPLATES.files],
        "errors": errors,
        "failures": {c.name: c.failures for c in selected if c.failures},
        **analyse(by, runs),
    }
    OUT_JSON.write_text(json.dumps(results, indent=2) + "\n")
    OUT_MD.write_text(markdown(results))
    shutil.rmtree(TEMPLATES.dir, ignore_errors=True)
    print(markdown(results))
    print(f"==> wrote {OUT_JSON.relative_to(ROOT)} and {OUT_MD.relative_to(ROOT)} "
          f"in {results['duration_s']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
