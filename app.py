#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c env=NAME` (local, dev, prod; default dev).

Reads the environment name (and an optional `-c account=...`), loads the validated config,
assembles the stacks and puts the policy gate on them. A config mistake prints one line and
exits 1 before any construct exists; a policy violation fails the synthesis.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk

import config
from stacks import EnvironmentStacks, build_stacks

ROOT = Path(__file__).resolve().parent


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
    outdir: str | None = None,
) -> tuple[cdk.App, EnvironmentStacks]:
    """An App holding environment `env`'s stacks, with the policy gate unless `gate=False`.

    Raises `config.ConfigError` for a bad config, before any construct is built.
    """
    cfg = config.load(env, account=account)
    if app is None:
        app = cdk.App(outdir=outdir, context=cdk_context(), analytics_reporting=False)
    stacks = build_stacks(app, cfg)
    if gate:
        from policy.gate import apply_gate

        apply_gate(app, stacks)
    return app, stacks


def synthesize(env: str, outdir: str | Path, *, gate: bool = True) -> dict[str, dict[str, Any]]:
    """Synthesize environment `env` into `outdir`; return {stack name: template}.

    Raises `aws_cdk` validation errors (RuntimeError "ValidationFailed") when the gate refuses.
    """
    app, stacks = build_app(env, gate=gate, outdir=str(outdir))
    assembly = app.synth()
    return {stack.stack_name: assembly.get_stack_by_name(stack.stack_name).template
            for stack in stacks.all}


def write_compliance_reports(app: cdk.App, stacks: EnvironmentStacks,
                             out_dir: Path = ROOT / "build" / "compliance") -> tuple[Path, Path]:
    """Markdown + SARIF evidence of the gate's verdict on `app` (after `app.synth()`)."""
    from policy.gate import policy_of
    from policy.report import write_reports

    return write_reports(
        env=stacks.config.name,
        evaluations=policy_of(app).evaluations,
        cdk_out=Path(app.outdir),
        out_dir=out_dir,
        template_names={s.stack_name: s.template_file for s in stacks.all},
    )


def main() -> int:
    app = cdk.App()
    try:
        _, stacks = build_app(app.node.try_get_context("env"), app=app,
                              account=app.node.try_get_context("account"))
    except config.ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    app.synth()  # under the CDK CLI a violation is reported by the CLI, which exits 1
    md, sarif = write_compliance_reports(app, stacks)
    print(f"compliance evidence: {md.relative_to(ROOT)}, {sarif.relative_to(ROOT)}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
