"""`python -m review`: synthesize each environment, compare it with the committed snapshots and
write the review (build/review/<env>.md, plus the same text without the diagram on stdout).

Exit status: 0 when the data-loss guard passes everywhere, 1 when it fires (or an allow-list entry
is stale), 2 when the review cannot run (bad config, unreadable baseline or allow-list) or the
policy gate refused a synthesis.

An environment whose config/topology.json declares a promotion is compared with its previous
generation (the same code, synthesized with the topology before that promotion): what the
deploy that reconciles the stacks will change, with the promotion told apart from a replacement.
Its original topology is what the committed snapshots hold (the tests compare code changes
there).

When the policy gate refuses, the environment is synthesized again without it and still reviewed:
the gate only adds checks (the templates are the same), and a change that breaks the gate, such as
a renamed construct that an acknowledgment names by path, is exactly the change whose data-loss
verdict the reviewer needs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import config
from cloud_assembly import CloudAssembly
from config.naming import stack_name
from config.topology import (
    DETACHED,
    REBUILT,
    TOPOLOGY_FILE_VARIABLE,
    Topology,
    topology_file,
    write,
)
from review.allowlist import AllowListError, load
from review.normalize import normalize
from review.report import render
from review.snapshots import (
    ALLOWLIST_PATH,
    BASELINE_ENV,
    ROOT,
    Baseline,
    BaselineError,
    load_baseline,
)

EXIT_OK, EXIT_DATA_LOSS, EXIT_ERROR = 0, 1, 2


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m review", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", action="append", choices=list(config.ENVIRONMENTS),
                        help="environment to review (repeatable; default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "review",
                        help="directory for <env>.md (default: build/review)")
    parser.add_argument("--baseline", default=None,
                        help=f"git revision of the snapshots to compare with, or 'worktree' "
                             f"(default: ${BASELINE_ENV}, else HEAD)")
    parser.add_argument("--quiet", action="store_true", help="print only the verdicts")
    return parser.parse_args(argv)


def _synthesize(env: str, scratch: Path) -> tuple[CloudAssembly, str | None]:
    """(the cloud assembly, the gate's refusal or None): gated if the gate allows, else
    ungated."""
    from app import synthesize  # imports aws_cdk (~0.6 s): after argument errors are reported

    try:
        return synthesize(env, scratch / env), None
    except Exception as error:  # noqa: BLE001 - any refusal of the gate, see the module doc
        first_line = (str(error).strip().splitlines() or [""])[0]
        refusal = f"{type(error).__name__}: {first_line}"
        print(f"warning: env {env}: the policy gate refused the synthesis ({refusal}); "
              "reviewing it without the gate", file=sys.stderr)
        return synthesize(env, scratch / f"{env}-ungated", gate=False), refusal


def _previous_topology(cfg: config.DatabaseConfig) -> tuple[Topology, str]:
    """`cfg`'s topology before its newest declared change (a promotion, or a DR rebuild's
    phase), with the baseline's description."""
    topology, layout = cfg.topology, cfg.layout
    rebuild = layout.rebuild
    if rebuild is not None:
        *before, last = topology.dr_rebuilds
        previous = dataclasses.replace(
            topology, dr_rebuilds=(*before, *(
                (dataclasses.replace(last, phase=DETACHED),) if last.phase == REBUILT else ())),
            decommissioned=tuple(d for d in topology.decommissioned if d != last.detached))
        return previous, (f"templates before the DR rebuild's {last.phase} phase "
                          f"config/topology.json declares ({last.detached})")
    generation = topology.generation
    return (Topology(promotions=topology.promotions[:-1], engine=topology.engine),
            f"generation {generation - 1} of the declared topology (the templates before "
            f"the promotion config/topology.json declares as generation {generation})")


def _previous_generation(env: str, cfg: config.DatabaseConfig, scratch: Path) -> Baseline:
    """The templates of `cfg`'s topology before its newest declared change (synthesized
    ungated: the gate judges the current templates)."""
    from app import synthesize

    previous, source = _previous_topology(cfg)
    scratch_file = scratch / f"{env}-topology.json"
    scratch_file.write_text(topology_file().read_text() if topology_file().exists() else "{}")
    write(env, previous, path=scratch_file)
    before = os.environ.get(TOPOLOGY_FILE_VARIABLE)
    os.environ[TOPOLOGY_FILE_VARIABLE] = str(scratch_file)
    try:
        assembly = synthesize(env, scratch / f"{env}-before", gate=False)
    finally:
        if before is None:
            os.environ.pop(TOPOLOGY_FILE_VARIABLE, None)
        else:
            os.environ[TOPOLOGY_FILE_VARIABLE] = before
    return Baseline(source=source,
                    templates={stack.name: normalize(stack.template)
                               for stack in assembly.stacks})


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    from review.pipeline import declared_dr_rebuild, declared_promotion, review_environment

    try:
        entries = load(ALLOWLIST_PATH)
    except AllowListError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    args.out.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    refused: list[str] = []
    with tempfile.TemporaryDirectory(prefix="review-cdk-out-") as scratch:
        for env in args.env or list(config.ENVIRONMENTS):
            try:
                cfg = config.load(env)
                assembly, refusal = _synthesize(env, Path(scratch))
                templates = {stack.name: stack.template for stack in assembly.stacks}
                declared = declared_promotion(cfg.layout)
                rebuild = declared_dr_rebuild(cfg.layout)
                baseline = (_previous_generation(env, cfg, Path(scratch))
                            if declared or rebuild else
                            load_baseline(stacks=templates, ref=args.baseline,
                                          stack_prefix=stack_name(env, "")))
            except (config.ConfigError, BaselineError) as error:
                print(f"error: {error}", file=sys.stderr)
                return EXIT_ERROR
            review = review_environment(env=env, templates=templates,
                                        regions=assembly.regions, baseline=baseline,
                                        entries=entries, gate_error=refusal, declared=declared,
                                        rebuild=rebuild, promotion=cfg.layout.change
                                        if declared or rebuild else None)
            path = args.out / f"{env}.md"
            path.write_text(render(review), encoding="utf-8")
            if not args.quiet:
                print(render(review, diagram=False))
            print(f"==> {env}: data-loss guard {'PASSED' if review.passed else 'FAILED'}; "
                  f"report written to {path}", file=sys.stderr)
            if not review.passed:
                failed.append(env)
            if refusal:
                refused.append(env)
    if failed:
        print(f"error: the data-loss guard fired for {', '.join(failed)}: see the 'Changes' "
              "section of each report", file=sys.stderr)
        return EXIT_DATA_LOSS
    if refused:
        print(f"error: the policy gate refused {', '.join(refused)} (`make synth` shows why)",
              file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
