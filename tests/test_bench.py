"""The benchmark's statistics, and the `-c gate=off` switch it needs: benchmark-only, loud and
undeployable. (The benchmark reports times; no test here asserts one.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from app import GateSwitchError, build_app, gate_enabled, refuse_deploy
from bench.stats import least_squares, paired_differences, paired_ratios, summarize
from bench.timed_app import GATE_PARTS, MissingCounterError, main, timed, validation_seconds


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


@pytest.mark.parametrize("gate", [None, "on", True, "true"])
def test_gate_is_on_by_default_and_when_asked(gate: object) -> None:
    assert gate_enabled(gate, None) is True
    assert gate_enabled(gate, "true") is True


def test_gate_off_is_honoured_only_for_the_benchmark() -> None:
    assert gate_enabled("off", "true") is False


@pytest.mark.parametrize("gate, bench", [("off", None), ("off", "false"), (False, None),
                                         ("of", "true"), ("disabled", "true")])
def test_fails_to_turn_the_gate_off_outside_the_benchmark(gate: object, bench: object) -> None:
    with pytest.raises(GateSwitchError, match="gate"):
        gate_enabled(gate, bench)


def test_an_ungated_template_carries_a_rule_that_refuses_any_deploy(tmp_path: Path) -> None:
    app, stacks = build_app("local", gate=False, outdir=str(tmp_path))
    refuse_deploy(stacks)
    assembly = app.synth()
    for stack in stacks.all:
        rule = assembly.get_stack_by_name(stack.stack_name).template["Rules"]["PolicyGateOff"]
        (assertion,) = rule["Assertions"]
        assert assertion["Assert"] == {"Fn::Equals": ["policy-gate", "off"]}
        assert "never deploy" in assertion["AssertDescription"]


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
            if name.endswith(".all"):  # bench.timed_app's clocks; all 0 for the floor
                parts = {"import": 0.2, "apply": 0.05, "validate": 0.3 + i / 100,
                         "reports": 0.05} if gate else dict.fromkeys(GATE_PARTS, 0.0)
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
    assert len(verdicts) == 10 and None not in verdicts.values()
    assert verdicts["make test <= 90 s"] is True
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
    assert text.count("| pass |") + text.count("| **FAIL** |") == 10


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
