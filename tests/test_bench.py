"""The benchmark's statistics and analysis, and its floor: the stacks without the gate, which
only the benchmark can synthesize and no one can deploy, while the app itself has no switch
that turns the gate off. (The benchmark reports times; no test here asserts one.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bench.stats import least_squares, paired_differences, paired_ratios, summarize
from bench.timed_app import GATE_PARTS, MissingCounterError, main, timed, validation_seconds

if TYPE_CHECKING:
    import aws_cdk as cdk


def test_summary_is_median_min_max_and_count() -> None:
    s = summarize([3.0, 1.0, 2.0, 10.0, 4.0])
    assert (s.median, s.min, s.max, s.runs) == (3.0, 1.0, 10.0, 5)
    assert summarize([1.0, 2.0]).median == 1.5


def test_paired_ratios_and_differences_go_round_by_round() -> None:
    assert paired_ratios([2.0, 9.0, 4.0], [1.0, 3.0, 4.0]).as_dict() == {
        "median": 2.0, "min": 1.0, "max": 3.0, "runs": 3}
    assert paired_differences([5.0, 7.0], [1.0, 1.0]).median == 5.0


def test_least_squares_finds_a_line_and_its_fit() -> None:
    slope, intercept, r2 = least_squares([1, 10, 50], [102.0, 120.0, 200.0])
    assert slope == pytest.approx(2.0)
    assert intercept == pytest.approx(100.0)
    assert r2 == pytest.approx(1.0)
    assert least_squares([1, 10, 50], [100.0, 300.0, 110.0])[2] < 0.5


@pytest.mark.parametrize("bad", [
    lambda: summarize([]),
    lambda: paired_ratios([1.0], [1.0, 2.0]),
    lambda: least_squares([1.0], [1.0]),
])
def test_fails_on_missing_or_unpaired_samples(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        bad()


def _cli_app(outdir: Path, **switches: str) -> cdk.App:
    """An App as `main()` builds it under the CDK CLI, with the CLI's context and `switches`."""
    import aws_cdk as cdk

    from app import BUILTIN_CFN_VALIDATION, cdk_context

    return cdk.App(outdir=str(outdir), context={**cdk_context(), **switches},
                   analytics_reporting=False,
                   builtin_cloud_formation_validation=BUILTIN_CFN_VALIDATION)


LOCAL_TEMPLATES = {f"RedundantDb-local-{stack}.template.json" for stack in (
    "Network", "Database", "DrNetwork", "DrFoundation", "DrReplica")}


def _templates(outdir: Path) -> dict[str, dict]:
    return {f.name: json.loads(f.read_text()) for f in sorted(outdir.glob("*.template.json"))}


def test_the_floor_synthesizes_without_the_gate_templates_no_one_can_deploy(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import floor_app
    from policy.gate import policy_of

    app = _cli_app(tmp_path, env="local")
    assert floor_app.main(app) == 0
    with pytest.raises(LookupError, match="not applied"):
        policy_of(app)
    assert not (tmp_path / "validation-report.json").exists()  # no plugin ran
    assert "WARNING: no policy gate" in capsys.readouterr().err
    templates = _templates(tmp_path)
    assert set(templates) == LOCAL_TEMPLATES
    for name, template in templates.items():
        (assertion,) = template["Rules"][floor_app.RULE_ID]["Assertions"]
        assert assertion["Assert"] == {"Fn::Equals": ["policy-gate", "off"]}, name
        assert "never deploy" in assertion["AssertDescription"], name


def test_fails_to_build_the_floor_of_an_unknown_environment(
        capsys: pytest.CaptureFixture[str]) -> None:
    import aws_cdk as cdk

    from bench import floor_app

    app = cdk.App(context={"env": "stage"}, analytics_reporting=False)
    assert floor_app.main(app) == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: config error in env 'stage': env='stage': unknown environment; known: local, "
        "dev, prod"]
    assert not app.node.children


def test_the_app_has_no_switch_that_turns_the_gate_off(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`-c gate=off -c bench=true` are keys the app does not read: the gate runs, its evidence
    is written and no template carries the floor's refusal rule."""
    import app as project
    from bench.floor_app import RULE_ID
    from policy.gate import policy_of

    reports = tmp_path / "compliance"
    outdir = tmp_path / "cdk.out"
    app = _cli_app(outdir, env="local", gate="off", bench="true")
    assert project.main(app, reports_dir=reports) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"compliance evidence: {reports / 'local.md'}, {reports / 'local.sarif'}"]
    templates = _templates(outdir)
    judged = {s.template_path.name for s in policy_of(app).synthesized}
    assert judged == set(templates) == LOCAL_TEMPLATES
    assert {e.view for e in policy_of(app).evaluations} == {"construct tree", "template"}
    assert sorted(p.name for p in reports.iterdir()) == ["local.md", "local.sarif"]
    assert not [name for name, t in templates.items() if RULE_ID in t.get("Rules", {})]


