"""Offline review of the synthesized CloudFormation: snapshots, a data-loss guard and a report.

Reviewers approve infrastructure by reading templates, and a raw diff hides the one change that
matters: a database replaced (new and empty) because a construct was renamed or a create-only
property changed. This package works without credentials or a deployed stack:

- `review.normalize`: strips what changes without meaning, so snapshots show only real changes;
- `review.snapshot_extension`: the syrupy extension writing one normalized JSON file per stack;
- `review.snapshots`: where the committed snapshots live and how the baseline is read (git);
- `review.stateful` + `review.guard`: which resources hold data and which changes destroy them;
- `review.allowlist`: the reviewed exceptions for intended replacements;
- `review.diff`, `review.facts`, `review.report`: the per-environment Markdown review;
- `review.pipeline`: one environment's review, shared by the command and the tests;
- `python -m review`: the command behind `make review` (exit 1 when the guard fires).
"""

from review.guard import Finding, find_data_loss
from review.normalize import dumps, normalize

__all__ = ["Finding", "dumps", "find_data_loss", "normalize"]
