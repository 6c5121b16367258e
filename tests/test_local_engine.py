"""The emulator's PostgreSQL DB instances are real servers (local_aws/engine,
local_aws/fidelity/rds_postgres_engine.py): created through the RDS API and through
CloudFormation, replicated in the same and in another region, promoted, stopped, rebooted,
deleted, their master password changed and rotated; TLS enforced as the parameter group says.

In-process (`moto.mock_aws`) with an engine attached, shared by the module. The lifecycle of an
API instance and of a CloudFormation stack are one test each (their steps build on each other,
and xdist may send a module's tests to two workers); about eight servers in all.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_aws import fidelity
from local_aws.engine import Engine
from local_aws.fidelity import rds_postgres_engine
from local_aws.server import TEMPLATE_CACHE

pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse .* not supported:UserWarning")

REGION, DR_REGION, ACCOUNT = "us-east-1", "us-west-2", "123456789012"
PASSWORD = "first-Passw0rd"  # a test value, never a real credential
EXCLUDED = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"
_SESSION = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION)


@functools.cache
def client(service: str, region: str = REGION) -> Any:
    return _SESSION.client(service, region_name=region)


@dataclass(frozen=True)
class Local:
    engine: Engine


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    engine = Engine(tmp_path_factory.mktemp("state") / "postgres", template_cache=TEMPLATE_CACHE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        with mock_aws(), fidelity.installed():
            rds_postgres_engine.attach(engine)
            try:
                yield Local(engine)
            finally:
                rds_postgres_engine.detach()
                engine.close()


def instance(identifier: str, region: str = REGION) -> dict[str, Any]:
    found: dict[str, Any] = client("rds", region).describe_db_instances(
        DBInstanceIdentifier=identifier)["DBInstances"][0]
    return found


def session(local: Local, identifier: str, *, password: str = PASSWORD, region: str = REGION,
            user: str = "dbadmin", tls: bool = True) -> psycopg.Connection[Any]:
    endpoint = instance(identifier, region)["Endpoint"]
    return psycopg.connect(host=endpoint["Address"], port=endpoint["Port"], user=user,
                           password=password, dbname="app", autocommit=True, connect_timeout=5,
                           **({"sslmode": "verify-full", "sslrootcert": str(local.engine.ca_file)}
                              if tls else {"sslmode": "disable"}))


def wait_for_row(local: Local, identifier: str, value: int, *, region: str = REGION,
                 password: str = PASSWORD) -> None:
    import time

    with session(local, identifier, region=region, password=password) as replica:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if replica.execute("SELECT 1 FROM t WHERE i = %s", (value,)).fetchone():
                    return
            except psycopg.errors.UndefinedTable:
                pass
            time.sleep(0.05)
    raise AssertionError(f"row {value} never reached {identifier}")


def replica_lag(identifier: str) -> list[float]:
    """The `ReplicaLag` datapoints of the last minutes, as the runbooks read them."""
    now = datetime.now(UTC)
    points = client("cloudwatch").get_metric_statistics(
        Namespace="AWS/RDS", MetricName="ReplicaLag",
        Dimensions=[{"Name": "DBInstanceIdentifier", "Value": identifier}],
        StartTime=now - timedelta(minutes=5), EndTime=now + timedelta(minutes=1), Period=60,
        Statistics=["Maximum"])["Datapoints"]
    return [float(p["Maximum"]) for p in points]


def create_primary(identifier: str, **extra: Any) -> dict[str, Any]:
    created: dict[str, Any] = client("rds").create_db_instance(
        DBInstanceIdentifier=identifier, DBInstanceClass="db.t4g.medium", Engine="postgres",
        EngineVersion="16.10", MasterUsername="dbadmin", MasterUserPassword=PASSWORD,
        DBName="app", AllocatedStorage=20, **extra)["DBInstance"]
    return created


def _an_api_instance_serves_its_master_user_over_tls_only(local: Local) -> None:
    client("rds").create_db_parameter_group(
        DBParameterGroupName="pg-tls", DBParameterGroupFamily="postgres16", Description="tls")
    client("rds").modify_db_parameter_group(DBParameterGroupName="pg-tls", Parameters=[
        {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"},
        {"ParameterName": "log_min_duration_statement", "ParameterValue": "2000",
         "ApplyMethod": "immediate"},
        {"ParameterName": "rds.logical_replication", "ParameterValue": "0",
         "ApplyMethod": "immediate"}])
    create_primary("pg-primary", Port=5433, DBParameterGroupName="pg-tls")

    endpoint = instance("pg-primary")["Endpoint"]
    assert endpoint["Address"].startswith("127.0.0.") and endpoint["Port"] == 5433
    with session(local, "pg-primary") as primary:
        primary.execute("CREATE TABLE t (i int PRIMARY KEY)")
        primary.execute("INSERT INTO t VALUES (1)")
        assert primary.execute("SHOW log_min_duration_statement").fetchone() == ("2s",)
        assert primary.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, pg_has_role('rds_superuser', 'member')"
            " FROM pg_roles WHERE rolname = current_user").fetchone() == (False, True, True, True)
        assert primary.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname ="
                               " 'app'").fetchone() == ("dbadmin",)
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        session(local, "pg-primary", tls=False)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        session(local, "pg-primary", password="wrong-Passw0rd")
    with pytest.raises(psycopg.OperationalError, match='rejects connection .* "rdsadmin"'):
        session(local, "pg-primary", user="rdsadmin")


def _a_same_region_replica_streams_and_is_read_only(local: Local) -> None:
    client("rds").create_db_instance_read_replica(
        DBInstanceIdentifier="pg-replica", SourceDBInstanceIdentifier="pg-primary")
    replica = instance("pg-replica")
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == "pg-primary"
    assert replica["Endpoint"]["Port"] == 5433  # the source's
    assert replica["Endpoint"]["Address"] != instance("pg-primary")["Endpoint"]["Address"]
    with session(local, "pg-primary") as primary:
        primary.execute("INSERT INTO t VALUES (2)")
    wait_for_row(local, "pg-replica", 2)
    with session(local, "pg-replica") as read_only, \
            pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        read_only.execute("INSERT INTO t VALUES (3)")


def _a_cross_region_replica_streams_from_its_source(local: Local) -> None:
    source_arn = instance("pg-primary")["DBInstanceArn"]
    client("rds", DR_REGION).create_db_parameter_group(  # a parameter group of its own region
        DBParameterGroupName="pg-dr", DBParameterGroupFamily="postgres16", Description="dr")
    client("rds", DR_REGION).create_db_instance_read_replica(
        DBInstanceIdentifier="pg-dr-replica", SourceDBInstanceIdentifier=source_arn,
        SourceRegion=REGION, DBParameterGroupName="pg-dr")
    with session(local, "pg-primary") as primary:
        primary.execute("INSERT INTO t VALUES (4)")
    wait_for_row(local, "pg-dr-replica", 4, region=DR_REGION)
    lag = local.engine.lag(f"{ACCOUNT}/{DR_REGION}/pg-dr-replica")
    assert lag.bytes >= 0 and not lag.paused


def _a_replica_lags_while_its_replay_is_paused(local: Local) -> None:
    name = f"{ACCOUNT}/{REGION}/pg-replica"
    local.engine.pause_replay(name)
    try:
        with session(local, "pg-primary") as primary:
            primary.execute("INSERT INTO t VALUES (5)")
        lag = local.engine.lag(name)
        assert lag.paused and lag.bytes > 0
        # CloudWatch publishes the lag measured on the server; moto alone has no datapoint.
        fidelity.uninstall(only=("cloudwatch-replica-lag",))
        try:
            assert replica_lag("pg-replica") == []
        finally:
            fidelity.install(only=("cloudwatch-replica-lag",))
        assert replica_lag("pg-replica")[0] > 0
        assert len(replica_lag("pg-replica")) == 1  # one datapoint a minute, the latest
        assert replica_lag("pg-primary") == []  # a writer has no replica lag
        with session(local, "pg-replica") as replica:
            assert replica.execute("SELECT 1 FROM t WHERE i = 5").fetchone() is None
    finally:
        local.engine.resume_replay(name)
    wait_for_row(local, "pg-replica", 5)


def _promotion_keeps_every_row_and_takes_writes(local: Local) -> None:
    client("rds").promote_read_replica(DBInstanceIdentifier="pg-replica")

    assert "ReadReplicaSourceDBInstanceIdentifier" not in instance("pg-replica")
    with session(local, "pg-replica") as promoted:
        assert [r[0] for r in promoted.execute("SELECT i FROM t ORDER BY i")] == [1, 2, 4, 5]
        promoted.execute("INSERT INTO t VALUES (6)")
    with session(local, "pg-primary") as old:  # the old writer goes on, on its own
        assert old.execute("SELECT 1 FROM t WHERE i = 6").fetchone() is None


def _a_replica_of_the_promoted_writer_streams_from_it(local: Local) -> None:
    client("rds").create_db_instance_read_replica(
        DBInstanceIdentifier="pg-g1-replica", SourceDBInstanceIdentifier="pg-replica")
    with session(local, "pg-replica") as promoted:
        promoted.execute("INSERT INTO t VALUES (7)")
    wait_for_row(local, "pg-g1-replica", 7)


def _the_registry_names_every_server_and_where_the_data_is(local: Local) -> None:
    text = (local.engine.root / "registry.json").read_text()
    registry = json.loads(text)
    assert set(registry["servers"]) == {s.name for s in local.engine.servers()}
    data_root = Path(registry["data_root"])
    assert all(s.directory.parent == data_root for s in local.engine.servers())
    assert PASSWORD not in text


def _stop_start_and_reboot_act_on_the_server(local: Local) -> None:
    with pytest.raises(ClientError, match="has read replicas"):
        client("rds").stop_db_instance(DBInstanceIdentifier="pg-replica")
    client("rds").delete_db_instance(DBInstanceIdentifier="pg-g1-replica",
                                     SkipFinalSnapshot=True)
    client("rds").stop_db_instance(DBInstanceIdentifier="pg-replica")
    with pytest.raises(psycopg.OperationalError):
        session(local, "pg-replica")
    client("rds").start_db_instance(DBInstanceIdentifier="pg-replica")
    client("rds").reboot_db_instance(DBInstanceIdentifier="pg-replica")
    with session(local, "pg-replica") as again:
        assert again.execute("SELECT count(*) FROM t").fetchone() == (6,)


def _a_new_master_password_replaces_the_old_one(local: Local) -> None:
    new = "second-Passw0rd"
    client("rds").modify_db_instance(DBInstanceIdentifier="pg-replica", MasterUserPassword=new,
                                     ApplyImmediately=True)
    with session(local, "pg-replica", password=new) as ok:
        assert ok.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        session(local, "pg-replica")
    with pytest.raises(ClientError, match="MasterUserPassword must be 8 to 128 printable ASCII"):
        client("rds").modify_db_instance(DBInstanceIdentifier="pg-replica",
                                         MasterUserPassword="sh@rt", ApplyImmediately=True)


def _deletion_protection_refuses_and_delete_removes_the_server(local: Local) -> None:
    name = f"{ACCOUNT}/{REGION}/pg-primary"
    client("rds").modify_db_instance(DBInstanceIdentifier="pg-primary", DeletionProtection=True,
                                     ApplyImmediately=True)
    with pytest.raises(ClientError, match="Cannot delete protected DB Instance"):
        client("rds").delete_db_instance(DBInstanceIdentifier="pg-primary",
                                         SkipFinalSnapshot=True)
    server = local.engine.server(name)
    assert server is not None and server.running
    with session(local, "pg-primary") as still:
        assert still.execute("SELECT 1").fetchone() == (1,)

    client("rds", DR_REGION).delete_db_instance(DBInstanceIdentifier="pg-dr-replica",
                                                SkipFinalSnapshot=True)
    client("rds").modify_db_instance(DBInstanceIdentifier="pg-primary", DeletionProtection=False,
                                     ApplyImmediately=True)
    client("rds").delete_db_instance(DBInstanceIdentifier="pg-primary", SkipFinalSnapshot=True)

    assert local.engine.server(name) is None
    assert not server.directory.exists()
    with pytest.raises(psycopg.OperationalError, match="Connection refused"):
        psycopg.connect(host=server.host, port=server.port, connect_timeout=2)


def test_the_lifecycle_of_api_instances(local: Local) -> None:
    """One instance's life, each step starting from the state the one before left (xdist may
    run tests of a module on two workers, so the steps are one test)."""
    _an_api_instance_serves_its_master_user_over_tls_only(local)
    _a_same_region_replica_streams_and_is_read_only(local)
    _a_cross_region_replica_streams_from_its_source(local)
    _a_replica_lags_while_its_replay_is_paused(local)
    _promotion_keeps_every_row_and_takes_writes(local)
    _a_replica_of_the_promoted_writer_streams_from_it(local)
    _the_registry_names_every_server_and_where_the_data_is(local)
    _stop_start_and_reboot_act_on_the_server(local)
    _a_new_master_password_replaces_the_old_one(local)
    _deletion_protection_refuses_and_delete_removes_the_server(local)


@pytest.mark.parametrize(("changes", "message"), [
    ({"MasterUserPassword": "short"}, "MasterUserPassword must be 8 to 128 printable ASCII "
                                      r"characters other than / ' \" @ and space; the one given "
                                      r"\(5 characters, not shown\) is not"),
    ({"MasterUsername": "9lives"}, "MasterUsername '9lives': a letter, then up to 62 letters"),
], ids=["password", "user name"])
def test_fails_an_instance_the_engine_cannot_serve(local: Local, changes: dict[str, Any],
                                                   message: str) -> None:
    arguments = {"DBInstanceIdentifier": "pg-refused", "DBInstanceClass": "db.t4g.medium",
                 "Engine": "postgres", "MasterUsername": "dbadmin",
                 "MasterUserPassword": PASSWORD, "AllocatedStorage": 20, **changes}
    with pytest.raises(ClientError, match=message):
        client("rds").create_db_instance(**arguments)
    with pytest.raises(ClientError, match="DBInstanceNotFound"):
        instance("pg-refused")


def test_fails_and_forgets_an_instance_whose_server_cannot_start(local: Local) -> None:
    client("rds").create_db_parameter_group(
        DBParameterGroupName="pg-broken", DBParameterGroupFamily="postgres16",
        Description="a value PostgreSQL refuses")
    client("rds").modify_db_parameter_group(DBParameterGroupName="pg-broken", Parameters=[
        {"ParameterName": "work_mem", "ParameterValue": "lots", "ApplyMethod": "immediate"}])
    with pytest.raises(ClientError, match="(?s)pg-broken-db: the local PostgreSQL server could "
                                          "not be started: .*invalid value for parameter "
                                          '"work_mem"'):
        create_primary("pg-broken-db", DBParameterGroupName="pg-broken")
    with pytest.raises(ClientError, match="DBInstanceNotFound"):
        instance("pg-broken-db")
    assert not any(s.name.endswith("/pg-broken-db") for s in local.engine.servers())


STACK_TEMPLATE = {
    "Resources": {
        "Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {
            "GenerateSecretString": {"SecretStringTemplate": '{"username": "dbadmin"}',
                                     "GenerateStringKey": "password", "PasswordLength": 30,
                                     "ExcludeCharacters": EXCLUDED}}},
        "Params": {"Type": "AWS::RDS::DBParameterGroup", "Properties": {
            "Family": "postgres16", "Description": "TLS", "Parameters": {"rds.force_ssl": "1"}}},
        "Primary": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "DBInstanceIdentifier": "cfn-primary", "DBInstanceClass": "db.t4g.medium",
            "AllocatedStorage": "20", "Engine": "postgres", "EngineVersion": "16.10",
            "DBName": "app", "DBParameterGroupName": {"Ref": "Params"},
            "MasterUsername": {"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "Secret"},
                                                 ":SecretString:username::}}"]]},
            "MasterUserPassword": {"Fn::Join": ["", ["{{resolve:secretsmanager:",
                                                     {"Ref": "Secret"},
                                                     ":SecretString:password::}}"]]}}},
        "Replica": {"Type": "AWS::RDS::DBInstance", "Properties": {
            "DBInstanceIdentifier": "cfn-replica", "DBInstanceClass": "db.t4g.medium",
            "DBParameterGroupName": {"Ref": "Params"},
            "SourceDBInstanceIdentifier": {"Fn::Join": ["", [
                "arn:aws:rds:us-east-1:123456789012:db:", {"Ref": "Primary"}]]}}},
        "Attachment": {"Type": "AWS::SecretsManager::SecretTargetAttachment", "Properties": {
            "SecretId": {"Ref": "Secret"}, "TargetId": {"Ref": "Primary"},
            "TargetType": "AWS::RDS::DBInstance"}},
        "Rotation": {"Type": "AWS::SecretsManager::RotationSchedule", "Properties": {
            "SecretId": {"Ref": "Attachment"},
            "HostedRotationLambda": {"RotationType": "PostgreSQLSingleUser",
                                     "ExcludeCharacters": EXCLUDED},
            "RotationRules": {"ScheduleExpression": "rate(30 days)"}}},
    },
    "Outputs": {"Secret": {"Value": {"Ref": "Attachment"}}},
}


def _secret(arn: str, stage: str | None = None) -> dict[str, Any]:
    """The secret's value as a client reads it (AWSCURRENT unless `stage` says otherwise)."""
    value = client("secretsmanager").get_secret_value(
        SecretId=arn, **({"VersionStage": stage} if stage else {}))
    document: dict[str, Any] = json.loads(value["SecretString"])
    return document


