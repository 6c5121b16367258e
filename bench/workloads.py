"""What the benchmark times inside a fresh child process (`python -m bench.workloads KIND ...`).

Each workload prints one JSON line with its own timings (seconds); the parent measures the
process's wall time and peak memory (ru_maxrss of the child's process tree, from wait4).

Variants: `gate` = the policy gate as every synth runs it (four cdk-nag packs + Redundancy);
`floor` = no policy plugin and no CDK built-in CloudFormation validation; `validated` = the gate
plus CDK's built-in CloudFormation validation in every synth.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

T0 = time.perf_counter()

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# app first: it starts jsii's Node process with the app's Node options (app.JSII_NODE_OPTIONS).
import config  # noqa: E402,I001
from app import build_app, cdk_context  # noqa: E402
import aws_cdk as cdk  # noqa: E402

T_IMPORT = time.perf_counter() - T0
VARIANTS = ("gate", "floor", "validated")


def new_app(outdir: str, variant: str) -> cdk.App:
    return cdk.App(outdir=outdir, context=cdk_context(), analytics_reporting=False,
                   builtin_cloud_formation_validation=variant == "validated")


def synth_env(env: str, variant: str, outdir: str) -> float:
    """Build and synthesize one environment in a new App; return the seconds it took."""
    start = time.perf_counter()
    app, _ = build_app(env, app=new_app(outdir, variant), gate=variant != "floor")
    app.synth()
    return time.perf_counter() - start


def replicated_app(n: int, base: str, variant: str, outdir: str) -> cdk.App:
    """One App with `n` replicated databases in one shared network (a platform's VPC):
    environment `base`'s config under distinct names, one database stack each (primary,
    replicas, key, secret, backups, alarms), the gate on each unless `floor`."""
    import dataclasses

    from stacks import EnvironmentStacks
    from stacks.database_stack import DatabaseStack
    from stacks.network_stack import NetworkStack

    app = new_app(outdir, variant)
    cfg = config.load(base)
    network = NetworkStack(app, "SharedNetwork", config=cfg)
    for i in range(n):
        db_cfg = config.validate(dataclasses.replace(cfg, name=f"r{i:02d}"))
        database = DatabaseStack(app, f"Db{i:02d}", config=db_cfg, network=network.network)
        if variant != "floor":
            from policy.gate import apply_gate

            apply_gate(app, EnvironmentStacks(config=db_cfg, network=network, database=database))
    return app


def inproc(args: argparse.Namespace, tmp: str) -> dict[str, object]:
    first = synth_env(args.env, args.variant, f"{tmp}/first")
    warm = [synth_env(args.env, args.variant, f"{tmp}/warm{i}") for i in range(args.warm)]
    return {"import": T_IMPORT, "first": first, "warm": warm}


def scale(args: argparse.Namespace, tmp: str) -> dict[str, object]:
    warmup = synth_env(args.base, args.variant, f"{tmp}/warmup")  # engine and modules loaded
    start = time.perf_counter()
    app = replicated_app(args.n, args.base, args.variant, f"{tmp}/scaled")
    built = time.perf_counter()
    app.synth()
    done = time.perf_counter()
    stacks = sum(1 for c in app.node.children if isinstance(c, cdk.Stack))
    return {"import": T_IMPORT, "warmup": warmup, "build": built - start, "synth": done - built,
            "total": done - start, "stacks": stacks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workloads")
    sub = parser.add_subparsers(dest="kind", required=True)
    p_in = sub.add_parser("inproc", help="first and warm synths of one environment")
    p_in.add_argument("--env", default="dev", choices=sorted(config.ENVIRONMENTS))
    p_in.add_argument("--variant", choices=VARIANTS, required=True)
    p_in.add_argument("--warm", type=int, default=3)
    p_sc = sub.add_parser("scale", help="one App with N replicated databases, after a warm-up")
    p_sc.add_argument("--n", type=int, required=True)
    p_sc.add_argument("--base", default="dev", choices=sorted(config.ENVIRONMENTS))
    p_sc.add_argument("--variant", choices=VARIANTS, required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        result = {"inproc": inproc, "scale": scale}[args.kind](args, tmp)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
