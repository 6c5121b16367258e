"""`python -m ops upgrade` against moto's in-process mock with the emulator's engine-upgrade
extension (RDS's order: a writer before its replicas is refused). The deploy is a fake that does
what CloudFormation does with the recorded config: it reads config/topology.json as `cdk deploy`
would, and modifies the writer first, then its replicas, then the DR replica's stack. Every
path and fault of the runbook: dry run, both stages, re-runs, a failed deploy, a timeout, each
refusal. Time is a fake clock."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from config import ENVIRONMENTS, with_declared_topology
from config.schema import ExtendedSupport
from config.topology import (
    EngineRecord,
    Promotion,
    Topology,
    write,
)
from local_aws import fidelity
from ops.aws import Clients
from ops.errors import OpsError
from ops.record import environments_line
from ops.upgrade import TAG_PHASE, TAG_STARTED, TAG_TARGET
from tests import ops_fixtures
from tests.ops_fixtures import (
    DR_REGION,
    MYSQL,
    Deployed,
    dr_config,
    fresh_dr_environment,
    fresh_environment,
    local_config,
    mocked_two_regions,
)

topology = ops_fixtures.topology  # the fixture, by the name the tests ask for

OLD, NEW = "8.0.43", "8.4.10"
#: MySQL 8.0 is past its end of standard support: the old version needs the opt-in.
PAYING = ExtendedSupport(reason="The vendor certifies its application on MySQL 8.0 until 2027")


@pytest.fixture(scope="module")
def aws() -> Iterator[tuple[Clients, Clients]]:
    with mocked_two_regions() as clients, fidelity.installed(only=("rds-engine-upgrade",
                                                                  "rds-promote-read-replica")):
        yield clients


@pytest.fixture
def env(aws: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch,
        topology: Path) -> Deployed:
    """env local (no DR region) on MySQL 8.0 with two replicas."""
    return fresh_environment(aws[0], monkeypatch, config=local_config(
        **MYSQL, engine_version=OLD, extended_support=PAYING, replica_count=2))


@pytest.fixture
def dr_env(aws: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch,
           topology: Path) -> Deployed:
    return fresh_dr_environment(*aws, monkeypatch, config=dr_config(
        **MYSQL, engine_version=OLD, extended_support=PAYING))


class FakeDeploy:
    """What `cdk deploy` of the recorded config does to the engine versions: the writer's stack
    first (the writer, then its replicas), then the DR replica's stack. A refused modify fails
    the deploy, as it fails a CloudFormation update."""

    def __init__(self, env: Deployed, *, fail_at: int | None = None,
                 leave: str | None = None) -> None:
        self.env, self.fail_at, self.leave = env, fail_at, leave
        self.calls: list[EngineRecord | None] = []

    def __call__(self, stage: Any) -> None:
        config = with_declared_topology(ENVIRONMENTS[self.env.config.name])
        self.calls.append(config.topology.engine)
        if self.fail_at == len(self.calls):
            raise OpsError(f"the deploy of stage {stage.number} failed (simulated)")
        replica = config.replica_engine_version or config.engine_version
        order = [(self.env.primary, config.engine_version),
                 *((r, replica) for r in self.env.replicas),
                 *(((self.env.dr.replica, replica),) if self.env.dr else ())]
        for identifier, version in order:
            if self.env.db(identifier).engine_version == version:
                continue
            try:
                self.env._rds(identifier).modify_db_instance(
                    DBInstanceIdentifier=identifier, EngineVersion=version,
                    AllowMajorVersionUpgrade=True, ApplyImmediately=True)
            except ClientError as error:
                raise OpsError(f"the deploy failed: {error}") from error
            if identifier == self.leave:
                self.env.db(identifier).status = "upgrading"


def run(env: Deployed, *argv: str, deploy: FakeDeploy | None = None) -> tuple[int, str, str]:
    import io

    from ops.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["upgrade", *argv, "--env", env.config.name], out=out, err=err, clock=env.clock,
                clients=env.clients, factory=env.factory, deploy=deploy or FakeDeploy(env))
    return code, out.getvalue(), err.getvalue()


def versions(env: Deployed) -> dict[str, str]:
    """{identifier: engine version} of every member that exists."""
    members = [env.primary, *env.replicas, *([env.dr.replica] if env.dr else [])]
    return {m: env.db(m).engine_version for m in members
            if m in env.backend.databases or m in env.dr_backend.databases}


def recorded(topology: Path) -> Any:
    return json.loads(topology.read_text()) if topology.exists() else None


# --- the plan -----------------------------------------------------------------------------------

def test_dry_run_prints_the_staged_plan_and_changes_nothing(env: Deployed,
                                                            topology: Path) -> None:
    deploy = FakeDeploy(env)

    code, out, err = run(env, "--target-version", NEW, deploy=deploy)

    assert (code, err) == (0, "")
    assert out.startswith(f"Upgrade plan for env local (mysql -> {NEW}; account 123456789012)\n"
                          f"  live:      writer local-mysql-primary (us-east-1): {OLD}\n")
    assert "  stage 1: the read replicas, before their writer (RDS refuses the writer first) " \
           "[next]\n      declared by: engine_version='8.0.43', " \
           "replica_engine_version='8.4.10'\n" in out
    assert (f"      replica local-mysql-replica-2: mysql {OLD} -> {NEW}: major version upgrade "
            "(AllowMajorVersionUpgrade, parameter group mysql8.0 -> mysql8.4); downtime: the "
            "writer keeps serving; this replica serves no reads") in out
    assert "  stage 2: the writer [pending]\n      declared by: engine_version='8.4.10', " \
           "replica_engine_version=None (the writer's)\n" in out
    assert "(RDS user guide, 'Upgrading a DB instance engine version'" in out
    assert out.endswith("Dry run: nothing was changed. Carry it out with --execute.\n")
    assert deploy.calls == [] and recorded(topology) is None
    assert set(versions(env).values()) == {OLD} and TAG_PHASE not in env.tags(env.primary)


def test_default_target_is_the_newest_version_the_config_declares(
        env: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENVIRONMENTS, "local", dataclasses.replace(env.config,
                                                                   engine_version=NEW))

    code, out, _ = run(env)

    assert code == 0 and f"(mysql -> {NEW};" in out
    assert "declared:  engine_version='8.4.10', replica_engine_version=None " \
           "(config/environments.py)" in out


# --- carrying it out ----------------------------------------------------------------------------

def test_execute_deploys_the_replicas_then_the_writer(env: Deployed, topology: Path) -> None:
    deploy = FakeDeploy(env)

    code, out, err = run(env, "--target-version", NEW, "--execute", deploy=deploy)

    assert (code, err) == (0, "")
    assert deploy.calls == [EngineRecord(engine_version=OLD, replica_engine_version=NEW),
                            EngineRecord(engine_version=NEW)]
    assert set(versions(env).values()) == {NEW}
    assert out.index("==> stage 1: the read replicas") < out.index("==> stage 2: the writer")
    assert "==> local-mysql-replica-1 runs 8.4.10\n" in out
    assert f"==> upgrade complete: every member of env local runs mysql {NEW}\n" in out
    # The record declares the upgraded writer until config/environments.py does.
    assert recorded(topology) == {"local": {"decommissioned": [], "promotions": [],
                                            "engine": {"engine_version": NEW}}}
    line = environments_line("local")
    assert line is not None
    assert out.endswith(f"Next: in config/environments.py line {line.number} (env local), change "
                        f"`engine_version=\"17.9\",` to `engine_version='{NEW}',`.\n")
    tags = env.tags(env.primary)
    assert (tags[TAG_PHASE], tags[TAG_TARGET]) == ("complete", NEW) and tags[TAG_STARTED]


def test_a_re_run_after_completion_changes_nothing(env: Deployed, topology: Path) -> None:
    run(env, "--target-version", NEW, "--execute")
    deploy = FakeDeploy(env)

    code, out, _ = run(env, "--execute", deploy=deploy)

    assert code == 0 and deploy.calls == []
    assert "  stage 1: the read replicas, before their writer (RDS refuses the writer first) " \
           "[done, skipped]\n" in out and "  stage 2: the writer [done, skipped]\n" in out
    assert "==> every member of env local runs 8.4.10 already: nothing to upgrade\n" in out
    assert "Config: topology.json records engine_version='8.4.10'" in out


def test_the_record_is_dropped_once_config_declares_the_target(
        env: Deployed, topology: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(env, "--target-version", NEW, "--execute")
    monkeypatch.setitem(ENVIRONMENTS, "local", dataclasses.replace(env.config,
                                                                   engine_version=NEW))

    code, out, _ = run(env, "--execute")

    assert code == 0 and recorded(topology) == {}
    assert "Config change (drop the engine record: config/environments.py declares " \
           "engine_version='8.4.10', replica_engine_version=None)" in out
    assert out.endswith("Next: config/environments.py declares engine_version='8.4.10', "
                        "replica_engine_version=None for env local already.\n")


def test_a_failed_deploy_stops_and_the_re_run_resumes_the_stage(env: Deployed,
                                                                 topology: Path) -> None:
    code, out, err = run(env, "--target-version", NEW, "--execute",
                         deploy=FakeDeploy(env, fail_at=2))

    assert code == 1
    assert err == "error: the deploy of stage 2 failed (simulated)\n"
    assert recorded(topology)["local"]["engine"] == {"engine_version": NEW}  # stage 2 declared
    assert env.tags(env.primary)[TAG_PHASE] == "stage-2-recorded"
    assert versions(env)[env.primary] == OLD

    deploy = FakeDeploy(env)
    code, out, _ = run(env, "--execute", deploy=deploy)

    assert code == 0 and len(deploy.calls) == 1
    assert "  resuming:  the upgrade to 8.4.10 started" in out
    assert "[done, skipped]" in out and set(versions(env).values()) == {NEW}


def test_a_timeout_leaves_the_stage_to_a_re_run(env: Deployed) -> None:
    code, out, err = run(env, "--target-version", NEW, "--execute", "--timeout", "60",
                         "--poll", "20", deploy=FakeDeploy(env, leave=env.replicas[0]))

    assert code == 1
    assert err == (f"error: {env.replicas[0]} did not become available with their version "
                   "within 60s; RDS goes on, and re-running the same command resumes waiting\n")
    assert f"    [    60s / 60s] {env.replicas[0]}: upgrading, {NEW}\n" in out
    assert env.clock.sleeps == [20.0, 20.0, 20.0]

    env.db(env.replicas[0]).status = "available"
    code, out, _ = run(env, "--execute")
    assert code == 0 and set(versions(env).values()) == {NEW}


def test_instances_still_upgrading_are_waited_for_first(env: Deployed) -> None:
    env.db(env.replicas[1]).status = "upgrading"
    env.clock.sleep(0)

    def finish(seconds: float) -> None:
        env.db(env.replicas[1]).status = "available"

    env.clock.sleep = finish  # type: ignore[method-assign]
    code, out, _ = run(env, "--target-version", NEW)

    assert code == 0
    assert out.startswith("Waiting for instances RDS is still modifying:\n    [     0s / "
                          f"3600s] {env.replicas[1]}: upgrading, {OLD}\nUpgrade plan")


def test_postgres_minor_upgrades_replicas_first(aws: tuple[Clients, Clients],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 topology: Path) -> None:
    env = fresh_environment(aws[0], monkeypatch, config=local_config(
        engine="postgres", engine_version="17.6", port=5433,
        log_exports=("postgresql", "upgrade")))
    deploy = FakeDeploy(env)

    code, out, err = run(env, "--target-version", "17.9", "--execute", deploy=deploy)

    assert (code, err) == (0, "")
    assert deploy.calls == [EngineRecord(engine_version="17.6", replica_engine_version="17.9"),
                            EngineRecord(engine_version="17.9")]
    assert "minor version upgrade" in out


def test_postgres_major_upgrades_the_writer_with_its_replicas(
        aws: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch, topology: Path) -> None:
    env = fresh_environment(aws[0], monkeypatch, config=local_config(
        engine="postgres", engine_version="16.10", port=5433,
        log_exports=("postgresql", "upgrade")))
    deploy = FakeDeploy(env)

    code, out, err = run(env, "--target-version", "17.9", "--execute", deploy=deploy)

    assert (code, err) == (0, "")
    assert deploy.calls == [EngineRecord(engine_version="17.9")]
    assert "  stage 1: the writer, with its in-Region read replicas (RDS upgrades them " \
           "together) [next]\n" in out
    assert "replica local-postgres-replica-1: postgres 16.10 -> 17.9: upgraded by RDS with its " \
           "writer the writer" in out
    assert set(versions(env).values()) == {"17.9"}


def test_mysql_with_a_dr_replica_upgrades_it_in_the_first_stage(dr_env: Deployed) -> None:
    code, out, err = run(dr_env, "--target-version", NEW, "--execute")

    assert (code, err) == (0, "")
    assert f"cross-region replica local-mysql-dr-replica ({DR_REGION}): {OLD}" in out
    assert out.index("cross-region replica local-mysql-dr-replica: mysql 8.0.43 -> 8.4.10") < \
        out.index("  stage 2: the writer")
    assert set(versions(dr_env).values()) == {NEW}


# --- PostgreSQL major with a DR replica: detach, upgrade, rebuild ------------------------------

PG_OLD, PG_NEW = "16.10", "17.9"
DR, NEW_DR = "local-postgres-dr-replica", "local-postgres-dr-replica-r1"


class DrFakeDeploy(FakeDeploy):
    """`FakeDeploy` of the members the declared layout names, and what `cdk deploy` does with a
    declared DR rebuild: the detached DR replica promoted in place (`detach=False`: a deploy
    that leaves it replicating), the new DR replica created as a cross-region replica of the
    writer."""

    def __init__(self, env: Deployed, *, detach: bool = True, fail_at: int | None = None) -> None:
        super().__init__(env, fail_at=fail_at)
        self.detach = detach

    def __call__(self, stage: Any) -> None:
        config = with_declared_topology(ENVIRONMENTS[self.env.config.name])
        layout = config.layout
        assert self.env.dr is not None
        rds = self.env.dr.clients.rds
        if self.fail_at == len(self.calls) + 1:
            self.calls.append(config.topology.engine)
            raise OpsError(f"the deploy of stage {stage.number} failed (simulated)")
        # A deploy of the DR stack that fails leaves what it created before: nothing here.
        if layout.detached is not None and self.detach and \
                self.env.db(layout.detached.identifier).is_replica:
            rds.promote_read_replica(DBInstanceIdentifier=layout.detached.identifier)
        standby = layout.standby
        if standby is not None and standby.identifier not in self.env.dr_backend.databases:
            rds.create_db_instance_read_replica(
                DBInstanceIdentifier=standby.identifier, SourceRegion="us-east-1",
                SourceDBInstanceIdentifier=self.env.describe(layout.writer.identifier)[
                    "DBInstanceArn"], KmsKeyId=self.env.dr.key_arn, DeletionProtection=True,
                DBInstanceClass=config.replica_instance_class)
        self.calls.append(config.topology.engine)
        replica = config.replica_engine_version or config.engine_version
        for member in layout.members:  # the detached DR replica keeps its version
            version = config.engine_version if member is layout.writer else replica
            client = rds if member.cross_region else self.env.clients.rds
            if self.env.db(member.identifier).engine_version != version:
                client.modify_db_instance(DBInstanceIdentifier=member.identifier,
                                          EngineVersion=version, AllowMajorVersionUpgrade=True,
                                          ApplyImmediately=True)


def all_versions(env: Deployed) -> dict[str, str]:
    """{identifier: engine version} of every instance in both regions."""
    return {i: db.engine_version for backend in (env.backend, env.dr_backend)
            for i, db in backend.databases.items()}


def dr_describe(env: Deployed, identifier: str) -> dict[str, Any]:
    assert env.dr is not None
    described: dict[str, Any] = env.dr.clients.rds.describe_db_instances(
        DBInstanceIdentifier=identifier)["DBInstances"][0]
    return described


@pytest.fixture
def pg_dr_env(aws: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch,
              topology: Path) -> Deployed:
    return fresh_dr_environment(*aws, monkeypatch, config=dr_config(
        engine="postgres", engine_version=PG_OLD, port=5433,
        log_exports=("postgresql", "upgrade")))


def test_postgres_major_with_a_dr_replica_plans_detach_upgrade_rebuild(
        pg_dr_env: Deployed, topology: Path) -> None:
    code, out, err = run(pg_dr_env, "--target-version", PG_NEW, deploy=DrFakeDeploy(pg_dr_env))

    assert (code, err, recorded(topology)) == (0, "", None)
    assert (f"  stage 1: detach the DR replica (RDS does not upgrade a cross-Region read replica "
            f"with its source) [next]\n      declared by: engine_version='{PG_OLD}', "
            f"replica_engine_version=None (the writer's), dr_rebuilds: {DR} phase "
            f"'detached'\n      cross-region replica {DR}: promoted in place") in out
    assert "  stage 2: the writer, with its in-Region read replicas (RDS upgrades them " \
           "together) [pending]\n" in out
    assert (f"  stage 3: rebuild the DR replica of the upgraded writer [pending]\n      declared "
            f"by: engine_version='{PG_NEW}', replica_engine_version=None (the writer's), "
            f"dr_rebuilds: {DR} phase 'rebuilt' (the new DR replica: {NEW_DR})\n") in out


def test_postgres_major_with_a_dr_replica_detaches_upgrades_and_rebuilds_it(
        pg_dr_env: Deployed, topology: Path) -> None:
    env, deploy = pg_dr_env, DrFakeDeploy(pg_dr_env)
    writer_arn = env.describe(env.primary)["DBInstanceArn"]

    code, out, err = run(env, "--target-version", PG_NEW, "--execute", deploy=deploy)

    assert (code, err) == (0, ""), out
    assert deploy.calls == [None, EngineRecord(engine_version=PG_NEW),
                            EngineRecord(engine_version=PG_NEW)]
    assert recorded(topology) == {"local": {
        "dr_rebuilds": [{"detached": DR, "engine_version": PG_OLD, "phase": "rebuilt"}],
        "engine": {"engine_version": PG_NEW}, "promotions": [], "decommissioned": []}}
    assert out.index(f"==> {DR} detached: replicates from nothing, runs {PG_OLD}") < \
        out.index(f"==> {env.primary} runs {PG_NEW}") < out.index(f"==> {NEW_DR} runs {PG_NEW}")
    assert all_versions(env) == {env.primary: PG_NEW, env.replicas[0]: PG_NEW, NEW_DR: PG_NEW,
                                 DR: PG_OLD}
    detached, rebuilt = (dr_describe(env, identifier) for identifier in (DR, NEW_DR))
    assert (detached["EngineVersion"], detached.get("ReadReplicaSourceDBInstanceIdentifier"),
            detached["DeletionProtection"]) == (PG_OLD, None, True)
    assert rebuilt["ReadReplicaSourceDBInstanceIdentifier"] == writer_arn
    assert env.describe(env.primary)["DBInstanceArn"] == writer_arn
    assert f"Retired: {DR} (the DR replica detached before the upgrade), kept fenced with " \
           f"deletion protection; once it is no longer needed: aws rds modify-db-instance " \
           f"--region {DR_REGION} --db-instance-identifier {DR} --no-deletion-protection" in out

    code, again, _ = run(env, "--target-version", PG_NEW, "--execute", deploy=deploy)
    assert code == 0 and len(deploy.calls) == 3
    assert f"every member of env local runs {PG_NEW} already: nothing to upgrade" in again


def test_a_failed_upgrade_after_the_detach_resumes_with_the_writer(
        pg_dr_env: Deployed, topology: Path) -> None:
    env = pg_dr_env
    code, out, err = run(env, "--target-version", PG_NEW, "--execute",
                         deploy=DrFakeDeploy(env, fail_at=2))
    assert code == 1 and "the deploy of stage 2 failed (simulated)" in err
    assert recorded(topology)["local"]["dr_rebuilds"] == [
        {"detached": DR, "engine_version": PG_OLD, "phase": "detached"}]

    deploy = DrFakeDeploy(env)
    code, out, err = run(env, "--execute", deploy=deploy)

    assert (code, err) == (0, ""), out
    assert f"  {'live:':<11}writer {env.primary} (us-east-1): {PG_OLD}\n" in out
    assert f"detached DR replica {DR} ({DR_REGION}): {PG_OLD}\n" in out
    assert "  stage 1: detach the DR replica (RDS does not upgrade a cross-Region read replica " \
           "with its source) [done, skipped]\n" in out
    assert f"detached DR replica {DR}: detached already\n" in out
    assert deploy.calls == [EngineRecord(engine_version=PG_NEW)] * 2
    assert all_versions(env) == {env.primary: PG_NEW, env.replicas[0]: PG_NEW, NEW_DR: PG_NEW,
                                 DR: PG_OLD}


def test_a_detach_the_deploy_did_not_carry_out_times_out(pg_dr_env: Deployed,
                                                         topology: Path) -> None:
    env = pg_dr_env
    code, out, err = run(env, "--target-version", PG_NEW, "--execute", "--timeout", "60",
                         deploy=DrFakeDeploy(env, detach=False))

    assert code == 1
    assert err == (f"error: {DR} did not become available with their version within 60s; RDS "
                   "goes on, and re-running the same command resumes waiting\n")
    assert f"{DR}: available, {PG_OLD} (waiting for its promotion: it replicates from " \
           f"arn:aws:rds:us-east-1:123456789012:db:{env.primary})" in out
    assert set(all_versions(env).values()) == {PG_OLD}  # the writer is not upgraded


def test_verify_checks_the_detached_dr_replica(pg_dr_env: Deployed) -> None:
    import io

    from ops.cli import main

    env = pg_dr_env
    run(env, "--target-version", PG_NEW, "--execute", deploy=DrFakeDeploy(env, fail_at=2))

    def line() -> str:
        out = io.StringIO()
        main(["verify", "--env", "local"], out=out, err=io.StringIO(), clock=env.clock,
             clients=env.clients, factory=env.factory)
        return next(x for x in out.getvalue().splitlines() if "detached DR replica kept" in x)

    assert line() == (f"PASS  rds {DR}: detached DR replica kept: available, standalone, "
                      f"deletion protection = available, source none, protected, {PG_OLD} (the "
                      "DR rebuild's phase 'detached' (config/topology.json); the DR replica is "
                      "rebuilt by `python -m ops upgrade --env local --execute`)")
    env.db(DR).deletion_protection = False
    assert line() == (f"FAIL  rds {DR}: detached DR replica kept: available, standalone, "
                      f"deletion protection: expected available, standalone, protected, "
                      f"{PG_OLD}, actual available, source none, unprotected, {PG_OLD} (deploy "
                      "the declared detach (its promotion), or repair it before the rebuild)")


def test_a_rebuild_recorded_but_not_deployed_is_deployed_by_the_re_run(
        pg_dr_env: Deployed, topology: Path) -> None:
    env = pg_dr_env
    code, _, err = run(env, "--target-version", PG_NEW, "--execute",
                       deploy=DrFakeDeploy(env, fail_at=3))
    assert code == 1 and "the deploy of stage 3 failed (simulated)" in err
    assert recorded(topology)["local"]["dr_rebuilds"][0]["phase"] == "rebuilt"

    code, out, _ = run(env, deploy=DrFakeDeploy(env))
    assert (code, NEW_DR in all_versions(env)) == (0, False)
    assert out.endswith(f"Not deployed: the DR rebuild recorded in topology.json: {NEW_DR} of "
                        f"{env.primary}; --execute deploys it first.\n")

    code, out, err = run(env, "--execute", deploy=DrFakeDeploy(env))

    assert (code, err) == (0, ""), out
    assert out.startswith(f"==> deploy the DR rebuild recorded in topology.json: {NEW_DR} of "
                          f"{env.primary} (recorded, not deployed)\n")
    assert all_versions(env)[NEW_DR] == PG_NEW
    assert f"==> upgrade complete: every member of env local runs postgres {PG_NEW}" in out


# --- refusals (exit 3, nothing changed) ---------------------------------------------------------

def refused(env: Deployed, *argv: str) -> str:
    deploy = FakeDeploy(env)
    before = versions(env)
    code, out, err = run(env, *argv, "--execute", deploy=deploy)
    assert (code, deploy.calls, versions(env)) == (3, [], before), out + err
    return err


def test_refuses_a_downgrade(env: Deployed) -> None:
    assert refused(env, "--target-version", "8.0.40") == (
        "error: env local: a downgrade: writer local-mysql-primary runs 8.0.43, replica "
        "local-mysql-replica-1 runs 8.0.43, replica local-mysql-replica-2 runs 8.0.43, newer "
        "than 8.0.40; RDS refuses it (Cannot upgrade mysql from 8.0.43 to 8.0.40): the way back "
        "is a restore from a snapshot\n")


def test_refuses_a_target_that_is_no_version(env: Deployed) -> None:
    assert refused(env, "--target-version", "latest") == (
        "error: --target-version: engine version 'latest': digits separated by dots, such as "
        "'8.4.9' or '17.6'\n")


def test_refuses_a_stage_the_config_cannot_declare(env: Deployed) -> None:
    err = refused(env, "--target-version", "8.4.99")
    assert err.startswith("error: stage 1 cannot be declared: config error in env 'local': "
                          "replica_engine_version='8.4.99': not a version mysql supports")


def test_refuses_another_target_while_an_upgrade_is_unfinished(env: Deployed) -> None:
    run(env, "--target-version", NEW, "--execute", deploy=FakeDeploy(env, fail_at=2))

    err = refused(env, "--target-version", "8.4.9")

    assert err.startswith(f"error: an upgrade to {NEW} is unfinished (started ")
    assert err.endswith(f"journal phase stage-2-recorded): re-run without --target-version, or "
                        f"with --target-version {NEW}, to finish it first\n")


@pytest.mark.parametrize(("state", "message"), [
    ("missing", "replica local-mysql-replica-2 does not exist in us-east-1: deploy the stacks "
                "(the declared topology) first"),
    ("failed", "replica local-mysql-replica-2 is not healthy (status is failed): repair it (or "
               "fail over) before upgrading"),
])
def test_refuses_when_a_member_cannot_be_upgraded(env: Deployed, state: str,
                                                  message: str) -> None:
    if state == "missing":
        env.delete(env.replicas[1])
    else:
        env.db(env.replicas[1]).status = state
    assert refused(env, "--target-version", NEW) == f"error: {message}\n"


def test_refuses_before_the_stacks_follow_the_declared_topology(env: Deployed,
                                                               topology: Path) -> None:
    write("local", Topology(promotions=(Promotion(writer=env.replicas[0], region="us-east-1"),)),
          path=topology)
    assert refused(env, "--target-version", NEW).startswith(
        "error: the stacks follow generation 0 of env local's topology, and "
        "config/topology.json declares generation 1: reconcile first")


def test_refuses_credentials_of_another_account(env: Deployed,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENVIRONMENTS, "local", dataclasses.replace(env.config,
                                                                   account="111122223333"))
    assert "but env local lives in account 111122223333" in refused(env, "--target-version",
                                                                    NEW)


# --- verify and reconcile after an upgrade --------------------------------------------------------

def verify(env: Deployed) -> tuple[int, list[str]]:
    import io

    from ops.cli import main

    out = io.StringIO()
    code = main(["verify", "--env", env.config.name], out=out, err=io.StringIO(),
                clock=env.clock, clients=env.clients, factory=env.factory)
    return code, [line for line in out.getvalue().splitlines()
                  if "engine" in line and line[:4] in ("PASS", "WARN", "FAIL")]


def test_verify_checks_each_members_version_and_says_what_the_record_means(
        env: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    run(env, "--target-version", NEW, "--execute")

    code, lines = verify(env)

    assert code == 0
    assert lines[:3] == [f"PASS  rds {m}: engine version = {NEW}"
                         for m in (env.primary, *env.replicas)]
    line = environments_line("local")
    assert line is not None
    assert lines[3] == (
        "PASS  config local: engine record (config/topology.json records "
        "engine_version='8.4.10', replica_engine_version=None over config/environments.py's "
        "engine_version='8.0.43', replica_engine_version=None; to make the record redundant: "
        f"in config/environments.py line {line.number} (env local), change "
        "`engine_version=\"17.9\",` to `engine_version='8.4.10',`)")

    monkeypatch.setitem(ENVIRONMENTS, "local", dataclasses.replace(env.config,
                                                                   engine_version=NEW))
    assert verify(env)[1][3] == (
        "PASS  config local: engine record (config/topology.json records "
        "engine_version='8.4.10', replica_engine_version=None, which config/environments.py "
        "declares too: the record is redundant; `python -m ops upgrade --env local --execute` "
        "removes it)")


def test_verify_between_the_stages_and_after_a_minor_version_drift(env: Deployed) -> None:
    run(env, "--target-version", NEW, "--execute", deploy=FakeDeploy(env, fail_at=2))

    code, lines = verify(env)

    assert code == 1 and lines[-1].startswith(
        "PASS  config local: engine record (config/topology.json records engine_version="
        "'8.4.10', replica_engine_version=None over")  # stage 2 recorded, not deployed
    assert lines[0] == (f"FAIL  rds {env.primary}: engine version: expected {NEW}, actual {OLD} "
                        "(the config declares 8.4.10: `python -m ops upgrade --env local` says "
                        "what is left to deploy)")

    run(env, "--execute")
    env.db(env.replicas[0]).engine_version = "8.4.11"  # RDS's automatic minor version upgrade
    code, lines = verify(env)
    assert code == 0
    assert lines[1] == (f"WARN  rds {env.replicas[0]}: engine version: expected {NEW}, actual "
                        "8.4.11 (RDS upgraded its minor version (auto minor version upgrade): "
                        "declare it: python -m ops upgrade --env local --target-version 8.4.11 "
                        "--execute)")


def test_reconcile_says_what_the_engine_record_means(env: Deployed) -> None:
    import io

    from ops.cli import main

    run(env, "--target-version", NEW, "--execute", deploy=FakeDeploy(env, fail_at=2))
    write("local", Topology(engine=EngineRecord(engine_version=OLD, replica_engine_version=NEW)))
    out = io.StringIO()

    assert main(["reconcile", "--env", "local"], out=out, clients=env.clients,
                factory=env.factory) == 0
    assert out.getvalue().startswith(
        "Engine: config/topology.json records engine_version='8.0.43', "
        "replica_engine_version='8.4.10': a staged upgrade between its stages; `python -m ops "
        "upgrade --env local --execute` finishes it\n")


# --- the deploy command ------------------------------------------------------------------------------

def test_the_plan_names_the_deploy_command(env: Deployed) -> None:
    code, out, _ = run(env, "--target-version", NEW, "--deploy-command",
                       "python -m local_aws.deploy --no-verify")
    assert code == 0
    assert "deploy (`python -m local_aws.deploy --no-verify`)" in out


@pytest.mark.parametrize(("script", "timeout", "message"), [
    ("print('stack updated'); raise SystemExit(3)", 30.0,
     "the deploy of stage 1 failed (`{command}` exited 3, output above): config/topology.json "
     "declares the stage; fix the cause and re-run the same command"),
    ("import time; time.sleep(30)", 0.3,
     "the deploy of stage 1 did not finish within 0s (killed): config/topology.json declares "
     "the stage; re-run the same command to deploy it again"),
], ids=["fails", "times out"])
def test_the_deploy_command_fails_with_what_to_do(script: str, timeout: float,
                                                  message: str) -> None:
    import io
    import shlex
    import sys

    from cloud_assembly.upgrades import Stage
    from ops.upgrade import command_deployer

    command = [sys.executable, "-c", script]
    out = io.StringIO()
    stage = Stage(number=1, title="t", changes=(), engine_version=NEW,
                  replica_engine_version=None)
    with pytest.raises(OpsError) as error:
        command_deployer(command, timeout=timeout, out=out)(stage)
    assert str(error.value) == message.format(command=" ".join(shlex.quote(c)
                                                              for c in command))
    assert out.getvalue() == ("    | stack updated\n" if "print" in script else "")


def test_a_deploy_command_that_cannot_run() -> None:
    import io

    from cloud_assembly.upgrades import Stage
    from ops.upgrade import command_deployer

    stage = Stage(number=2, title="t", changes=(), engine_version=NEW,
                  replica_engine_version=None)
    with pytest.raises(OpsError, match="cannot run the deploy command `/nonexistent/cdk deploy`: "):
        command_deployer(["/nonexistent/cdk", "deploy"], timeout=5, out=io.StringIO())(stage)
