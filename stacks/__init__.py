"""Stacks compose constructs and declare outputs; `build_stacks` assembles one environment."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Environment, Fn, Stack, Stage, Tags

from config import DatabaseConfig
from config.naming import APP_NAME
from config.naming import stack_name as _stack_name
from constructs_lib.redundant_database import DisasterRecoveryTarget
from stacks.database_stack import DatabaseStack
from stacks.dr_stacks import DrFoundationStack, DrReplicaStack
from stacks.network_stack import NetworkStack


@dataclass(frozen=True)
class DisasterRecoveryStacks:
    network: NetworkStack
    foundation: DrFoundationStack
    replica: DrReplicaStack


@dataclass(frozen=True)
class EnvironmentStacks:
    config: DatabaseConfig
    network: NetworkStack
    database: DatabaseStack
    dr: DisasterRecoveryStacks | None = None

    @property
    def all(self) -> tuple[Stack, ...]:
        """Every stack, in deployment order."""
        if self.dr is None:
            return (self.network, self.database)
        return (self.dr.network, self.dr.foundation, self.network, self.database,
                self.dr.replica)


def stack_name(config: DatabaseConfig, role: str) -> str:
    return _stack_name(config.name, role)


def build_stacks(scope: App | Stage, config: DatabaseConfig) -> EnvironmentStacks:
    """The stacks of one environment, tagged with it: network and database in the primary
    region, plus network, foundation (key, vault) and a cross-region replica in the DR region
    when `config.dr_region` is set."""
    env = Environment(account=config.account, region=config.region) if (
        config.account or config.region) else None
    dr_foundation = dr_network = None
    target = None
    if config.dr_region is not None and config.region is not None:
        dr_env = Environment(account=config.account, region=config.dr_region)
        dr_network = NetworkStack(scope, stack_name(config, "DrNetwork"), config=config, dr=True,
                                  env=dr_env, description=f"{APP_NAME} {config.name}: "
                                  f"isolated network in the DR region {config.dr_region}")
        dr_foundation = DrFoundationStack(
            scope, stack_name(config, "DrFoundation"), config=config, env=dr_env,
            description=f"{APP_NAME} {config.name}: DR key and backup vault")
        foundation_name = dr_foundation.stack_name
        target = DisasterRecoveryTarget(
            region=config.dr_region,
            vault_arn=Fn.get_stack_output(foundation_name, "VaultArn", config.dr_region),
            key_arn=Fn.get_stack_output(foundation_name, "KeyArn", config.dr_region))
    network = NetworkStack(scope, stack_name(config, "Network"), config=config, env=env,
                           description=f"{APP_NAME} {config.name}: isolated network")
    database = DatabaseStack(scope, stack_name(config, "Database"), config=config,
                             network=network.network, env=env, disaster_recovery=target,
                             description=f"{APP_NAME} {config.name}: {config.engine} primary, "
                                         f"{config.replica_count} read replica(s), backups")
    dr = None
    if dr_network is not None and dr_foundation is not None:
        database.add_stack_dependency(dr_foundation, "backups are copied to the DR vault and key")
        replica = DrReplicaStack(
            scope, stack_name(config, "DrReplica"), config=config, network=dr_network.network,
            source_region=config.region or "",
            source_stack_name=database.stack_name,
            env=Environment(account=config.account, region=config.dr_region),
            description=f"{APP_NAME} {config.name}: cross-region read replica in "
                        f"{config.dr_region}")
        replica.add_stack_dependency(database, "the replica's source is the primary")
        replica.add_stack_dependency(dr_foundation, "the DR region is prepared first")
        dr = DisasterRecoveryStacks(network=dr_network, foundation=dr_foundation,
                                    replica=replica)
    # Each network's Secrets Manager endpoint serves the credentials secret (in the DR region,
    # its replica) to the groups that read it, and nothing else.
    db = database.database
    network.network.admit_to_endpoints(db.rotation_security_group,
                                       description="Secret rotation function")
    network.network.admit_to_endpoints(db.clients_security_group,
                                       description="Application clients")
    network.network.allow_secret(db.credentials.secret)
    if dr is not None:
        dr.network.network.admit_to_endpoints(dr.replica.dr.clients_security_group,
                                              description="Application clients in the DR region")
        dr.network.network.allow_secret(db.credentials.secret)
    result = EnvironmentStacks(config=config, network=network, database=database, dr=dr)
    for stack in result.all:
        Tags.of(stack).add("project", APP_NAME)
        Tags.of(stack).add("environment", config.name)
    return result
