"""Per-environment configuration: `load(name)` returns a validated, frozen `DatabaseConfig`."""

from __future__ import annotations

import dataclasses

from config.environments import ENVIRONMENTS
from config.schema import AlarmThresholds, ConfigError, DatabaseConfig, validate
from config.topology import EngineRecord, Topology, declared

__all__ = ["AlarmThresholds", "ConfigError", "DatabaseConfig", "ENVIRONMENTS", "EngineRecord",
           "Topology", "engine_record", "load", "validate", "with_declared_topology"]

DEFAULT_ENV = "dev"


def with_declared_topology(cfg: DatabaseConfig) -> DatabaseConfig:
    """`cfg` with what config/topology.json declares for it (when it declares anything): the
    topology, and the engine versions an upgrade recorded, over config/environments.py's.

    Not validated (validation imports aws_cdk): the runbooks call this, then `cfg.layout`."""
    topology = declared(cfg.name, fail=lambda name, value, allowed: _refuse(cfg.name, name,
                                                                            value, allowed))
    if topology is None:
        return cfg
    cfg = dataclasses.replace(cfg, topology=topology)
    engine = topology.engine
    if engine is None:
        return cfg
    return dataclasses.replace(cfg, engine_version=engine.engine_version,
                               replica_engine_version=engine.replica_engine_version)


def engine_record(cfg: DatabaseConfig) -> EngineRecord:
    """The engine versions `cfg` declares, as config/topology.json records them."""
    return EngineRecord(engine_version=cfg.engine_version,
                        replica_engine_version=cfg.replica_engine_version)


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
