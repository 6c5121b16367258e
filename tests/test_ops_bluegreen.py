"""`python -m ops bluegreen` against moto's in-process mock with the emulator's blue/green and
engine-upgrade extensions (the green environment copies the writer and its replicas; the
switchover renames every member). Every path and fault: dry run, the switchover, re-runs, each
refusal (a configuration blue/green does not support, a lagging or unhealthy green), a
switchover that times out or fails. Time is a fake clock."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.rds.models import RDSBackend

from config import ENVIRONMENTS
from config.schema import ExtendedSupport
from local_aws import fidelity
from ops.aws import Clients
from ops.bluegreen import deployment_name
from ops.cli import main
from tests import ops_fixtures
from tests.ops_fixtures import (
    MYSQL,
    PASSWORD,
    Deployed,
    dr_config,
    fresh_dr_environment,
    fresh_environment,
    local_config,
    mocked_two_regions,
)

topology = ops_fixtures.topology  # the fixture, by the name the tests ask for

OLD, NEW = "8.0.43", "8.4.10"
#: env local as a MySQL environment (it runs PostgreSQL): the schema's MySQL defaults.
PAYING = ExtendedSupport(reason="The vendor certifies its application on MySQL 8.0 until 2027")
GROUP = "local-mysql-primary-params"
NAME = deployment_name("local-mysql-primary", NEW)


@pytest.fixture(scope="module")
def aws() -> Iterator[tuple[Clients, Clients]]:
    with mocked_two_regions() as clients, fidelity.installed(
            only=("rds-engine-upgrade", "rds-blue-green", "rds-promote-read-replica")):
        yield clients


def with_own_parameter_group(env: Deployed) -> None:
    """The writer in a parameter group of its own that requires TLS, as the stacks give it."""
    rds = env.clients.rds
    rds.create_db_parameter_group(DBParameterGroupName=GROUP, DBParameterGroupFamily="mysql8.0",
                                  Description="TLS required")
    rds.modify_db_parameter_group(DBParameterGroupName=GROUP, Parameters=[
        {"ParameterName": "require_secure_transport", "ParameterValue": "1",
         "ApplyMethod": "immediate"}])
    rds.modify_db_instance(DBInstanceIdentifier=env.primary, DBParameterGroupName=GROUP,
                           ApplyImmediately=True)


@pytest.fixture
def env(aws: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch,
        topology: Path) -> Deployed:
    return fresh_environment(aws[0], monkeypatch, config=local_config(
        **MYSQL, engine_version=OLD, extended_support=PAYING), then=with_own_parameter_group)


def run(env: Deployed, *argv: str, deploy: Any = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["bluegreen", "--env", env.config.name, *argv], out=out, err=err,
                clock=env.clock, clients=env.clients, factory=env.factory, deploy=deploy)
    assert PASSWORD not in out.getvalue() + err.getvalue(), "the password was printed"
    return code, out.getvalue(), err.getvalue()


def deployments(env: Deployed) -> list[dict[str, Any]]:
    return list(env.clients.rds.describe_blue_green_deployments()["BlueGreenDeployments"])


def create_by_hand(env: Deployed) -> dict[str, Any]:
    """The deployment a first run made and was interrupted after (AVAILABLE)."""
    arn = env.describe(env.primary)["DBInstanceArn"]
    return dict(env.clients.rds.create_blue_green_deployment(
        BlueGreenDeploymentName=NAME, Source=arn, TargetEngineVersion=NEW)[
            "BlueGreenDeployment"])


def greens(deployment: dict[str, Any]) -> list[str]:
    return [d["TargetMember"].rsplit(":", 1)[-1] for d in deployment["SwitchoverDetails"]]


# --- the upgrade ---------------------------------------------------------------------------------

def test_dry_run_prints_the_plan_and_changes_nothing(env: Deployed) -> None:
    code, out, err = run(env, "--target-version", NEW, "--dry-run")

    assert (code, err) == (0, "")
    assert out.startswith(f"Blue/green plan for env local (us-east-1): mysql {OLD} -> {NEW}\n"
                          "  blue:      writer local-mysql-primary, replicas "
                          "local-mysql-replica-1\n  steps:\n")
    assert (f"    1. create blue/green deployment {NAME}: green copies of every member on {NEW},"
            " with parameter group local-mysql-primary-mysql8-4 (a copy of "
            "local-mysql-primary-params's parameters, family mysql8.4)\n") in out
    assert "typically under a minute, with no data loss (RDS user guide, 'Overview of Amazon " \
           "RDS Blue/Green Deployments')" in out
    assert out.endswith("Dry run: nothing was changed.\n")
    assert deployments(env) == []
    assert env.describe(env.primary)["EngineVersion"] == OLD


def test_switches_over_to_the_upgraded_green_and_keeps_the_blue_side(
        env: Deployed, topology: Path) -> None:
    before = env.parameter_value()

    code, out, err = run(env, "--target-version", NEW, "--poll", "1")

    assert (code, err) == (0, "")
    writer = env.describe(env.primary)
    assert writer["EngineVersion"] == NEW  # the green writer, under the writer's name
    assert writer["DBParameterGroups"][0]["DBParameterGroupName"] == \
        "local-mysql-primary-mysql8-4"
    assert env.describe(env.replicas[0])["EngineVersion"] == NEW
    assert env.describe(env.replicas[0])["ReadReplicaSourceDBInstanceIdentifier"] == env.primary
    old = env.describe(f"{env.primary}-old1")
    assert (old["EngineVersion"], old["DeletionProtection"]) == (OLD, True)
    assert env.describe(f"{env.replicas[0]}-old1")["ReadReplicaSourceDBInstanceIdentifier"] \
        == f"{env.primary}-old1"
    # The green group carries the writer's parameters (TLS required) in the new family.
    parameters = env.clients.rds.describe_db_parameters(
        DBParameterGroupName="local-mysql-primary-mysql8-4")["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in parameters} == {
        "require_secure_transport": "1"}
    # The endpoint did not change: nothing to repoint.
    assert env.parameter_value() == before
    assert f"==> SSM parameter /local-mysql/writer-endpoint names {before} already (the green " \
           "writer took the writer's name), skipped\n" in out
    assert "==> secret host/port name " in out
    assert f"==> switchover complete: local-mysql-primary runs {NEW}\n" in out
    assert "Record it with --record" in out and not topology.exists()
    identifier = deployments(env)[0]["BlueGreenDeploymentIdentifier"]
    assert f"aws rds delete-blue-green-deployment --region us-east-1 " \
           f"--blue-green-deployment-identifier {identifier}   # keeps both environments" in out
    assert "aws rds modify-db-instance --region us-east-1 --db-instance-identifier " \
           "local-mysql-primary-old1 --no-deletion-protection --apply-immediately && aws rds " \
           "delete-db-instance --region us-east-1 --db-instance-identifier " \
           "local-mysql-primary-old1 --final-db-snapshot-identifier " \
           "local-mysql-primary-old1-final" in out


def test_record_declares_the_upgraded_version(env: Deployed, topology: Path) -> None:
    code, out, _ = run(env, "--target-version", NEW, "--record")

    assert code == 0
    assert json.loads(topology.read_text()) == {"local": {
        "decommissioned": [], "promotions": [], "engine": {"engine_version": NEW}}}
    assert "Record it with --record" not in out


def test_a_re_run_after_the_switchover_only_finishes(env: Deployed, topology: Path) -> None:
    run(env, "--target-version", NEW)

    code, out, _ = run(env, "--target-version", NEW, "--record")

    assert code == 0 and len(deployments(env)) == 1
    assert f"  resuming:  {NAME} (" in out
    assert f"==> {NAME} is switched over already: resuming after it\n" in out
    assert json.loads(topology.read_text())["local"]["engine"] == {"engine_version": NEW}


def test_a_re_run_resumes_an_available_deployment(env: Deployed) -> None:
    create_by_hand(env)

    code, out, _ = run(env, "--target-version", NEW)

    assert code == 0 and len(deployments(env)) == 1
    assert env.describe(env.primary)["EngineVersion"] == NEW
    assert "==> green local-mysql-primary-green-" in out and "replica lag unknown" in out


def test_a_switchover_that_times_out_is_resumed(env: Deployed,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    requested: list[str] = []

    def slow(backend: RDSBackend, blue_green_deployment_identifier: str,
             switchover_timeout: int | None = 300) -> Any:
        requested.append(blue_green_deployment_identifier)
        deployment = backend.blue_green_deployments[blue_green_deployment_identifier]
        deployment.status = "SWITCHOVER_IN_PROGRESS"
        return deployment

    with monkeypatch.context() as patch:
        patch.setattr(RDSBackend, "switchover_blue_green_deployment", slow)
        code, out, err = run(env, "--target-version", NEW, "--timeout", "30", "--poll", "10")

    assert code == 1
    assert err.startswith(f"error: blue/green deployment {requested[0]} is still "
                          "SWITCHOVER_IN_PROGRESS after 30s: RDS goes on; re-run")
    assert env.describe(env.primary)["EngineVersion"] == OLD

    deployment = env.backend.blue_green_deployments[requested[0]]
    deployment.status = "AVAILABLE"
    deployment.switchover()  # what RDS finishes meanwhile
    code, out, _ = run(env, "--target-version", NEW)
    assert code == 0 and env.describe(env.primary)["EngineVersion"] == NEW


def test_a_failed_switchover_stops_with_what_to_do(env: Deployed,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(backend: RDSBackend, blue_green_deployment_identifier: str,
              switchover_timeout: int | None = 300) -> Any:
        deployment = backend.blue_green_deployments[blue_green_deployment_identifier]
        deployment.status = "SWITCHOVER_FAILED"
        deployment.status_details = "switchover timed out: rolled back"
        return deployment

    monkeypatch.setattr(RDSBackend, "switchover_blue_green_deployment", fails)
    code, _, err = run(env, "--target-version", NEW)

    assert code == 1
    assert "is SWITCHOVER_FAILED (switchover timed out: rolled back): nothing more was " \
           "changed" in err
    assert "--delete-target" in err and env.describe(env.primary)["EngineVersion"] == OLD


# --- with a DR replica: detach, blue/green, rebuild ------------------------------------------

DR, NEW_DR = "local-mysql-dr-replica", "local-mysql-dr-replica-r1"


class DrDeploy:
    """What `cdk deploy` does with a declared DR rebuild: the detached DR replica promoted in
    place, the new one created as a cross-region replica of the writer. `fail_at`: that call
    fails, as a failed deploy does."""

    def __init__(self, env: Deployed, *, fail_at: int | None = None) -> None:
        self.env, self.fail_at, self.stages = env, fail_at, []  # type: list[str]

    def __call__(self, stage: Any) -> None:
        from config import with_declared_topology
        from ops.errors import OpsError

        self.stages.append(stage.action)
        if self.fail_at == len(self.stages):
            raise OpsError(f"the deploy of stage {stage.number} failed (simulated)")
        layout = with_declared_topology(ENVIRONMENTS["local"]).layout
        assert self.env.dr is not None
        rds = self.env.dr.clients.rds
        if layout.detached is not None and self.env.db(layout.detached.identifier).is_replica:
            rds.promote_read_replica(DBInstanceIdentifier=layout.detached.identifier)
        standby = layout.standby
        if standby is not None and standby.identifier not in self.env.dr_backend.databases:
            rds.create_db_parameter_group(  # the DR stack's group of the new family
                DBParameterGroupName="dr-params", DBParameterGroupFamily="mysql8.4",
                Description="TLS required")
            rds.create_db_instance_read_replica(
                DBInstanceIdentifier=standby.identifier, SourceRegion="us-east-1",
                SourceDBInstanceIdentifier=self.env.describe(self.env.primary)["DBInstanceArn"],
                KmsKeyId=self.env.dr.key_arn, DeletionProtection=True,
                DBInstanceClass="db.t3.micro", DBParameterGroupName="dr-params")


@pytest.fixture
def dr_env(aws: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch,
           topology: Path) -> Deployed:
    return fresh_dr_environment(*aws, monkeypatch, config=dr_config(
        **MYSQL, engine_version=OLD, extended_support=PAYING), then=with_own_parameter_group)


def dr_instance(env: Deployed, identifier: str) -> dict[str, Any]:
    assert env.dr is not None
    found: dict[str, Any] = env.dr.clients.rds.describe_db_instances(
        DBInstanceIdentifier=identifier)["DBInstances"][0]
    return found


def test_with_a_dr_replica_detaches_switches_over_and_rebuilds_it(dr_env: Deployed,
                                                                  topology: Path) -> None:
    env, deploy = dr_env, DrDeploy(dr_env)

    code, out, err = run(env, "--target-version", NEW, "--record", deploy=deploy)

    assert (code, err) == (0, ""), out
    assert deploy.stages == ["detach", "rebuild"]
    assert json.loads(topology.read_text()) == {"local": {
        "decommissioned": [], "promotions": [], "engine": {"engine_version": NEW},
        "dr_rebuilds": [{"detached": DR, "engine_version": OLD, "phase": "rebuilt"}]}}
    assert out.index(f"==> {DR} runs {OLD}") < out.index("==> switchover requested") < \
        out.index(f"==> {NEW_DR} runs {NEW}")
    detached, rebuilt = dr_instance(env, DR), dr_instance(env, NEW_DR)
    assert (detached["EngineVersion"], detached.get("ReadReplicaSourceDBInstanceIdentifier"),
            detached["DeletionProtection"]) == (OLD, None, True)
    assert (rebuilt["EngineVersion"], rebuilt["ReadReplicaSourceDBInstanceIdentifier"]) == (
        NEW, env.describe(env.primary)["DBInstanceArn"])
    assert env.describe(env.primary)["EngineVersion"] == NEW
    assert f"Retired: {DR} (the DR replica detached before the upgrade)" in out


def test_with_a_dr_replica_the_plan_names_the_detach_and_the_rebuild(dr_env: Deployed) -> None:
    code, out, _ = run(dr_env, "--target-version", NEW, "--dry-run", deploy=DrDeploy(dr_env))

    assert code == 0
    assert f"    1. detach the DR replica {DR}: record the DR rebuild's phase 'detached' and " \
           f"deploy it (promoted in place, fenced, kept on {OLD}; blue/green does not support " \
           "a cross-Region replica)\n" in out
    assert f"    8. rebuild the DR replica of the new writer: record the phase 'rebuilt' and " \
           f"deploy it (a new replica on {NEW}; {DR} retired)\n" in out


def test_with_a_dr_replica_a_failed_rebuild_is_resumed(dr_env: Deployed,
                                                       topology: Path) -> None:
    env = dr_env
    code, _, err = run(env, "--target-version", NEW, "--record",
                       deploy=DrDeploy(env, fail_at=2))
    assert code == 1 and "the deploy of stage 2 failed (simulated)" in err
    assert env.describe(env.primary)["EngineVersion"] == NEW  # switched over
    deploy = DrDeploy(env)

    code, out, err = run(env, "--target-version", NEW, "--record", deploy=deploy)

    assert (code, err, deploy.stages) == (0, "", ["rebuild"]), out
    assert f"    1. detach the DR replica {DR} (detached DR replica already: skipped)\n" in out
    assert f"==> the DR replica {DR} is detached already, skipped\n" in out
    assert f"==> {NEW_DR} runs {NEW}" in out and len(deployments(env)) == 1

    code, out, _ = run(env, "--target-version", NEW, "--record", deploy=deploy)
    assert (code, deploy.stages) == (0, ["rebuild"])  # done: nothing more to deploy


# --- refusals (exit 3, nothing switched over) ----------------------------------------------------

def refused(env: Deployed, *argv: str) -> str:
    code, out, err = run(env, *argv)
    assert code == 3, out + err
    assert env.describe(env.primary)["EngineVersion"] == OLD
    return err


def test_refuses_a_dr_replica_to_rebuild_without_record(aws: tuple[Clients, Clients],
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       topology: Path) -> None:
    env = fresh_dr_environment(*aws, monkeypatch, config=dr_config(
        **MYSQL, engine_version=OLD, extended_support=PAYING))

    assert refused(env, "--target-version", NEW) == (
        "error: env local has the DR replica local-mysql-dr-replica, which blue/green "
        "deployments do not support: the runbook detaches it first and rebuilds it of the new "
        "writer, each a deploy of the config it records: re-run with --record\n")
    assert deployments(env) == [] and not topology.exists()


def test_refuses_a_target_that_is_not_newer(env: Deployed) -> None:
    assert refused(env, "--target-version", "8.0.40") == (
        "error: blue/green cannot upgrade env local: the target 8.0.40 is not newer than "
        "local-mysql-primary's 8.0.43: a blue/green deployment cannot change a green instance "
        "to an older version\n")


def test_refuses_postgres_major_without_logical_replication(
        aws: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch, topology: Path) -> None:
    env = fresh_environment(aws[0], monkeypatch, config=local_config(
        engine="postgres", engine_version="16.10", port=5433,
        log_exports=("postgresql", "upgrade")))
    rds = env.clients.rds
    rds.create_db_parameter_group(DBParameterGroupName=GROUP, DBParameterGroupFamily="postgres16",
                                  Description="TLS required")
    rds.modify_db_instance(DBInstanceIdentifier=env.primary, DBParameterGroupName=GROUP)

    code, out, err = run(env, "--target-version", "17.9")

    assert code == 3
    assert err == ("error: blue/green cannot upgrade env local: a PostgreSQL major version "
                   "upgrade in a blue/green deployment uses logical replication: set "
                   "rds.logical_replication=1 in local-postgres-primary's parameter group "
                   "(config: logical_replication=True, deployed; a static parameter: reboot) "
                   "first\n")


def test_refuses_a_green_that_lags(env: Deployed) -> None:
    green = greens(create_by_hand(env))[0]
    env.put_lag(green, 75)

    err = refused(env, "--target-version", NEW)

    assert err == (f"error: replica lag above the limit: green {green} (the copy of "
                   "local-mysql-primary) lags 75s behind, more than --max-lag 60s; nothing was "
                   "switched over: re-run once it has caught up\n")
    assert deployments(env)[0]["Status"] == "AVAILABLE"


def test_refuses_an_unhealthy_green(env: Deployed) -> None:
    deployment = create_by_hand(env)
    green = greens(deployment)[1]
    env.db(green).status = "incompatible-parameters"

    err = refused(env, "--target-version", NEW)

    assert err.startswith(f"error: the green environment of "
                          f"{deployment['BlueGreenDeploymentIdentifier']} is not healthy: "
                          f"{green} (the copy of local-mysql-replica-1) is "
                          f"incompatible-parameters, engine {NEW}")
    assert err.endswith(f"--blue-green-deployment-identifier "
                        f"{deployment['BlueGreenDeploymentIdentifier']} --delete-target\n")


def test_refuses_while_another_deployment_of_the_writer_exists(env: Deployed) -> None:
    create_by_hand(env)

    err = refused(env, "--target-version", "8.4.9")

    assert err.startswith(f"error: another blue/green deployment of local-mysql-primary exists:"
                          f" {NAME} (")


def test_refuses_an_unhealthy_writer(env: Deployed) -> None:
    env.db(env.primary).status = "storage-full"
    assert refused(env, "--target-version", NEW) == (
        "error: the writer local-mysql-primary is not available (status is storage-full): a "
        "blue/green deployment copies a healthy writer\n")


def test_fails_a_switchover_timeout_rds_does_not_take(env: Deployed,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run(env, "--target-version", NEW, "--switchover-timeout", "5")
    assert exit_.value.code == 2
    assert "--switchover-timeout 5: RDS takes 30 to 3600 seconds" in capsys.readouterr().err


def test_the_config_change_names_the_environments_line(env: Deployed,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENVIRONMENTS, "local", dataclasses.replace(env.config,
                                                                   engine_version=NEW))
    code, out, _ = run(env, "--target-version", NEW)
    assert code == 0
    assert "Next: config/environments.py declares engine_version='8.4.10', " \
           "replica_engine_version=None for env local already.\n" in out
    assert "Record it with --record" not in out
