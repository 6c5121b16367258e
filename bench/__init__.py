"""`make bench` (`python -m bench`): synthesis, the policy gate, its peers and the test suite,
timed side by side in one run, each figure the median of several runs with its spread, checked
against the performance budgets (docs/performance.md). Writes bench/results.json and
bench/results.md."""
