"""`app.py` with the policy gate's own work timed: the benchmark's direct measure of its cost.

The benchmark runs it as the CDK CLI's app (`cdk synth --app 'python -m bench.timed_app'`) for
the gate half of the `-c env=all` pair (the floor half is bench.floor_app), so the figures come
from the very processes the pair times. `app.main()` runs unchanged; around it are only clocks:

- `import`: importing the gate (cdk-nag, whose jsii assembly Node loads, and `policy`);
- `apply`: `policy.gate.apply_gate` (the packs, our plugin, the acknowledgments);
- `validate`: every validation plugin's run inside `app.synth()`, as CDK itself times it
  (its `validateTemplates` performance counter, written to `CDK_PERF_COUNTERS_FILE` when the
  context `@aws-cdk/core.slowSynthThreshold` is 0, which the benchmark passes);
- `reports`: the compliance reports (Markdown and SARIF) `app.main` writes.

The seconds go to the JSON file named by `BENCH_GATE_TIMES`.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PERF_COUNTERS_ENV = "CDK_PERF_COUNTERS_FILE"  # aws-cdk-lib's cx-api PERF_COUNTERS_FILE_ENV
VALIDATION_COUNTER = "validateTemplates"
GATE_PARTS = ("import", "apply", "validate", "reports")  # the seconds written, and their "total"


def timed(seconds: dict[str, float], key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            seconds[key] += time.perf_counter() - start
    return wrapper


class MissingCounterError(RuntimeError):
    """CDK wrote no validation time: without it the gate's cost would be undercounted."""


def validation_seconds(counters: Path) -> float:
    """The validation plugins' time from CDK's performance counters file (milliseconds)."""
    try:
        return float(json.loads(counters.read_text())["counters"][VALIDATION_COUNTER]) / 1000
    except (OSError, ValueError, KeyError) as error:
        raise MissingCounterError(
            f"{counters}: no {VALIDATION_COUNTER!r} counter ({error!r}); aws-cdk-lib writes it "
            f"to ${PERF_COUNTERS_ENV} after a synth whose context sets "
            "@aws-cdk/core.slowSynthThreshold to 0") from error


def main() -> int:
    if not os.environ.get("BENCH_GATE_TIMES"):
        raise SystemExit("bench.timed_app: BENCH_GATE_TIMES is not set: it names the JSON file "
                         "the gate's seconds are written to (the benchmark sets it)")
    out = Path(os.environ["BENCH_GATE_TIMES"])
    counters = out.with_suffix(".counters.json")
    # Set before aws_cdk is imported: the jsii kernel's Node copies the environment then.
    os.environ[PERF_COUNTERS_ENV] = str(counters)
    import app  # noqa: PLC0415

    if "cdk_nag" in sys.modules:
        raise RuntimeError("app imports cdk_nag before any gate is applied: the floor "
                           "(bench.floor_app) would pay for it and the gate's import would go "
                           "untimed")
    seconds = dict.fromkeys(GATE_PARTS, 0.0)
    build_app = app.build_app

    def build_app_timing_the_gate(*args: Any, **kwargs: Any) -> Any:
        if "cdk_nag" not in sys.modules:  # the first environment's build imports the gate
            start = time.perf_counter()
            import policy.gate  # noqa: PLC0415 - the import is what is timed

            seconds["import"] = time.perf_counter() - start
            policy.gate.apply_gate = timed(seconds, "apply", policy.gate.apply_gate)
        return build_app(*args, **kwargs)

    app.build_app = build_app_timing_the_gate
    app.write_compliance_reports = timed(seconds, "reports", app.write_compliance_reports)
    code = app.main()
    if code == 0:
        seconds["validate"] = validation_seconds(counters)
    seconds["total"] = sum(seconds.values())
    out.write_text(json.dumps(seconds))
    return code


if __name__ == "__main__":
    sys.exit(main())
