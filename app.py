#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c env=NAME` (local, dev, prod; default dev; `all` synthesizes
every environment in one process, as `make synth` does).

Reads the environment name (and the optional `-c account=...` and `-c controlTower=true`),
loads the validated config, assembles the stacks and puts the policy gate on them; nothing
turns the gate off. A config mistake prints one line and exits 1 before any construct exists
(run as a script, before aws_cdk is even imported); a policy violation fails the synthesis.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import config

# jsii runs aws-cdk-lib in a Node process that it starts on the first `import aws_cdk`, with this
# process's environment. Under a synth's bursts of allocation (cdk-nag loading all its rules,
# fifty database stacks) V8 grows that process's young generation to 32 MiB semi-spaces; at 16
# MiB, peak memory is 7% lower for one environment and 20% lower for fifty stacks, and no
# slower (docs/performance.md). A --max-semi-space-size in the user's NODE_OPTIONS wins.
JSII_NODE_OPTIONS = "--max-semi-space-size=16"


@contextmanager
def jsii_node_options(flags: str) -> Iterator[None]:
    """Add `flags` to NODE_OPTIONS while jsii starts its Node process, then restore it, so that
    no other child process inherits them. No effect once aws_cdk is imported."""
    before = os.environ.get("NODE_OPTIONS")
    if "--max-semi-space-size" not in (before or ""):
        os.environ["NODE_OPTIONS"] = f"{before} {flags}" if before else flags
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("NODE_OPTIONS", None)
        else:
            os.environ["NODE_OPTIONS"] = before


class GateSwitchError(ValueError):
    """`-c controlTower=...` has a value other than true or false."""


#: A context lookup: the value of a `-c key=value` switch, None when it is not given.
Context = Callable[[str], Any]


def control_tower_enabled(value: object) -> bool:
    """The `-c controlTower=true|false` switch (default false); anything else is refused."""
    if value in (None, False, "false"):
        return False
    if value in (True, "true"):
        return True
    raise GateSwitchError(f"controlTower={value!r}: 'true' or 'false' (default)")


ALL = "all"  # `-c env=all`: every environment in one process (make synth, CI)


def requested_environments(context: Context) -> list[str | None]:
    """The environments `-c env=` names: one (None = the default), or every one for `all`."""
    env = context("env")
    if env != ALL:
        return [env]
    if context("account") is not None:
        raise config.ConfigError(ALL, "account", context("account"),
                                 "-c account= names one environment's account; use it with "
                                 "-c env=NAME, not env=all")
    return list(config.ENVIRONMENTS)


def check_switches(context: Context) -> None:
    """Raise for a bad switch or config (`GateSwitchError`, `config.ConfigError`) as `main`
    would, before any construct exists."""
    control_tower_enabled(context("controlTower"))
    for env in requested_environments(context):
        config.load(env, account=context("account"))


def cli_context() -> dict[str, Any]:
    """The context the CDK CLI hands the app, as aws-cdk-lib's App reads it: CDK_CONTEXT_JSON,
    and the file CONTEXT_OVERFLOW_LOCATION_ENV names when the context is too large for it."""
    context = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    overflow = os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")
    if overflow:
        context.update(json.loads(Path(overflow).read_text()))
    return dict(context)