def test_the_report_has_every_budget_with_a_verdict() -> None:
    import bench.__main__ as bench

    cases = {c.name: c for c in bench.cases()}
    for name, case in cases.items():
        n = int(name.rsplit(".", 1)[1]) if name.startswith("scale.") else 1
        for i in range(5):
            data: dict[str, object] = {}
            if name.startswith("inproc."):
                data = {"import": 1.0, "first": 1.5 + i / 10, "warm": [0.2, 0.3]}
            if name.startswith("scale."):
                data = {"total": 0.1 + 0.08 * n + i / 100, "synth": 0.05 + 0.05 * n,
                        "stacks": n + 1}
            gate = ".gate" in name
            if name == "make.failover":
                data = {"write_unavailability_s": 0.05 + i / 100, "rows_lost": 0,
                        "rows_covered": 20 + i}
            if name == "cli.gate.all":  # bench.timed_app's clocks (the floor reports none)
                parts = {"import": 0.2, "apply": 0.05, "validate": 0.3 + i / 100,
                         "reports": 0.05}
                assert set(parts) == set(GATE_PARTS)
                data = {**parts, "total": sum(parts.values())}
            case.samples.append(bench.Sample(wall=(3.0 if gate else 2.5) + i / 10,
                                             rss_mib=200.0 + 2 * n + (40 if gate else 0),
                                             data=data, round=i + 1))
    # A round in which a case failed leaves the other rounds' pairs.
    cases["cli.floor.dev"].samples.pop(2)
    cases["cli.floor.dev"].failures.append("round 3: someone broke the tree")
    analysis = bench.analyse(cases, 5)
    assert analysis["derived"]["cli_dev_gate_over_floor_wall"]["runs"] == 4
    assert analysis["derived"]["cli_all_gate_over_floor_wall"]["runs"] == 5
    verdicts = {b["budget"]: b["pass"] for b in analysis["budgets"]}
    assert len(verdicts) == 12
    # Only the checkov budget fails on these samples (below); every other one has a verdict.
    assert [name for name, ok in verdicts.items() if ok is not True] == [
        b["budget"] for b in analysis["budgets"] if "checkov" in b["budget"]]
    assert verdicts["make test <= 90 s"] is True
    assert verdicts["make deploy <= 60 s"] is True
    drill = "failover drill: rows lost at lag zero = 0 in every run"
    assert verdicts[drill] is True
    assert [b["measured"] for b in analysis["budgets"] if b["budget"] == drill] == [
        "0 at most in 5 runs (20-24 rows covered a run); write unavailability 0.07s "
        "(0.05-0.09)"]
    # A cold gate at 1.3x its floor or more fails (these samples: 3.0 s over 2.5 s is 1.2x).
    assert "cdk synth -c env=all: gate wall <= 1.3x floor" in verdicts
    derived = analysis["derived"]
    assert derived["scale_marginal_synth_s_per_replicated_database"]["median"] == \
        pytest.approx(0.05)
    assert derived["scale_marginal_build_and_synth_s_per_replicated_database"]["median"] == \
        pytest.approx(0.08)
    # The verdict rests on the gate's own clocks (0.62 s), the wall difference is shown beside.
    assert derived["gate_own_total_s"]["median"] == pytest.approx(0.62)
    assert derived["gate_own_validate_s"]["median"] == pytest.approx(0.32)
    (checkov,) = [b for b in analysis["budgets"] if "checkov" in b["budget"]]
    assert checkov["pass"] is False
    assert checkov["measured"].startswith("checkov 2.70 s / gate 0.62 s = 4.35x")
    assert "wall minus wall: 0.50 s" in checkov["measured"]
    text = bench.markdown({"finished": "now", "runs": 5, "errors": {}, "machine": {
        "nproc": 2, "cpu": "x", "memory_gib": 1, "kernel": "k", "python": "3", "node": "v",
        "cdk_cli": "2", "aws_cdk_lib": "2", "load_average_at_start": [0.0]}, **analysis})
    for b in analysis["budgets"]:  # one row per budget, with its figure and verdict
        verdict = "pass" if b["pass"] else "**FAIL**"
        assert f"| {b['budget']} | {b['measured']} | {verdict} |" in text.splitlines()


