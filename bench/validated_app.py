"""`app.py` with CDK's built-in CloudFormation validation in every synth, on top of the gate.
Only the benchmark runs it (`BENCH_VALIDATED=1`, `python -m bench.validated_app`), to measure
what keeping that validation out of the per-synth gate (`app.BUILTIN_CFN_VALIDATION`) saves."""

from __future__ import annotations

import sys

import app

if __name__ == "__main__":
    app.BUILTIN_CFN_VALIDATION = True
    sys.exit(app.main())