if __name__ == "__main__":
    # A bad switch or config exits before aws_cdk and jsii's Node process start (seconds).
    try:
        check_switches(cli_context().get)
    except (config.ConfigError, GateSwitchError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


with jsii_node_options(JSII_NODE_OPTIONS):
    import aws_cdk as cdk

from cloud_assembly import CloudAssembly  # noqa: E402
from stacks import EnvironmentStacks, build_stacks  # noqa: E402

ROOT = Path(__file__).resolve().parent

# CDK's built-in CloudFormation validation loads a ~350 MiB engine in every synth process (1.7x
# the wall time of a cold `python app.py`, see docs/performance.md). It is kept out of the
# per-synth gate: cfn-lint checks every template once per test run instead
# (tests/test_cfn_lint_and_secrets.py), in `make test` and CI.
BUILTIN_CFN_VALIDATION = False


def cdk_context() -> dict[str, Any]:
    """The feature flags of cdk.json, for apps built outside the CLI (tests, benchmarks), with
    construct paths in template metadata as the CLI writes them."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**context, "aws:cdk:enable-path-metadata": True}


def build_app(
    env: str | None = None,
    *,
    app: cdk.App | None = None,
    account: str | None = None,
    gate: bool = True,
    control_tower: bool = False,
    outdir: str | None = None,
) -> tuple[cdk.App, EnvironmentStacks]:
    """An App holding environment `env`'s stacks, with the policy gate unless `gate=False`
    (and the AWS Control Tower proactive controls when `control_tower=True`).

    `gate=False` is for code that reads templates without judging them (the review's ungated
    synth, the snapshots, the benchmark's floor); `main()`, which the CDK CLI runs, always
    applies the gate.

    Raises `config.ConfigError` for a bad config, before any construct is built.
    """
    cfg = config.load(env, account=account)
    if app is None:
        app = cdk.App(outdir=outdir, context=cdk_context(), analytics_reporting=False,
                      builtin_cloud_formation_validation=BUILTIN_CFN_VALIDATION)
    stacks = build_stacks(app, cfg)
    if gate:
        from policy.gate import apply_gate

        apply_gate(app, stacks, control_tower=control_tower)
    return app, stacks


def synthesize(env: str, outdir: str | Path, *, gate: bool = True) -> CloudAssembly:
    """Synthesize environment `env` into `outdir`; return that cloud assembly (its stacks,
    their templates and regions).

    Raises `aws_cdk` validation errors (RuntimeError "ValidationFailed") when the gate refuses.
    """
    build_app(env, gate=gate, outdir=str(outdir))[0].synth()
    return CloudAssembly.load(outdir)


COMPLIANCE_DIR = ROOT / "build" / "compliance"


def write_compliance_reports(app: cdk.App, stacks: EnvironmentStacks,
                             out_dir: Path = COMPLIANCE_DIR) -> tuple[Path, Path]:
    """Markdown + SARIF evidence of the gate's verdict on `app` (after `app.synth()`)."""
    from policy.gate import policy_of
    from policy.report import write_reports

    plugin = policy_of(app)
    return write_reports(
        env=stacks.config.name,
        evaluations=plugin.evaluations,
        cdk_out=Path(app.outdir),
        out_dir=out_dir,
        template_names={s.name: s.template_path.name for s in plugin.synthesized
                        if s.settings.environment == stacks.config.name},
    )


def environments(app: cdk.App) -> list[str | None]:
    """The environments the `-c env=` of `app`'s context names (`requested_environments`)."""
    return requested_environments(app.node.try_get_context)


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def main(app: cdk.App | None = None, *, reports_dir: Path = COMPLIANCE_DIR) -> int:
    """Synthesize what the context asks for (`app`: the App to use, one reading the context
    the CDK CLI passes by default) and write each environment's compliance evidence into
    `reports_dir`; 1 after one line on stderr for a bad switch or config.

    The switches are `-c env`, `-c account` and `-c controlTower`; the policy gate has no
    switch: every synth runs it.
    """
    if app is None:
        app = cdk.App(builtin_cloud_formation_validation=BUILTIN_CFN_VALIDATION)
    try:
        control_tower = control_tower_enabled(app.node.try_get_context("controlTower"))
        built = [build_app(env, app=app, account=app.node.try_get_context("account"),
                           control_tower=control_tower)[1]
                 for env in environments(app)]
    except (config.ConfigError, GateSwitchError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    app.synth()  # under the CDK CLI a violation is reported by the CLI, which exits 1
    for stacks in built:
        md, sarif = write_compliance_reports(app, stacks, reports_dir)
        print(f"compliance evidence: {_shown(md)}, {_shown(sarif)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
