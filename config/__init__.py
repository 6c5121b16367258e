"""Per-environment configuration: `load(name)` returns a validated, frozen `DatabaseConfig`."""

from __future__ import annotations

import dataclasses

from config.environments import ENVIRONMENTS
from config.schema import AlarmThresholds, ConfigError, DatabaseConfig, validate
from config.topology import Topology, declared

__all__ = ["AlarmThresholds", "ConfigError", "DatabaseConfig", "ENVIRONMENTS", "Topology",
           "load", "validate", "with_declared_topology"]

DEFAULT_ENV = "dev"


def with_declared_topology(cfg: DatabaseConfig) -> DatabaseConfig:
    """`cfg` with the topology config/topology.json declares for it (when it declares one).

    Not validated (validation imports aws_cdk): the runbooks call this, then `cfg.layout`."""
    topology = declared(cfg.name, fail=lambda name, value, allowed: _refuse(cfg.name, name,
                                                                            value, allowed))
    return cfg if topology is None else dataclasses.replace(cfg, topology=topology)


def _refuse(env: str, name: str, value: object, allowed: str) -> None:
    raise ConfigError(env, name, value, allowed)


def load(name: str | None = None, *, account: str | None = None) -> DatabaseConfig:
    """The validated config of environment `name` (default `dev`), with its declared topology.

    `account` overrides the environment's account (e.g. `cdk deploy -c env=prod -c account=...`)
    and is validated like any other field.
    """
    name = name or DEFAULT_ENV
    if name not in ENVIRONMENTS:
        raise ConfigError(name, "env", name, f"unknown environment; known: {', '.join(ENVIRONMENTS)}")
    cfg = with_declared_topology(ENVIRONMENTS[name])
    if account is not None:
        cfg = dataclasses.replace(cfg, account=account)
    return validate(cfg)