def _a_cloudformation_instance_logs_in_with_the_resolved_secret(local: Local) -> None:
    cfn = client("cloudformation")
    cfn.create_stack(StackName="Db", TemplateBody=json.dumps(STACK_TEMPLATE))
    stack = cfn.describe_stacks(StackName="Db")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    arn = stack["Outputs"][0]["OutputValue"]
    document = _secret(arn)
    primary = instance("cfn-primary")["Endpoint"]
    assert (document["host"], document["port"]) == (primary["Address"], 5432)

    with session(local, "cfn-primary", password=document["password"]) as writer:
        writer.execute("CREATE TABLE t (i int PRIMARY KEY)")
        writer.execute("INSERT INTO t VALUES (1)")
    wait_for_row(local, "cfn-replica", 1, password=document["password"])


def _rotation_changes_the_password_and_the_old_one_fails(local: Local) -> None:
    arn = client("cloudformation").describe_stacks(StackName="Db")["Stacks"][0][
        "Outputs"][0]["OutputValue"]
    before = _secret(arn)

    rotated = client("secretsmanager").rotate_secret(SecretId=arn)

    after = _secret(arn)
    assert after["password"] != before["password"]
    assert {k: v for k, v in after.items() if k != "password"} == \
           {k: v for k, v in before.items() if k != "password"}
    assert not set(after["password"]) & set(EXCLUDED)
    assert _secret(arn, "AWSPREVIOUS") == before
    versions = client("secretsmanager").list_secret_version_ids(SecretId=arn)["Versions"]
    current = next(v for v in versions if "AWSCURRENT" in v["VersionStages"])
    assert current["VersionId"] == rotated["VersionId"]
    assert current["VersionStages"] == ["AWSCURRENT"]
    with session(local, "cfn-primary", password=after["password"]) as ok:
        assert ok.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        session(local, "cfn-primary", password=before["password"])
    with session(local, "cfn-replica", password=after["password"]) as replica:  # replicated
        assert replica.execute("SELECT count(*) FROM t").fetchone() == (1,)

    client("secretsmanager").rotate_secret(SecretId=arn)  # and again, from the new version
    again = _secret(arn)
    assert again["password"] not in (before["password"], after["password"])
    assert _secret(arn, "AWSPREVIOUS") == after
    with session(local, "cfn-primary", password=again["password"]) as ok:
        assert ok.execute("SELECT 1").fetchone() == (1,)


