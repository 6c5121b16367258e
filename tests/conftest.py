"""Session-wide fixtures: every environment is synthesized once, through the policy gate, and
its templates are shared by all tests (a synth per test would cost minutes)."""

from __future__ import annotations

import gc
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import config
from config.topology import TOPOLOGY_FILE_VARIABLE
from local_aws.server import share_botocore_loader

# One loader of botocore's models for every boto3 session of a test process (moto's import makes
# three, the tests many more): each new session would parse its services' models again.
share_botocore_loader()

# On a machine with no more cores than xdist workers, each worker, and every process it starts
# (jsii's Node, the emulator, PostgreSQL, checkov), runs on a core of its own: a worker and its
# processes take turns (a request, then its answer), so they share that core's caches rather
# than being moved between the cores by the scheduler. Four pairs of runs on the project's
# 2-core machine: 83-93 s pinned against 84-97 s not (means 88.5 s and 92.6 s).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER is not None and hasattr(os, "sched_setaffinity"):
    _CORES = sorted(os.sched_getaffinity(0))
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0")) >= len(_CORES):
        os.sched_setaffinity(0, {_CORES[int(_WORKER.removeprefix("gw")) % len(_CORES)]})

# Every environment in its original topology: what an operator records in config/topology.json
# (`make failover` does for env local) must not change what the tests synthesize. Set before
# any test module is collected, and inherited by xdist's workers and the tests' subprocesses. A
# test of a promoted topology names its own file.
os.environ[TOPOLOGY_FILE_VARIABLE] = os.path.join(
    tempfile.mkdtemp(prefix="topology-"), "original-topology.json")

if TYPE_CHECKING:  # aws_cdk is imported by the fixtures: xdist's controller never needs it
    import aws_cdk as cdk

    from stacks import EnvironmentStacks

ENVS = tuple(config.ENVIRONMENTS)


# pytest's cache key of the seconds each test module took in the last run that ran it.
MODULE_SECONDS = "redundantdb/module-seconds"


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest first. `make test` gives each xdist worker whole modules (`--dist loadfile`,
    in this order), and a long module started last would leave the other worker idle at the
    end: the end-to-end drill (marked e2e: on one emulator, a deploy through the CDK CLI, two
    failovers with their reconciling deploys and the upgrade stages) runs first, then every other module by the time it took in the last run that
    recorded it (pytest's cache), a module the cache does not know in collection order."""
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider
    seconds: dict[str, float] = cache.get(MODULE_SECONDS, {}) if cache is not None else {}
    items.sort(key=lambda item: (item.get_closest_marker("e2e") is None,
                                 -seconds.get(_module(item.nodeid), 0.0)))


# Garbage collection. A full collection walks every tracked object: in a test process that is
# the session's syntheses, jsii's object table, botocore's models and moto's state, some 0.4 s
# a collection, 8% of the suite's CPU. Whatever is alive when a module starts (imports, session
# fixtures, the earlier modules' leftovers) is frozen (gc.freeze) so that collections walk only
# what the module itself creates; cycles among frozen objects are not reclaimed, which costs a
# worker some 70 MB at its peak. At the end the whole heap is frozen, so pytest's last
# collections and the interpreter's finalization do not walk it (seconds per worker, which
# xdist's controller waits for).
_frozen_before: set[str] = set()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    module = _module(item.nodeid)
    if module not in _frozen_before:
        _frozen_before.add(module)
        gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    gc.freeze()


_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add each phase's duration to its module's (in xdist's controller, from every worker)."""
    _seconds[_module(report.nodeid)] = _seconds.get(_module(report.nodeid), 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Record the modules' seconds for the next run's order (by the controller, or the one
    process without xdist; a module this run did not run keeps its last figure)."""
    cache = getattr(session.config, "cache", None)
    if cache is None or hasattr(session.config, "workerinput") or not _seconds:
        return
    recorded = dict(cache.get(MODULE_SECONDS, {}))
    recorded.update({module: round(value, 1) for module, value in _seconds.items()})
    cache.set(MODULE_SECONDS, recorded)

Template = dict[str, Any]


@dataclass(frozen=True)
class Synthesized:
    """One environment synthesized through the gate: the App (with the gate's evaluations),
    its stacks, where it was written and the templates."""

    app: cdk.App
    stacks: EnvironmentStacks
    outdir: Path
    templates: dict[str, Template]


@pytest.fixture(scope="session")
def environments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    from app import build_app

    out = {}
    for env in ENVS:
        outdir = tmp_path_factory.mktemp(f"cdk.out.{env}")
        app, stacks = build_app(env, outdir=str(outdir))
        assembly = app.synth()
        templates = {s.stack_name: assembly.get_stack_by_name(s.stack_name).template
                     for s in stacks.all}
        out[env] = Synthesized(app, stacks, outdir, templates)
    return out


@pytest.fixture(scope="session")
def cdk_out(environments: dict[str, Synthesized]) -> dict[str, Path]:
    """Where each environment was synthesized: {env: cdk.out directory}."""
    return {env: s.outdir for env, s in environments.items()}


@pytest.fixture(scope="session")
def templates(environments: dict[str, Synthesized]) -> dict[str, dict[str, Template]]:
    """{env: {stack name: template}} for every environment, synthesized with the gate."""
    return {env: s.templates for env, s in environments.items()}
