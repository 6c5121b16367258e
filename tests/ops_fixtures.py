"""A deployed environment built directly with boto3 inside moto's in-process mock, shaped like
`RedundantDb-<env>-Database`: CMK with alias, encrypted multi-AZ primary, read replicas, the
credentials secret with rotation, the writer-endpoint SSM parameter and a CloudFormation stack
whose outputs name them all; optionally the DR region's `RedundantDb-<env>-DrReplica` (DR CMK, a
cross-region read replica, the DR writer-endpoint parameter). Shared by tests/test_ops_*.py.
Each environment is deployed once per module's mock; its tests get moto's state as the deploy
left it, restored from a copy."""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import warnings
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.exceptions import RDSClientError
from moto.rds.models import DBInstance, RDSBackend, rds_backends

from config import DatabaseConfig
from config.environments import ENVIRONMENTS
from config.topology import TOPOLOGY_FILE_VARIABLE
from local_aws import fidelity
from local_aws.fidelity.rds_promote_read_replica import promote_read_replica
from ops.aws import Clients, make_clients
from ops.cli import main
from tests.moto_fixtures import SESSION, State, capture, lighten, restore

REGION = "us-east-1"
DR_REGION = "us-west-2"
PASSWORD = "Sup3r-S3cret-Passw0rd-never-printed"
ENV = "local"


#: The engine fields of a MySQL copy of env local (which runs PostgreSQL), for
#: `local_config(**MYSQL, ...)`.
MYSQL: dict[str, Any] = {"engine": "mysql", "port": 3307, "logical_replication": False,
                         "log_exports": ("audit", "error", "slowquery")}


def local_config(**changes: Any) -> DatabaseConfig:
    """`local` without a DR region (as `dev`): the in-region cases of test_ops_verify.py and
    test_ops_failover.py build one region only. A DR env's checks and failovers are
    test_ops_dr.py's (`dr_config`), on both regions."""
    fields: dict[str, Any] = {"dr_region": None, "dr_availability_zones": ()}
    return dataclasses.replace(ENVIRONMENTS[ENV], **{**fields, **changes})


def dr_config(**changes: Any) -> DatabaseConfig:
    """`local` with its DR region, as config/environments.py (and prod) have one."""
    fields: dict[str, Any] = {"dr_region": DR_REGION,
                              "dr_availability_zones": (f"{DR_REGION}a", f"{DR_REGION}b")}
    return dataclasses.replace(ENVIRONMENTS[ENV], **{**fields, **changes})


@dataclass
class FakeClock:
    """Monotonic time that only `sleep` advances; records every sleep."""

    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    elapsed: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)


@dataclass
class DrDeployed:
    """Handles on the DR region's resources."""

    clients: Clients
    stack_name: str
    key_arn: str  # the DrReplica stack's key (the replica's storage)
    foundation_key_arn: str  # the DrFoundation stack's key (the secret's replica, backup copies)
    replica: str
    parameter: str


def unreachable(clients: Clients, *services: str, error: Exception | None = None) -> Clients:
    """A copy of `clients` whose `services` (default: all) fail as a region that does not
    answer: every call raises EndpointConnectionError (or `error`) before any request. The
    refusing clients are made once per region and service (~15 ms each) and raise what the
    latest `unreachable` of that region and service asked for."""
    names = services or ("cloudformation", "rds", "kms", "secretsmanager", "ssm",
                         "cloudwatch", "sts")
    raised = error or EndpointConnectionError(endpoint_url="https://unreachable.invalid")
    replaced = {}
    for name in names:
        client, refusal = _refusing(clients.region, name)
        refusal[:] = [raised]
        replaced[name] = client
    return dataclasses.replace(clients, **replaced)


@functools.cache
def _refusing(region: str, service: str) -> tuple[Any, list[Exception]]:
    """A client of `service` in `region` that raises the error its list holds before any call."""
    refusal: list[Exception] = []
    client = SESSION.client(service, region_name=region)  # type: ignore[call-overload]

    def refuse(**_: Any) -> None:
        raise refusal[0]

    client.meta.events.register("before-call", refuse)
    return client, refusal