def _a_stack_update_that_removes_the_source_promotes_the_replica(local: Local) -> None:
    template = json.loads(json.dumps(STACK_TEMPLATE))
    del template["Resources"]["Replica"]["Properties"]["SourceDBInstanceIdentifier"]
    cfn = client("cloudformation")
    cfn.update_stack(StackName="Db", TemplateBody=json.dumps(template))
    assert cfn.describe_stacks(StackName="Db")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    password = _secret(cfn.describe_stacks(StackName="Db")["Stacks"][0]["Outputs"][0][
        "OutputValue"])["password"]
    with session(local, "cfn-replica", password=password) as promoted:
        promoted.execute("INSERT INTO t VALUES (2)")
        assert promoted.execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_a_cloudformation_stack_with_the_generated_secret(local: Local) -> None:
    """Created from a template as `make deploy` creates it, rotated twice, promoted by a stack
    update (one test: each step starts from the one before)."""
    _a_cloudformation_instance_logs_in_with_the_resolved_secret(local)
    _rotation_changes_the_password_and_the_old_one_fails(local)
    _a_stack_update_that_removes_the_source_promotes_the_replica(local)


def test_without_an_engine_a_postgres_instance_stays_a_record(local: Local) -> None:
    engine = rds_postgres_engine.detach()
    try:
        create_primary("pg-record")
        assert instance("pg-record")["Endpoint"]["Address"] == \
            "pg-record.aaaaaaaaaa.us-east-1.rds.amazonaws.com"
    finally:
        assert engine is not None
        rds_postgres_engine.attach(engine)
    assert not any(s.name.endswith("/pg-record") for s in local.engine.servers())