def _failover_report(*, lost: tuple[int, ...]) -> str:
    """`make failover`'s output around the runbook's own lines (ops.datapath)."""
    from ops.datapath import Ack, FailoverMeasurement, LoadReport

    acks = (Ack(seq=1, endpoint="old:5432", at=10.0, position=100),
            Ack(seq=2, endpoint="new:5432", at=10.25, position=200))
    measurement = FailoverMeasurement(
        report=LoadReport(run="r", acks=acks, failures=3, errors=(), stopped="stopped"),
        old="old:5432", new="new:5432", position=150, covered=1, lost=lost, late=0,
        late_missing=0)
    return "\n".join(["Promoting ...", "Write load through the failover:",
                      *(f"  {line}" for line in measurement.lines()), "done"])


@pytest.mark.parametrize("lost", [(), (1,)])
def test_the_failover_drill_figures_are_read_from_the_runbooks_report(
        lost: tuple[int, ...]) -> None:
    from bench.__main__ import failover_figures

    assert failover_figures(_failover_report(lost=lost)) == {
        "write_unavailability_s": 0.25, "rows_lost": len(lost), "rows_covered": 1}


def test_a_failover_drill_without_its_figures_fails_naming_the_missing_line() -> None:
    from bench.__main__ import ChildFailed, failover_figures

    report = _failover_report(lost=())
    without = "\n".join(x for x in report.splitlines() if "rows lost" not in x)
    with pytest.raises(ChildFailed, match="printed no 'rows lost at lag zero' line"):
        failover_figures(without)
    with pytest.raises(ChildFailed, match="no 'write unavailability' and 'rows lost at lag "
                                          "zero' line"):
        failover_figures("Promoting ...\nfailed")


def test_a_run_that_lost_rows_fails_the_drills_budget() -> None:
    import bench.__main__ as bench

    case = next(c for c in bench.cases() if c.name == "make.failover")
    for i, lost in enumerate((0, 2, 0)):
        case.samples.append(bench.Sample(wall=5.0, rss_mib=100.0, round=i + 1, data={
            "write_unavailability_s": 0.1, "rows_lost": lost, "rows_covered": 30}))
    (budget,) = [b for b in bench.analyse({"make.failover": case}, 3)["budgets"]
                 if b["budget"].startswith("failover drill")]
    assert (budget["pass"], budget["measured"].split(" (")[0]) == (False, "2 at most in 3 runs")


def test_the_peers_read_the_templates_of_the_first_gated_synth(tmp_path: Path) -> None:
    import bench.__main__ as bench

    def assembly(name: str, *stacks: str) -> Path:
        directory = tmp_path / name
        directory.mkdir()
        for stack in stacks:
            (directory / f"{stack}.template.json").write_text("{}")
        (directory / "manifest.json").write_text("{}")
        return directory

    templates = bench.Templates()
    templates.dir = tmp_path / "kept"
    templates.keep(assembly("round1", "A", "B"))
    templates.keep(assembly("round2", "C"))  # later rounds leave the first set alone
    assert [f.name for f in templates.ensure()] == ["A.template.json", "B.template.json"]


def test_the_gate_clock_adds_up_every_call_and_keeps_the_result() -> None:
    seconds = {"apply": 0.0}
    apply = timed(seconds, "apply", lambda x: x * 2)
    assert apply(2) == 4 and apply(3) == 6
    assert seconds["apply"] > 0


def test_validation_time_is_read_from_cdk_counters_and_never_silently_zero(
        tmp_path: Path) -> None:
    counters = tmp_path / "counters.json"
    counters.write_text('{"counters": {"validateTemplates": 347, "phase:Load": 800}}')
    assert validation_seconds(counters) == pytest.approx(0.347)
    counters.write_text('{"counters": {"phase:Load": 800}}')  # a renamed counter
    with pytest.raises(MissingCounterError, match="no 'validateTemplates' counter"):
        validation_seconds(counters)
    with pytest.raises(MissingCounterError, match="slowSynthThreshold"):
        validation_seconds(tmp_path / "absent.json")


def test_the_timed_app_names_its_missing_output_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BENCH_GATE_TIMES", raising=False)
    with pytest.raises(SystemExit, match="BENCH_GATE_TIMES is not set: it names the JSON file"):
        main()
