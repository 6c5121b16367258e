"""Session-wide fixtures: every environment is synthesized once, through the policy gate, and
its templates are shared by all tests (a synth per test would cost minutes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import config
from app import synthesize

ENVS = tuple(config.ENVIRONMENTS)

Template = dict[str, Any]


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Where each environment was synthesized: {env: cdk.out directory}."""
    return {env: tmp_path_factory.mktemp(f"cdk.out.{env}") for env in ENVS}


@pytest.fixture(scope="session")
def templates(cdk_out: dict[str, Path]) -> dict[str, dict[str, Template]]:
    """{env: {stack name: template}} for every environment, synthesized with the gate."""
    return {env: synthesize(env, cdk_out[env]) for env in ENVS}
