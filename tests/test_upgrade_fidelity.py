"""The emulator's engine-upgrade and blue/green extensions: each call behaves like moto without
the extension and like RDS with it (local_aws/fidelity/rds_engine_upgrade.py and
rds_blue_green.py name the AWS behaviour). In-process (`moto.mock_aws`), milliseconds each."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_aws import fidelity
from tests.moto_fixtures import client, plain_moto  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.filterwarnings("ignore:Tried to parse .* not supported:UserWarning"),
              pytest.mark.usefixtures("plain_moto")]

REGION, DR_REGION = "us-east-1", "us-west-2"
UPGRADE, BLUE_GREEN = ("rds-engine-upgrade",), ("rds-blue-green",)
STACKS = ("rds-db-instance", "cfn-stack-update", "rds-option-group")


def rds(region: str = REGION) -> Any:
    return client("rds", region)


def version(identifier: str, region: str = REGION) -> str:
    return str(describe(identifier, region)["EngineVersion"])


def describe(identifier: str, region: str = REGION) -> dict[str, Any]:
    return dict(rds(region).describe_db_instances(DBInstanceIdentifier=identifier)[
        "DBInstances"][0])


def writer_and_replica(engine: str = "mysql", engine_version: str = "8.0.43", *,
                       cross_region: bool = False) -> None:
    rds().create_db_instance(
        DBInstanceIdentifier="w", Engine=engine, EngineVersion=engine_version,
        DBInstanceClass="db.t4g.medium", MasterUsername="dbadmin",
        MasterUserPassword="Sup3r-Secret-1", AllocatedStorage=20, BackupRetentionPeriod=7)
    rds().create_db_instance_read_replica(DBInstanceIdentifier="r", SourceDBInstanceIdentifier="w")
    if cross_region:
        rds(DR_REGION).create_db_instance_read_replica(
            DBInstanceIdentifier="x", SourceDBInstanceIdentifier=describe("w")["DBInstanceArn"],
            SourceRegion=REGION)


def group(name: str, family: str, region: str = REGION) -> str:
    rds(region).create_db_parameter_group(DBParameterGroupName=name,
                                          DBParameterGroupFamily=family, Description=name)
    return name


def upgrade(identifier: str, to: str, **extra: Any) -> None:
    rds().modify_db_instance(DBInstanceIdentifier=identifier, EngineVersion=to,
                             ApplyImmediately=True, **extra)


# --- ModifyDBInstance ------------------------------------------------------------------------------

def test_moto_upgrades_a_writer_before_its_replica() -> None:
    writer_and_replica()
    upgrade("w", "8.4.10", AllowMajorVersionUpgrade=True)
    assert (version("w"), version("r")) == ("8.4.10", "8.0.43")  # RDS refuses this


@pytest.mark.parametrize(("who", "to", "extra", "code", "message"), [
    ("w", "8.4.10", {"AllowMajorVersionUpgrade": True}, "DBUpgradeDependencyFailure",
     "One or more of the DB Instance's read replicas need to be upgraded: r"),
    ("w", "8.0.44", {}, "DBUpgradeDependencyFailure",
     "One or more of the DB Instance's read replicas need to be upgraded: r"),
    ("w", "8.0.40", {}, "InvalidParameterCombination", "Cannot upgrade mysql from 8.0.43 to 8.0.40"),
    ("r", "8.4.10", {}, "InvalidParameterCombination",
     "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version."),
    ("r", "8.4.10", {"AllowMajorVersionUpgrade": True, "DBParameterGroupName": "old"},
     "InvalidParameterCombination", "The parameter group old with DBParameterGroupFamily "
     "mysql8.0 can't be used for this instance. Use a parameter group with "
     "DBParameterGroupFamily mysql8.4."),
], ids=["writer first (major)", "writer first (minor)", "downgrade", "no flag", "old family"])
def test_refuses_what_rds_refuses(who: str, to: str, extra: dict[str, Any], code: str,
                                  message: str) -> None:
    writer_and_replica()
    group("old", "mysql8.0")
    with fidelity.installed(only=UPGRADE), pytest.raises(ClientError) as error:
        upgrade(who, to, **extra)
    assert (error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]) == (
        code, message)
    assert (version("w"), version("r")) == ("8.0.43", "8.0.43")


def test_upgrades_the_replicas_then_the_writer() -> None:
    writer_and_replica(cross_region=True)
    group("new", "mysql8.4")
    group("new", "mysql8.4", DR_REGION)
    with fidelity.installed(only=UPGRADE):
        upgrade("r", "8.4.10", AllowMajorVersionUpgrade=True, DBParameterGroupName="new")
        rds(DR_REGION).modify_db_instance(DBInstanceIdentifier="x", EngineVersion="8.4.10",
                                          AllowMajorVersionUpgrade=True,
                                          DBParameterGroupName="new")
        upgrade("w", "8.4.10", AllowMajorVersionUpgrade=True, DBParameterGroupName="new")
    assert {version("w"), version("r"), version("x", DR_REGION)} == {"8.4.10"}


def test_moto_leaves_postgres_replicas_behind_their_upgraded_writer() -> None:
    writer_and_replica("postgres", "17.6", cross_region=True)
    upgrade("w", "18.3", AllowMajorVersionUpgrade=True)
    assert (version("r"), describe("x", DR_REGION).get("StatusInfos")) == ("17.6", None)


def test_a_postgres_major_upgrade_carries_the_same_region_replica_only() -> None:
    writer_and_replica("postgres", "17.6", cross_region=True)
    with fidelity.installed(only=UPGRADE):
        with pytest.raises(ClientError, match="r is a read replica: RDS upgrades a postgres read "
                                              "replica to a new major version only with its "
                                              "source"):
            upgrade("r", "18.3", AllowMajorVersionUpgrade=True)
        upgrade("w", "18.3", AllowMajorVersionUpgrade=True)
    assert (version("w"), version("r"), version("x", DR_REGION)) == ("18.3", "18.3", "17.6")
    assert describe("x", DR_REGION)["StatusInfos"][0]["Status"] == "error"


# --- stack updates ---------------------------------------------------------------------------------

MYSQL = {"Engine": "mysql", "MasterUsername": "dbadmin", "MasterUserPassword": "Sup3r-Secret-1",
         "BackupRetentionPeriod": 7}


def _template(writer: str, replica: str, *, family: str = "mysql8.0") -> dict[str, Any]:
    def instance(identifier: str, engine_version: str, **props: Any) -> dict[str, Any]:
        return {"Type": "AWS::RDS::DBInstance", "Properties": {
            "DBInstanceIdentifier": identifier, "DBInstanceClass": "db.t4g.medium",
            "AllocatedStorage": "20", "EngineVersion": engine_version,
            "AllowMajorVersionUpgrade": True, "DBParameterGroupName": {"Ref": "Params"},
            **props}}

    return {"Resources": {
        "Params": {"Type": "AWS::RDS::DBParameterGroup", "Properties": {
            "Family": family, "Description": "TLS", "Parameters": {
                "require_secure_transport": "1"}}},
        "Writer": instance("w", writer, **MYSQL),
        "Replica": instance("r", replica, SourceDBInstanceIdentifier={"Ref": "Writer"})}}


def _stack(name: str, template: dict[str, Any], *, update: bool = False) -> None:
    cloudformation = client("cloudformation")
    call = cloudformation.update_stack if update else cloudformation.create_stack
    call(StackName=name, TemplateBody=json.dumps(template))


def test_a_stack_update_cannot_change_the_version_in_moto() -> None:
    with fidelity.installed(only=STACKS):
        _stack("Db", _template("8.0.43", "8.0.43"))
        with pytest.raises(ClientError, match="Params \\(AWS::RDS::DBParameterGroup\\): the "
                                              "emulator cannot update this type in place"):
            _stack("Db", _template("8.0.43", "8.4.10", family="mysql8.4"), update=True)
    assert version("r") == "8.0.43"


def test_stack_updates_upgrade_in_the_order_rds_accepts() -> None:
    with fidelity.installed(only=STACKS + UPGRADE):
        _stack("Db", _template("8.0.43", "8.0.43"))
        before = describe("r")["DBParameterGroups"][0]["DBParameterGroupName"]
        _stack("Db", _template("8.0.43", "8.4.10", family="mysql8.4"), update=True)
        after = describe("r")["DBParameterGroups"][0]["DBParameterGroupName"]
        _stack("Db", _template("8.4.10", "8.4.10", family="mysql8.4"), update=True)
    assert (version("w"), version("r")) == ("8.4.10", "8.4.10")
    assert after != before  # a new group replaced the old family's, the instance moved to it
    family = rds().describe_db_parameter_groups(DBParameterGroupName=after)[
        "DBParameterGroups"][0]["DBParameterGroupFamily"]
    assert family == "mysql8.4"


def test_a_stack_update_of_the_writer_first_fails_as_on_aws() -> None:
    with fidelity.installed(only=STACKS + UPGRADE):
        _stack("Db", _template("8.0.43", "8.0.43"))
        with pytest.raises(ClientError, match="One or more of the DB Instance's read replicas "
                                              "need to be upgraded: r"):
            _stack("Db", _template("8.4.10", "8.4.10", family="mysql8.4"), update=True)
    assert version("w") == "8.0.43"
    stack = client("cloudformation").describe_stacks(StackName="Db")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_FAILED"


def test_option_groups_of_the_majors_rds_runs() -> None:
    arguments = {"OptionGroupName": "audit", "EngineName": "mysql", "MajorEngineVersion": "8.4",
                 "OptionGroupDescription": "audit plugin"}
    with pytest.raises(ClientError, match="Cannot find major version 8.4 for mysql"):
        rds().create_option_group(**arguments)  # moto's table stops at 8.0
    with fidelity.installed(only=UPGRADE):
        rds().create_option_group(**arguments)
        with pytest.raises(ClientError, match="Cannot find major version 7.9 for mysql"):
            rds().create_option_group(**{**arguments, "OptionGroupName": "b",
                                         "MajorEngineVersion": "7.9"})
    assert rds().describe_option_groups(OptionGroupName="audit")["OptionGroupsList"][0][
        "MajorEngineVersion"] == "8.4"


# --- blue/green --------------------------------------------------------------------------------------

def _create(target: str = "8.4.10", **extra: Any) -> dict[str, Any]:
    return dict(rds().create_blue_green_deployment(
        BlueGreenDeploymentName="up", Source=describe("w")["DBInstanceArn"],
        TargetEngineVersion=target, **extra)["BlueGreenDeployment"])


def _switch(deployment: dict[str, Any]) -> None:
    rds().switchover_blue_green_deployment(
        BlueGreenDeploymentIdentifier=deployment["BlueGreenDeploymentIdentifier"])


def _names() -> dict[str, tuple[str, str | None]]:
    return {d["DBInstanceIdentifier"]: (d["EngineVersion"],
                                        d.get("ReadReplicaSourceDBInstanceIdentifier"))
            for d in rds().describe_db_instances()["DBInstances"]}


def test_moto_blue_green_copies_the_writer_only_and_breaks_the_replicas_link() -> None:
    writer_and_replica()
    _switch(_create())
    names = _names()
    assert sorted(names) == ["r", "w", "w-old1"]  # no green replica, no r-old1
    assert names["r"] == ("8.0.43", "w")  # it follows the green writer now, on the old version


def test_blue_green_copies_every_member_and_switches_them_all() -> None:
    writer_and_replica()
    with fidelity.installed(only=BLUE_GREEN):
        deployment = _create(TargetDBParameterGroupName=group("green", "mysql8.4"))
        assert len(deployment["SwitchoverDetails"]) == 2
        assert {t["Name"] for t in deployment["Tasks"]} >= {"CREATING_TOPOLOGY_OF_SOURCE",
                                                            "DB_ENGINE_VERSION_UPGRADE"}
        _switch(deployment)
    assert _names() == {"w-old1": ("8.0.43", None), "r-old1": ("8.0.43", "w-old1"),
                        "w": ("8.4.10", None), "r": ("8.4.10", "w")}
    assert describe("w")["DBParameterGroups"][0]["DBParameterGroupName"] == "green"
    found = rds().describe_blue_green_deployments()["BlueGreenDeployments"][0]
    assert found["Status"] == "SWITCHOVER_COMPLETED"
    assert [d["TargetMember"].rsplit(":", 1)[-1] for d in found["SwitchoverDetails"]] == [
        "w", "r"]


def test_a_major_blue_green_without_a_group_takes_the_targets_default_family() -> None:
    writer_and_replica()
    with fidelity.installed(only=BLUE_GREEN):
        deployment = _create()
    green = deployment["SwitchoverDetails"][0]["TargetMember"].rsplit(":", 1)[-1]
    assert describe(green)["DBParameterGroups"][0]["DBParameterGroupName"] == \
        "default.mysql8.4"


@pytest.mark.parametrize(("setup", "target", "extra", "message"), [
    ("cross-region", "8.4.10", {}, "blue/green deployments aren't supported for cross-Region "
                                   "read replicas: w has x"),
    ("", "8.0.40", {}, "the target 8.0.40 is not newer than w's 8.0.43"),
    ("", "8.4.10", {"TargetDBParameterGroupName": "old"},
     "The parameter group old with DBParameterGroupFamily mysql8.0 can't be used"),
], ids=["cross-region replica", "older target", "old family"])
def test_blue_green_refuses_what_rds_refuses(setup: str, target: str, extra: dict[str, Any],
                                             message: str) -> None:
    writer_and_replica(cross_region=setup == "cross-region")
    group("old", "mysql8.0")
    with fidelity.installed(only=BLUE_GREEN), pytest.raises(ClientError, match=message):
        _create(target, **extra)
    assert rds().describe_blue_green_deployments()["BlueGreenDeployments"] == []


def test_delete_target_deletes_the_green_replicas_too() -> None:
    writer_and_replica()
    with fidelity.installed(only=BLUE_GREEN):
        deployment = _create()
        rds().delete_blue_green_deployment(
            BlueGreenDeploymentIdentifier=deployment["BlueGreenDeploymentIdentifier"],
            DeleteTarget=True)
    assert sorted(_names()) == ["r", "w"]


def test_uninstall_restores_moto_exactly() -> None:
    from moto.rds.models import BlueGreenDeployment, DBParameterGroup, RDSBackend

    from local_aws.fidelity.rds_db_instance import DBInstanceModel
    from local_aws.fidelity.rds_option_group import OptionGroupModel

    def patched() -> tuple[Any, ...]:
        return (RDSBackend.modify_db_instance, RDSBackend.create_option_group,
                RDSBackend.create_blue_green_deployment, RDSBackend.delete_blue_green_deployment,
                BlueGreenDeployment.switchover, DBInstanceModel.update_from_cloudformation_json,
                DBParameterGroup.update_from_cloudformation_json,
                OptionGroupModel.update_from_cloudformation_json)

    before = patched()
    with fidelity.installed(only=UPGRADE + BLUE_GREEN):
        assert all(now != then for now, then in zip(patched(), before, strict=True))
    assert patched() == before


# --- blue/green with real PostgreSQL servers (rds_postgres_engine attached) ----------------------

def _rows(engine: Any, identifier: str) -> list[int]:
    import psycopg

    endpoint = describe(identifier)["Endpoint"]
    with psycopg.connect(host=endpoint["Address"], port=endpoint["Port"], user="dbadmin",
                         password=PG_PASSWORD, dbname="app", autocommit=True, connect_timeout=5,
                         sslmode="verify-full", sslrootcert=str(engine.ca_file)) as session:
        return [row[0] for row in session.execute("SELECT i FROM t ORDER BY i").fetchall()]


def _write(engine: Any, identifier: str, statement: str) -> None:
    import psycopg

    endpoint = describe(identifier)["Endpoint"]
    with psycopg.connect(host=endpoint["Address"], port=endpoint["Port"], user="dbadmin",
                         password=PG_PASSWORD, dbname="app", autocommit=True, connect_timeout=5,
                         sslmode="verify-full", sslrootcert=str(engine.ca_file)) as session:
        session.execute(statement)


def _until(check: Any) -> Any:
    import time

    deadline = time.monotonic() + 10
    while (value := check()) is None or value is False:
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)
    return value


PG_PASSWORD = "bluegreen-Passw0rd"  # a test value, never a real credential


def test_a_green_writer_of_real_servers_holds_the_blue_rows_at_the_switchover(
        tmp_path: Any) -> None:
    """The gap: moto's green writer is a new instance, so with the engine it is an empty
    database and the switchover loses every row; with the extension it is a standby of the blue
    writer, promoted at the switchover, and its replica a standby of it."""
    import psycopg

    from local_aws.engine import Engine
    from local_aws.fidelity import rds_postgres_engine
    from local_aws.server import TEMPLATE_CACHE

    engine = Engine(tmp_path / "postgres", template_cache=TEMPLATE_CACHE)
    fidelity.install(only=("rds-postgres-engine", "rds-promote-read-replica", *BLUE_GREEN))
    rds_postgres_engine.attach(engine)
    try:
        rds().create_db_instance(
            DBInstanceIdentifier="pg", DBInstanceClass="db.t4g.medium", Engine="postgres",
            EngineVersion="17.8", MasterUsername="dbadmin", MasterUserPassword=PG_PASSWORD,
            DBName="app", AllocatedStorage=20, BackupRetentionPeriod=1)
        rds().create_db_instance_read_replica(DBInstanceIdentifier="pg-replica",
                                              SourceDBInstanceIdentifier="pg")
        _write(engine, "pg", "CREATE TABLE t (i int PRIMARY KEY); INSERT INTO t VALUES (1)")
        created = rds().create_blue_green_deployment(
            BlueGreenDeploymentName="pg-to-17-9", Source=describe("pg")["DBInstanceArn"],
            TargetEngineVersion="17.9")["BlueGreenDeployment"]
        _write(engine, "pg", "INSERT INTO t VALUES (2)")  # after the copy: replicated to green
        details = rds().describe_blue_green_deployments(
            BlueGreenDeploymentIdentifier=created["BlueGreenDeploymentIdentifier"])[
                "BlueGreenDeployments"][0]["SwitchoverDetails"]
        green = [d["TargetMember"].rsplit(":", 1)[-1] for d in details]
        _until(lambda: _rows(engine, green[1]) == [1, 2])  # the green replica, via green writer
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            _write(engine, green[0], "INSERT INTO t VALUES (3)")  # green follows blue

        rds().switchover_blue_green_deployment(
            BlueGreenDeploymentIdentifier=created["BlueGreenDeploymentIdentifier"])

        assert version("pg") == "17.9" and _rows(engine, "pg") == [1, 2]
        _write(engine, "pg", "INSERT INTO t VALUES (3)")  # the new writer takes writes
        _until(lambda: _rows(engine, "pg-replica") == [1, 2, 3])
        assert _rows(engine, "pg-old1") == [1, 2]  # the blue side keeps what it had
    finally:
        rds_postgres_engine.detach()
        engine.close()