@pytest.mark.parametrize(("engine", "says"), [
    ("postgres", "a real PostgreSQL server per instance"),
    ("mysql", "a record only, no engine runs"),
])
def test_the_deploy_summary_names_what_the_engine_in_use_is(tmp_path: Path, engine: str,
                                                            says: str) -> None:
    from cloud_assembly import StackArtifact
    from local_aws.report import emulation_limits

    limits: dict[str, str] = {}
    for extension in fidelity.EXTENSIONS:
        limits.update(extension.property_limits)
    template = tmp_path / "Db.template.json"
    template.write_text(json.dumps({"Resources": {"Primary": {
        "Type": "AWS::RDS::DBInstance", "Properties": {"Engine": engine, "Port": 5432}}}}))
    stack = StackArtifact(artifact_id="Db", path="Db", name="Db", account=ACCOUNT,
                          region=REGION, template_file=template, dependencies=())

    reported = emulation_limits([stack], limits)

    assert [k for k in reported if ".Engine=" in k] == [f"AWS::RDS::DBInstance.Engine={engine}"]
    assert reported[f"AWS::RDS::DBInstance.Engine={engine}"].startswith(says)


@pytest.mark.parametrize(("version", "tls_only"), [
    ("16.10", True), ("15.2", True), ("14.12", False), (None, True)])
