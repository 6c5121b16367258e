"""Stacks compose constructs and declare outputs; `build_stacks` assembles one environment."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Environment, Stage, Tags

from config import DatabaseConfig
from stacks.database_stack import DatabaseStack
from stacks.network_stack import NetworkStack

APP_NAME = "RedundantDb"


@dataclass(frozen=True)
class EnvironmentStacks:
    config: DatabaseConfig
    network: NetworkStack
    database: DatabaseStack

    @property
    def all(self) -> tuple[NetworkStack, DatabaseStack]:
        return (self.network, self.database)


def stack_name(config: DatabaseConfig, role: str) -> str:
    return f"{APP_NAME}-{config.name}-{role}"


def build_stacks(scope: App | Stage, config: DatabaseConfig) -> EnvironmentStacks:
    """The network and database stacks of one environment, tagged with it."""
    env = Environment(account=config.account, region=config.region) if (
        config.account or config.region) else None
    network = NetworkStack(scope, stack_name(config, "Network"), config=config, env=env,
                           description=f"{APP_NAME} {config.name}: isolated network")
    database = DatabaseStack(scope, stack_name(config, "Database"), config=config,
                             network=network.network, env=env,
                             description=f"{APP_NAME} {config.name}: {config.engine} primary, "
                                         f"{config.replica_count} read replica(s), backups")
    for stack in (network, database):
        Tags.of(stack).add("project", APP_NAME)
        Tags.of(stack).add("environment", config.name)
    return EnvironmentStacks(config=config, network=network, database=database)
