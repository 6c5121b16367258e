"""Per-environment configuration: `load(name)` returns a validated, frozen `DatabaseConfig`."""

from __future__ import annotations

import dataclasses

from config.environments import ENVIRONMENTS
from config.schema import AlarmThresholds, ConfigError, DatabaseConfig, validate

__all__ = ["AlarmThresholds", "ConfigError", "DatabaseConfig", "ENVIRONMENTS", "load", "validate"]

DEFAULT_ENV = "dev"


def load(name: str | None = None, *, account: str | None = None) -> DatabaseConfig:
    """The validated config of environment `name` (default `dev`).

    `account` overrides the environment's account (e.g. `cdk deploy -c env=prod -c account=...`)
    and is validated like any other field.
    """
    name = name or DEFAULT_ENV
    if name not in ENVIRONMENTS:
        raise ConfigError(name, "env", name, f"unknown environment; known: {', '.join(ENVIRONMENTS)}")
    cfg = ENVIRONMENTS[name]
    if account is not None:
        cfg = dataclasses.replace(cfg, account=account)
    return validate(cfg)