def test_tls_is_required_by_default_from_postgresql_15(version: str | None,
                                                       tls_only: bool) -> None:
    assert rds_postgres_engine._force_ssl_default(version) is tls_only


def test_programs_the_servers_user_cannot_reach_are_copied_once_where_it_can(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As root with a checkout in a private home, the unprivileged user runs a copy."""
    from local_aws.engine import _process

    private = tmp_path / "home"
    (private / "install" / "bin").mkdir(parents=True)
    (private / "install" / "bin" / "postgres").write_text("#!/bin/sh\n")
    private.chmod(0o700)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(_process, "binaries", lambda: private / "install" / "bin")
    monkeypatch.setattr(_process, "version", lambda: "17.10")
    monkeypatch.setattr(_process.tempfile, "gettempdir", lambda: str(scratch))
    nobody = 65534

    staged = _process._staged_binaries(nobody, nobody)

    assert staged == scratch / "local-aws-postgres-17.10" / "bin"
    assert (staged / "postgres").read_text() == "#!/bin/sh\n"
    assert _process._staged_binaries(nobody, nobody) == staged
    assert sorted(p.name for p in scratch.iterdir()) == ["local-aws-postgres-17.10"]
    assert _process._staged_binaries(os.geteuid(), os.getegid()) == private / "install" / "bin"
