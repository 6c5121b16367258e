#!/usr/bin/env python3
"""CDK entry point: `cdk synth -c env=NAME` (local, dev, prod; default dev).

Reads the environment name (and an optional `-c account=...`), loads the validated config and
assembles the stacks. A config mistake prints one line and exits 1 before any construct exists.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

import config
from stacks import build_stacks


def main() -> int:
    app = cdk.App()
    try:
        cfg = config.load(app.node.try_get_context("env"),
                          account=app.node.try_get_context("account"))
    except config.ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    build_stacks(app, cfg)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
