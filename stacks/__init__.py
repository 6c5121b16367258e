"""Stacks compose constructs and declare outputs; `build_stacks` assembles one environment."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, CfnParameter, CfnRule, Environment, Fn, Stack, Stage, Tags

from config import DatabaseConfig
from config.naming import APP_NAME, DEPLOYED_ENVIRONMENT_PARAMETER
from config.naming import stack_name as _stack_name
from config.topology import DATABASE_STACK, DR_STACK
from constructs_lib.redundant_database import DisasterRecoveryTarget, RedundantDatabase
from stacks.database_stack import DatabaseStack
from stacks.dr_stacks import DrFoundationStack, DrReplicaStack
from stacks.network_stack import NetworkStack
from stacks.props import writer_endpoint_parameter_name


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
    #: The env region's foundation (key, vault): the target of the writer's backups once a
    #: regional failover moved the writer to the DR region.
    foundation: DrFoundationStack | None = None

    @property
    def all(self) -> tuple[Stack, ...]:
        """Every stack, in deployment order (the writer's stack before its standby's)."""
        if self.dr is None:
            return (self.network, self.database)
        if self.config.layout.writer_stack == DR_STACK:
            assert self.foundation is not None
            return (self.dr.network, self.dr.foundation, self.network, self.foundation,
                    self.dr.replica, self.database)
        return (self.dr.network, self.dr.foundation, self.network,
                *((self.foundation,) if self.foundation else ()), self.database,
                self.dr.replica)

    @property
    def writer(self) -> RedundantDatabase:
        """The composition that holds the writer, whichever stack it is in."""
        if self.database.database is not None:
            return self.database.database
        assert self.dr is not None and self.dr.replica.writer is not None
        return self.dr.replica.writer

    @property
    def inherited_encryption(self) -> dict[str, str]:
        """{identifier: construct path of the CMK} of each promoted writer (and DR replica a
        rebuild detached) the stacks render: its storage is encrypted with the key of the source
        it was created from (a same-region
        replica inherits it, so its template carries no KmsKeyId), which the policy gate checks
        against this lineage."""
        layout = self.config.layout
        writer, detached = layout.writer, layout.detached
        # A stack's construct id is its name at the root of an App; in a Stage (a CDK
        # Pipeline's) its path is under the Stage's, and its stack name is prefixed with it.
        paths = {stack.node.id: stack.node.path for stack in self.all}
        return {m.identifier: layout.key_path(m, stack_path=paths[layout.stack_name(m.key_stack)])
                for m in (writer, detached) if m is not None and m.promoted}


def stack_name(config: DatabaseConfig, role: str) -> str:
    return _stack_name(config.name, role)


def require_deployed_environment(stack: Stack, *, writer_parameter: str) -> None:
    """A promoted topology deploys only over the environment it was promoted in: its promoted
    writer has no MasterUsername of its own and cannot be created from nothing. The stack takes
    the writer-endpoint SSM parameter of its region as a parameter of type
    `AWS::SSM::Parameter::Value<String>`; CloudFormation resolves it before it touches any
    resource, and in an account or region where the environment was never deployed the SSM
    parameter does not exist, so the create is refused at once ("Unable to fetch parameters
    [...] from parameter store"), never half-way."""
    why = ("A promoted topology (config/topology.json) is deployed only over the environment "
           "it was promoted in: the writer-endpoint SSM parameter exists once the environment "
           "was deployed; an empty account or region has none, and CloudFormation refuses the "
           "stack before any change")
    parameter = CfnParameter(stack, DEPLOYED_ENVIRONMENT_PARAMETER,
                             type="AWS::SSM::Parameter::Value<String>", default=writer_parameter,
                             description=why)
    CfnRule(stack, "PromotedTopologyNeedsItsEnvironment").add_assertion(
        Fn.condition_not(Fn.condition_equals(parameter.value_as_string, "")), why)


def build_stacks(scope: App | Stage, config: DatabaseConfig) -> EnvironmentStacks:
    """The stacks of one environment, tagged with it: network and database in the env's region,
    plus network, foundation (key, vault) and a database stack in the DR region when
    `config.dr_region` is set. Which database stack holds the writer, its replicas and its
    backups, and which one holds the cross-region replica of it, follows the declared topology
    (`config.layout`); the other region then gets a foundation of its own for the copies."""
    layout = config.layout
    writer_in_dr = layout.writer_stack == DR_STACK
    env = Environment(account=config.account, region=config.region) if (
        config.account or config.region) else None
    dr_foundation = dr_network = foundation = None
    dr_target = target = None
    if config.dr_region is not None and config.region is not None:
        dr_env = Environment(account=config.account, region=config.dr_region)
        dr_network = NetworkStack(scope, stack_name(config, "DrNetwork"), config=config, dr=True,
                                  env=dr_env, description=f"{APP_NAME} {config.name}: "
                                  f"isolated network in the DR region {config.dr_region}")
        dr_foundation = DrFoundationStack(
            scope, stack_name(config, "DrFoundation"), config=config, env=dr_env,
            description=f"{APP_NAME} {config.name}: DR key and backup vault")
        dr_target = _target(dr_foundation.stack_name, config.dr_region)
    network = NetworkStack(scope, stack_name(config, "Network"), config=config, env=env,
                           description=f"{APP_NAME} {config.name}: isolated network")
    if any(w.stack == DR_STACK for w in layout.writers):
        # Once the writer moved to the DR region, this region receives its backups (kept
        # afterwards: the key and the vault are stateful).
        assert config.region is not None
        foundation = DrFoundationStack(
            scope, stack_name(config, "Foundation"), config=config, env=env, alias="standby",
            where=f"{config.region}, while the writer is in {config.dr_region}",
            description=f"{APP_NAME} {config.name}: key and backup vault for the writer's "
                        f"backups from {config.dr_region}")
        target = _target(foundation.stack_name, config.region)
    writer_stack_name = stack_name(config, DR_STACK if writer_in_dr else DATABASE_STACK)
    database = DatabaseStack(
        scope, stack_name(config, DATABASE_STACK), config=config, network=network.network,
        env=env, disaster_recovery=None if writer_in_dr else dr_target,
        writer_stack_name=writer_stack_name,
        description=f"{APP_NAME} {config.name}: {config.engine} primary, "
                    f"{config.replica_count} read replica(s), backups")
    dr = None
    if dr_network is not None and dr_foundation is not None:
        replica = DrReplicaStack(
            scope, stack_name(config, DR_STACK), config=config, network=dr_network.network,
            source_region=config.region or "", source_stack_name=writer_stack_name,
            disaster_recovery=target,
            env=Environment(account=config.account, region=config.dr_region),
            description=f"{APP_NAME} {config.name}: cross-region read replica in "
                        f"{config.dr_region}")
        replica.add_stack_dependency(dr_foundation, "the DR region is prepared first")
        if writer_in_dr:
            assert foundation is not None
            replica.add_stack_dependency(foundation, "backups are copied to the other region")
            database.add_stack_dependency(replica, "the standby's source is the writer")
        else:
            database.add_stack_dependency(dr_foundation,
                                          "backups are copied to the DR vault and key")
            replica.add_stack_dependency(database, "the replica's source is the primary")
        dr = DisasterRecoveryStacks(network=dr_network, foundation=dr_foundation,
                                    replica=replica)
    result = EnvironmentStacks(config=config, network=network, database=database, dr=dr,
                               foundation=foundation)
    # Each network's Secrets Manager endpoint serves the credentials secret (in the other
    # region, its replica) to the groups that read it, and nothing else.
    writer = result.writer
    here, there = (dr.network.network, network.network) if writer_in_dr and dr else (
        network.network, dr.network.network if dr else None)
    here.admit_to_endpoints(writer.rotation_security_group,
                            description="Secret rotation function")
    here.admit_to_endpoints(writer.clients_security_group,
                            description="Application clients" if not writer_in_dr
                            else "Application clients in the DR region")
    here.allow_secret(writer.credentials.secret)
    if dr is not None and there is not None:
        standby = (database.standby.clients_security_group if writer_in_dr and database.standby
                   else dr.replica.dr.clients_security_group if dr.replica.dr else None)
        assert standby is not None
        there.admit_to_endpoints(standby, description="Application clients" if writer_in_dr
                                 else "Application clients in the DR region")
        there.allow_secret(writer.credentials.secret)
    if layout.promoted:
        for stack in result.all:
            require_deployed_environment(
                stack, writer_parameter=writer_endpoint_parameter_name(config))
    for stack in result.all:
        Tags.of(stack).add("project", APP_NAME)
        Tags.of(stack).add("environment", config.name)
    return result


def _target(foundation_stack: str, region: str) -> DisasterRecoveryTarget:
    """The foundation stack's vault and key in `region`, read with `Fn::GetStackOutput`."""
    return DisasterRecoveryTarget(
        region=region, vault_arn=Fn.get_stack_output(foundation_stack, "VaultArn", region),
        key_arn=Fn.get_stack_output(foundation_stack, "KeyArn", region))
