"""`app.py` as it was before issue 6: the gate plus CDK's built-in CloudFormation validation in
every synth. Only the benchmark runs it (`--app 'python -m bench.validated_app'`), to measure
the cost that was moved out of the per-synth gate."""

from __future__ import annotations

import sys

import app

if __name__ == "__main__":
    app.BUILTIN_CFN_VALIDATION = True
    sys.exit(app.main())