@dataclass
class Deployed:
    """Handles on the fixture's resources."""

    clients: Clients
    config: DatabaseConfig
    stack_name: str
    key_arn: str
    secret_arn: str
    parameter: str
    primary: str
    replicas: list[str]
    clock: FakeClock = field(default_factory=FakeClock)
    dr: DrDeployed | None = None
    # What the CLI gets as the primary (DR) region's probe clients (e.g. `unreachable(...)`).
    probe: Clients | None = None
    dr_probe: Clients | None = None

    @property
    def backend(self) -> RDSBackend:
        return rds_backends[DEFAULT_ACCOUNT_ID][REGION]

    @property
    def dr_backend(self) -> RDSBackend:
        return rds_backends[DEFAULT_ACCOUNT_ID][DR_REGION]

    def db(self, identifier: str) -> DBInstance:
        """moto's record of an instance, to put it in states the API cannot (e.g. failed) or to
        read a field without a DescribeDBInstances (~10 ms of CPU a call)."""
        if identifier in self.backend.databases:
            return self.backend.databases[identifier]
        return self.dr_backend.databases[identifier]

    def _rds(self, identifier: str) -> Any:
        return self.dr.clients.rds if self.dr and identifier == self.dr.replica else \
            self.clients.rds

    def describe(self, identifier: str) -> dict[str, Any]:
        return self._rds(identifier).describe_db_instances(
            DBInstanceIdentifier=identifier)["DBInstances"][0]

    def endpoint(self, identifier: str) -> str:
        """host:port, as DescribeDBInstances' `Endpoint` gives it (read from moto's record)."""
        e = self.db(identifier).endpoint
        return f"{e['Address']}:{e['Port']}"

    def parameter_value(self) -> str:
        return str(self.clients.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"])

    def dr_parameter_value(self) -> str:
        assert self.dr is not None
        return str(self.dr.clients.ssm.get_parameter(
            Name=self.dr.parameter)["Parameter"]["Value"])

    def factory(self, region: str, probe: bool) -> Clients:
        """The CLI's clients per region: the primary's probe may be `self.probe`."""
        if region == REGION:
            return (self.probe or self.clients) if probe else self.clients
        assert self.dr is not None and region == DR_REGION, region
        return (self.dr_probe or self.dr.clients) if probe else self.dr.clients

    def put_lag(self, identifier: str, seconds: float, *, age: float = 0.0) -> None:
        """A ReplicaLag datapoint `age` seconds old, in the instance's region."""
        cloudwatch = self.dr.clients.cloudwatch if self.dr and identifier == self.dr.replica \
            else self.clients.cloudwatch
        cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=[{
            "MetricName": "ReplicaLag", "Value": seconds, "Unit": "Seconds",
            "Timestamp": self.clock.now() - timedelta(seconds=age),
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": identifier}]}])

    def secret_document(self) -> dict[str, Any]:
        text = self.clients.secretsmanager.get_secret_value(SecretId=self.secret_arn)
        return dict(json.loads(text["SecretString"]))

    def tags(self, identifier: str) -> dict[str, str]:
        """The instance's tags, as ListTagsForResource gives them (read from moto's record)."""
        return {t["Key"]: t["Value"] for t in self.db(identifier).get_tags()}

    def delete(self, identifier: str) -> None:
        """Delete an instance the way an operator must: protection off first."""
        rds = self._rds(identifier)
        rds.modify_db_instance(DBInstanceIdentifier=identifier, DeletionProtection=False,
                               ApplyImmediately=True)
        rds.delete_db_instance(DBInstanceIdentifier=identifier, SkipFinalSnapshot=True)
        self.backend.databases.pop(identifier, None)
        self.dr_backend.databases.pop(identifier, None)

    def run(self, *argv: str) -> tuple[int, str, str]:
        """`python -m ops <argv> --env local` in-process: (exit code, stdout, stderr). Fails the
        test if the password shows in either stream."""
        out, err = io.StringIO(), io.StringIO()
        code = main([*argv, "--env", self.config.name], out=out, err=err, clock=self.clock,
                    clients=self.clients, factory=self.factory)
        assert PASSWORD not in out.getvalue() + err.getvalue(), "the password was printed"
        return code, out.getvalue(), err.getvalue()


def _outputs(values: dict[str, str]) -> dict[str, Any]:
    return {name: {"Value": value, "Description": name} for name, value in values.items()}


def deploy(*, clients: Clients, config: DatabaseConfig, replica_outputs: bool = True) -> Deployed:
    """Build the environment `config` describes (call inside `mock_aws`)."""
    prefix = config.resource_prefix
    key = clients.kms.create_key(Description=f"{prefix} database")["KeyMetadata"]
    clients.kms.create_alias(AliasName=f"alias/{prefix}-database", TargetKeyId=key["KeyId"])
    primary = config.instance_identifier("primary")
    azs = config.availability_zones
    common = dict(DBInstanceClass=config.instance_class, Port=config.port,
                  MultiAZ=config.multi_az, PubliclyAccessible=False, DeletionProtection=True)
    clients.rds.create_db_instance(
        DBInstanceIdentifier=primary, Engine=config.engine, EngineVersion=config.engine_version,
        AllocatedStorage=config.allocated_storage_gib, MasterUsername=config.master_username,
        MasterUserPassword=PASSWORD, DBName=config.database_name, StorageEncrypted=True,
        # A bare key id, as a CloudFormation Ref gives: verify must resolve it to the KeyArn.
        KmsKeyId=key["KeyId"], BackupRetentionPeriod=config.backup_retention_days,
        AvailabilityZone=azs[0], **common)
    replicas = []
    for n in range(1, config.replica_count + 1):
        identifier = config.instance_identifier(f"replica-{n}")
        clients.rds.create_db_instance_read_replica(
            DBInstanceIdentifier=identifier, SourceDBInstanceIdentifier=primary,
            AvailabilityZone=azs[n % len(azs)], **common)
        replicas.append(identifier)
    address = _address(clients, primary)
    document = {"username": config.master_username, "password": PASSWORD,
                "engine": config.engine, "host": address, "port": config.port,
                "dbname": config.database_name, "dbInstanceIdentifier": primary}
    secret_arn = clients.secretsmanager.create_secret(
        Name=f"{prefix}-credentials", KmsKeyId=key["Arn"],
        SecretString=json.dumps(document))["ARN"]
    clients.secretsmanager.rotate_secret(
        SecretId=secret_arn, RotateImmediately=False,
        RotationRules={"AutomaticallyAfterDays": config.secret_rotation_days})
    parameter = f"/{prefix}/writer-endpoint"
    clients.ssm.put_parameter(Name=parameter, Value=f"{address}:{config.port}", Type="String")
    outputs = {
        "PrimaryIdentifier": primary, "PrimaryEndpoint": address, "Port": str(config.port),
        "SecretArn": secret_arn, "KeyArn": key["Arn"], "WriterEndpointParameter": parameter,
    }
    if replica_outputs:
        for n, identifier in enumerate(replicas, 1):
            outputs[f"Replica{n}Identifier"] = identifier
            outputs[f"Replica{n}Endpoint"] = _address(clients, identifier)
    stack_name = f"RedundantDb-{config.name}-Database"
    _create_stack(clients, stack_name, outputs)
    return Deployed(clients=clients, config=config, stack_name=stack_name, key_arn=key["Arn"],
                    secret_arn=secret_arn, parameter=parameter, primary=primary,
                    replicas=replicas)


def _address(clients: Clients, identifier: str) -> str:
    """The instance's endpoint address, as DescribeDBInstances gives it (read from moto's record,
    without a call)."""
    return str(rds_backends[DEFAULT_ACCOUNT_ID][clients.region].databases[identifier].address)


def _create_stack(clients: Clients, stack_name: str, outputs: dict[str, str]) -> None:
    template = {"Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                "Outputs": _outputs(outputs)}
    with warnings.catch_warnings():  # moto: "WaitConditionHandle ... not supported" (no-op)
        warnings.simplefilter("ignore", UserWarning)
        clients.cloudformation.create_stack(StackName=stack_name,
                                            TemplateBody=json.dumps(template))


def deploy_dr(env: Deployed, *, clients: Clients, replicate_secret: bool = True,
              secret_output: bool = False) -> DrDeployed:
    """The DR region of `env` (its config has a dr_region), as stacks/dr_stacks.py declares it:
    the DrFoundation stack's CMK (`KeyArn` output), the DrReplica stack's own CMK, a
    cross-region read replica of the primary (source by ARN, the replica's key), the DR writer
    parameter and the DrReplica stack's outputs; `replicate_secret`: the credentials secret has a
    replica in the DR region, encrypted with the foundation key; `secret_output`: the DrReplica
    stack outputs that replica's ARN as `SecretArn`."""
    config = env.config
    prefix = config.resource_prefix
    foundation = clients.kms.create_key(Description=f"{prefix} DR foundation")["KeyMetadata"]
    clients.kms.create_alias(AliasName=f"alias/{prefix}-dr", TargetKeyId=foundation["KeyId"])
    _create_stack(clients, f"RedundantDb-{config.name}-DrFoundation",
                  {"KeyArn": foundation["Arn"],
                   "VaultArn": f"arn:aws:backup:{DR_REGION}:{DEFAULT_ACCOUNT_ID}:backup-vault:dr"})
    key = clients.kms.create_key(Description=f"{prefix} DR replica")["KeyMetadata"]
    clients.kms.create_alias(AliasName=f"alias/{prefix}-dr-replica", TargetKeyId=key["KeyId"])
    replica = config.instance_identifier("dr-replica")
    clients.rds.create_db_instance_read_replica(
        DBInstanceIdentifier=replica, SourceDBInstanceIdentifier=env.db(env.primary).arn,
        SourceRegion=REGION, KmsKeyId=key["Arn"], DBInstanceClass=config.replica_instance_class,
        MultiAZ=config.multi_az, PubliclyAccessible=False, DeletionProtection=True,
        AvailabilityZone=config.dr_availability_zones[0])
    address = _address(clients, replica)
    parameter = f"/{prefix}/writer-endpoint"
    clients.ssm.put_parameter(Name=parameter, Value=env.endpoint(env.primary), Type="String")
    replica_secret = None
    if replicate_secret:
        # The replica's key is honoured by the `secretsmanager-replica-kms-key` extension.
        replica_secret = env.clients.secretsmanager.replicate_secret_to_regions(
            SecretId=env.secret_arn, AddReplicaRegions=[
                {"Region": DR_REGION, "KmsKeyId": foundation["Arn"]}])["ARN"].replace(
                    REGION, DR_REGION)
    stack_name = f"RedundantDb-{config.name}-DrReplica"
    outputs = {
        "ReplicaIdentifier": replica, "ReplicaEndpoint": address, "SourceRegion": REGION,
        "Port": str(config.port), "KeyArn": key["Arn"], "WriterEndpointParameter": parameter,
        "AlarmTopicArn": f"arn:aws:sns:{DR_REGION}:{DEFAULT_ACCOUNT_ID}:dr-alarms"}
    if secret_output and replica_secret:
        outputs["SecretArn"] = replica_secret
    _create_stack(clients, stack_name, outputs)
    return DrDeployed(clients=clients, stack_name=stack_name, key_arn=key["Arn"],
                      foundation_key_arn=foundation["Arn"], replica=replica, parameter=parameter)


@functools.cache
def _clients(region: str) -> Clients:
    """The CLI's clients (ops.aws: its retries and timeouts) in `region`, made once for the run
    from the shared session: every module's mock reuses them (otherwise ~1 s of models and
    clients per module)."""
    return make_clients(SESSION, region=region)


@contextmanager
def mocked_aws() -> Iterator[Clients]:
    """moto's in-process mock for a whole test module, with the RDS and Secrets Manager fidelity
    extensions the operations meet (`local_aws.fidelity`: promotion detaches the replica, a
    cross-region replica can be deleted, a secret's replica keeps its key); yields clients. No
    caller setting (endpoint, profile) leaks in. Starting the mock costs ~0.2 s, so tests share
    it and restore a deployed state instead (`fresh_environment`)."""
    with _mock():
        yield _clients(REGION)


@contextmanager
def mocked_two_regions() -> Iterator[tuple[Clients, Clients]]:
    """`mocked_aws()` with clients for the primary region and the DR region."""
    with _mock():
        yield _clients(REGION), _clients(DR_REGION)


@contextmanager
def _mock() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION"):
            patch.delenv(name, raising=False)
        lighten(patch)
        with mock_aws(), fidelity.installed(only=("rds-promote-read-replica",
                                                  "rds-cross-region-replica",
                                                  "secretsmanager-replica-kms-key")):
            _DEPLOYED.clear()
            try:
                yield
            finally:
                _DEPLOYED.clear()


#: The mock's deployed environments, by what built them: the moto state right after the deploy
#: and the handles on it (cleared with the mock).
_DEPLOYED: dict[Hashable, tuple[State, Deployed]] = {}


def _deployed(key: Hashable, build: Callable[[], Deployed]) -> Deployed:
    """`build()` on an empty mock the first time `key` is asked for; then its state restored
    (~10 ms instead of the ~0.15-0.3 s of a deploy through the API). A new clock each time."""
    if key not in _DEPLOYED:
        restore([])  # every backend empty
        env = build()
        _DEPLOYED[key] = (capture(), env)
    state, env = _DEPLOYED[key]
    restore(state)
    return dataclasses.replace(env, replicas=list(env.replicas), clock=FakeClock(),
                               dr=dataclasses.replace(env.dr) if env.dr else None)


def fresh_environment(clients: Clients, monkeypatch: pytest.MonkeyPatch, *,
                      config: DatabaseConfig | None = None, replica_outputs: bool = True,
                      then: Callable[[Deployed], Any] | None = None) -> Deployed:
    """An empty mock, then `deploy()` and `then(env)` (e.g. a parameter group of the writer's
    own; a module-level function: it is part of the key); the CLI reads `config` as the env's
    config for the test. Built once per mock and restored afterwards: the same arguments give
    the same state, ids included."""
    cfg = config or local_config()
    monkeypatch.setitem(ENVIRONMENTS, cfg.name, cfg)

    def build() -> Deployed:
        env = deploy(clients=clients, config=cfg, replica_outputs=replica_outputs)
        if then is not None:
            then(env)
        return env

    return _deployed((clients.region, cfg, replica_outputs, then), build)


def fresh_dr_environment(clients: Clients, dr_clients: Clients, monkeypatch: pytest.MonkeyPatch,
                         *, config: DatabaseConfig | None = None,
                         then: Callable[[Deployed], Any] | None = None, **dr: bool) -> Deployed:
    """`fresh_environment` of an env with a DR region, plus `deploy_dr(**dr)`, then `then`."""
    cfg = config or dr_config()
    monkeypatch.setitem(ENVIRONMENTS, cfg.name, cfg)

    def build() -> Deployed:
        env = deploy(clients=clients, config=cfg)
        env.dr = deploy_dr(env, clients=dr_clients, **dr)
        if then is not None:
            then(env)
        return env

    return _deployed((clients.region, dr_clients.region, cfg, tuple(sorted(dr.items())), then),
                     build)


@pytest.fixture
def topology(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own config/topology.json (not yet written): what `--record` writes and what
    the runbooks and `with_declared_topology` read."""
    path = tmp_path / "topology.json"
    monkeypatch.setenv(TOPOLOGY_FILE_VARIABLE, str(path))
    return path


class PromoteSpy:
    """Replaces moto's (fidelity) promotion: counts calls, can fail or leave RDS 'modifying'."""

    def __init__(self, *, fail: int = 0, complete: bool = True,
                 error: str = "InvalidParameterCombination") -> None:
        self.calls: list[str] = []
        self.fail, self.complete, self.error = fail, complete, error

    def __call__(self, backend: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
        identifier = db_kwargs["db_instance_identifier"]
        self.calls.append(identifier)
        if len(self.calls) <= self.fail:
            raise RDSClientError(self.error, "simulated promotion error")
        if self.complete:
            return promote_read_replica(backend, db_kwargs)
        database = backend.databases[identifier]
        database.status = "modifying"  # RDS is still promoting: source kept, not available
        return database

    def install(self, monkeypatch: pytest.MonkeyPatch) -> PromoteSpy:
        def method(backend: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
            return self(backend, db_kwargs)

        monkeypatch.setattr(RDSBackend, "promote_read_replica", method)
        return self


def finish_promotion(env: Deployed, identifier: str) -> None:
    """What RDS does when a slow promotion completes."""
    env.db(identifier).status = "available"
    backend = env.dr_backend if identifier in env.dr_backend.databases else env.backend
    promote_read_replica(backend, {"db_instance_identifier": identifier})
