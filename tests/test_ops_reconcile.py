"""After a failover: the config change the runbooks print and record (`--record`), the
reconcile's check of the live state (`reconcile`), `verify` against the declared topology, and
the planned `switchover` that loses no write. On moto's in-process mock (tests/ops_fixtures.py),
env local without its DR region, two replicas."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import ops.reconcile
from config.topology import Promotion, Topology
from ops.aws import Clients
from ops.outputs import DatabaseOutputs
from ops.record import record
from ops.report import Status
from ops.verify import check_backup_selection
from tests import ops_fixtures
from tests.ops_fixtures import Deployed, fresh_environment, local_config, mocked_aws

topology = ops_fixtures.topology  # the fixture, by the name the tests ask for

TWO = local_config(replica_count=2)


@pytest.fixture(scope="module")
def aws() -> Iterator[Clients]:
    with mocked_aws() as clients:
        yield clients


@pytest.fixture
def env(aws: Clients, monkeypatch: pytest.MonkeyPatch, topology: Path) -> Deployed:
    return fresh_environment(aws, monkeypatch, config=TWO)


def declare(path: Path, *writers: str) -> None:
    path.write_text(json.dumps({"local": {"promotions": [
        {"writer": w, "region": "us-east-1"} for w in writers]}}))


def failover(env: Deployed, *args: str) -> tuple[int, str, str]:
    return env.run("failover", "--force", "--replica", env.replicas[0], "--poll", "1", *args)


def lines(out: str, status: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(f"{status}  ")]


# --- the config change ------------------------------------------------------------------------

def test_failover_prints_the_config_change_and_records_it_with_record(
        env: Deployed, topology: Path) -> None:
    code, out, err = failover(env)
    assert (code, err) == (0, "")
    assert "Config change to commit (env local: generation 1: local-postgres-replica-1 in " \
           "us-east-1 is the writer; local-postgres-primary retired), in topology.json:" in out
    assert '"writer": "local-postgres-replica-1"' in out
    assert "Record it with --record" in out and not topology.exists()


def test_failover_with_record_writes_the_promotion(env: Deployed, topology: Path) -> None:
    code, out, _ = failover(env, "--record")
    assert code == 0, out
    assert json.loads(topology.read_text()) == {"local": {"decommissioned": [], "promotions": [
        {"region": "us-east-1", "writer": "local-postgres-replica-1"}]}}
    assert f"==> recorded in {topology}; commit it, then `python -m ops reconcile --env " \
           "local` and deploy" in out


def test_a_promotion_the_stacks_cannot_follow_is_not_recorded(topology: Path) -> None:
    cfg = local_config(dr_region="us-west-2", dr_availability_zones=("us-west-2a",),
                       topology=Topology(promotions=(Promotion(
                           writer="local-postgres-dr-replica", region="us-west-2"),)))
    out = io.StringIO()
    plan: Any = SimpleNamespace(target="local-postgres-g1-dr-replica", region="us-east-1")
    assert not record(cfg, plan, write_file=True, out=out)
    assert "this promotion cannot be declared, so the stacks cannot follow it: config error " \
           "in env 'local': topology.promotions[1].writer='local-postgres-g1-dr-replica': a " \
           "second regional promotion" in out.getvalue()
    assert not topology.exists()


# --- reconcile --------------------------------------------------------------------------------

def test_reconcile_of_the_original_topology_has_nothing_to_do(env: Deployed) -> None:
    assert env.run("reconcile")[:2] == (0, "env local declares its original topology (writer "
                                           "local-postgres-primary): nothing to reconcile\n")


def test_reconcile_releases_the_replicas_the_deploy_replaces(env: Deployed,
                                                             topology: Path) -> None:
    assert failover(env, "--record")[0] == 0
    replaced = env.replicas[1]
    assert env.describe(replaced)["DeletionProtection"] is True

    code, out, err = env.run("reconcile", "--dry-run")
    assert (code, err) == (0, "")
    assert "Reconcile plan: env local: generation 1: local-postgres-replica-1 in us-east-1 is " \
           "the writer; local-postgres-primary retired" in out
    assert f"  replace: {replaced} (us-east-1) follows local-postgres-primary: RDS cannot " \
           "re-parent it; turn deletion protection off so that the deploy deletes it" in out
    assert "  retire:  local-postgres-primary (us-east-1): leaves the stack, kept" in out
    assert "  create:  local-postgres-g1-replica-1 (us-east-1), local-postgres-g1-replica-2 " \
           "(us-east-1): replicas of local-postgres-replica-1" in out
    assert env.describe(replaced)["DeletionProtection"] is True  # dry run

    code, out, _ = env.run("reconcile")
    assert code == 0, out
    assert f"==> {replaced}: deletion protection off (the deploy replaces it)" in out
    assert env.describe(replaced)["DeletionProtection"] is False
    assert env.describe(env.primary)["DeletionProtection"] is True  # retired: kept protected


def test_fails_reconcile_where_the_env_was_never_deployed(aws: Clients, topology: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    env = fresh_environment(aws, monkeypatch, config=TWO)
    aws.cloudformation.delete_stack(StackName=env.stack_name)
    declare(topology, env.replicas[0])
    code, _, err = env.run("reconcile")
    assert code == 3
    assert err.startswith("error: env local is not deployed in account 123456789012 region "
                          "us-east-1 (no stack RedundantDb-local-Database): the declared "
                          "topology (generation 1, writer local-postgres-replica-1) deploys only "
                          "over the environment it was promoted in")


def test_fails_reconcile_of_a_writer_that_is_still_a_replica(env: Deployed,
                                                             topology: Path) -> None:
    declare(topology, env.replicas[0])
    code, _, err = env.run("reconcile")
    assert code == 3
    assert f"the declared writer {env.replicas[0]} is still a replica of {env.primary}: " \
           "promote it first (python -m ops switchover --env local, or failover)" in err


def test_fails_reconcile_when_the_endpoint_names_another_writer(env: Deployed,
                                                                topology: Path) -> None:
    assert failover(env, "--record")[0] == 0
    env.clients.ssm.put_parameter(Name=env.parameter, Value=env.endpoint(env.primary),
                                  Overwrite=True)
    code, _, err = env.run("reconcile")
    assert code == 3 and "not the declared writer local-postgres-replica-1" in err


def test_fails_reconcile_when_the_old_writer_would_be_deleted(
        env: Deployed, topology: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert failover(env, "--record")[0] == 0
    monkeypatch.setattr(ops.reconcile, "deployed_deletion_policy", lambda *_: "Snapshot")
    code, _, err = env.run("reconcile")
    assert code == 3
    assert "local-postgres-primary is deployed with DeletionPolicy Snapshot: the deploy that " \
           "retires it would delete it" in err
    assert env.describe(env.replicas[1])["DeletionProtection"] is True  # nothing changed


# --- verify against the declared topology ------------------------------------------------------

def test_verify_after_the_recorded_failover_says_to_reconcile(env: Deployed,
                                                              topology: Path) -> None:
    assert failover(env, "--record")[0] == 0
    code, out, _ = env.run("verify")
    assert code == 0, out
    assert ("WARN  config local: the stacks follow the declared topology: expected generation "
            "1 (writer local-postgres-replica-1), actual generation 0 (writer "
            "local-postgres-primary) (reconcile: `python -m ops reconcile --env local`, then "
            "deploy") in out
    assert "PASS  config local: the live writer is the declared writer = " \
           "local-postgres-replica-1" in out
    assert "PASS  rds local-postgres-primary: retired member kept" in out


def test_verify_fails_when_the_declared_writer_is_not_the_live_one(env: Deployed,
                                                                   topology: Path) -> None:
    declare(topology, env.replicas[0])
    code, out, _ = env.run("verify")
    assert code == 1
    assert ("FAIL  config local: the live writer is the declared writer: expected "
            "local-postgres-replica-1, actual local-postgres-primary (config/topology.json declares "
            "local-postgres-replica-1, but the writer endpoint names local-postgres-primary: fail "
            "over to local-postgres-replica-1, or declare the writer that serves)") in out


def test_verify_after_the_reconcile_checks_the_replaced_replicas(
        env: Deployed, topology: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stacks at the declared generation (their PrimaryIdentifier is the declared writer):
    a replaced replica left behind is a WARN with the commands that delete it; gone, a PASS."""
    assert failover(env, "--record")[0] == 0
    stacks = env.clients.cloudformation
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks.describe_stacks(
        StackName=env.stack_name)["Stacks"][0]["Outputs"]}
    outputs["PrimaryIdentifier"] = env.replicas[0]
    stacks.delete_stack(StackName=env.stack_name)
    from tests.ops_fixtures import _create_stack

    _create_stack(env.clients, env.stack_name, {k: v for k, v in outputs.items()
                                                if not k.startswith("Replica")})
    code, out, _ = env.run("verify")
    assert "PASS  config local: the stacks follow the declared topology = generation 1" in out
    assert (f"WARN  rds {env.replicas[1]}: replaced replica deleted: expected gone, actual "
            "available (left behind by the deploy (deletion protection was on?): delete it: "
            "aws rds modify-db-instance --region us-east-1") in out
    env.delete(env.replicas[1])
    code, out, _ = env.run("verify")
    assert f"PASS  rds {env.replicas[1]}: replaced replica deleted = gone" in out


def test_verify_warns_when_a_retired_writer_is_gone_undeclared(env: Deployed,
                                                               topology: Path) -> None:
    assert failover(env, "--record")[0] == 0
    env.delete(env.primary)
    code, out, _ = env.run("verify")
    assert code == 0
    assert ('WARN  rds local-postgres-primary: retired member kept: expected the instance '
            '(retained for forensics), actual missing (if it was decommissioned, list it '
            'under "decommissioned" in config/topology.json and deploy)') in out


class _Backup:
    def __init__(self, targets: list[str] | None) -> None:
        self.targets = targets

    def list_backup_selections(self, **_: Any) -> dict[str, Any]:
        if self.targets is None:
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "404", "Message": "no such API"}}, "List")
        return {"BackupSelectionsList": [{"SelectionId": "s"}]}

    def get_backup_selection(self, **_: Any) -> dict[str, Any]:
        return {"BackupSelection": {"Resources": self.targets}}


class _Templates:
    def get_template(self, **_: Any) -> dict[str, Any]:
        return {"TemplateBody": {"Resources": {
            "Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"DBInstanceIdentifier": "w"}},
            "Sel": {"Type": "AWS::Backup::BackupSelection", "Properties": {"BackupSelection": {
                "Resources": [{"Fn::Join": ["", ["arn:db:", {"Ref": "Db"}]]}]}}}}}}


def _outputs() -> DatabaseOutputs:
    return DatabaseOutputs(stack_name="S", stack_status="UPDATE_COMPLETE",
                           primary_identifier="w", primary_endpoint="w.x", port=3307,
                           secret_arn="s", key_arn="k", writer_parameter="/p", replicas=(),
                           backup_plan_id="plan-1")


@pytest.mark.parametrize(("targets", "writer", "reconciled", "status", "read_from"), [
    (["arn:aws:rds:us-east-1:1:db:w"], "w", True, Status.PASS, "AWS Backup"),
    (["arn:aws:rds:us-east-1:1:db:old"], "w", True, Status.FAIL, "AWS Backup"),  # 1. wrong
    (["arn:aws:rds:us-east-1:1:db:old"], "w", False, Status.WARN, "AWS Backup"),  # not yet
    (None, "w", True, Status.PASS, "the deployed template"),  # no selections API (emulator)
    (None, "other", True, Status.FAIL, "the deployed template"),  # 2. wrong, from the template
])
def test_backup_plan_selects_the_writer(targets: list[str] | None, writer: str,
                                        reconciled: bool, status: Status,
                                        read_from: str) -> None:
    clients: Any = SimpleNamespace(backup=_Backup(targets), cloudformation=_Templates())
    result = check_backup_selection(outputs=_outputs(), writer=writer, clients=clients,
                                    stack="S", reconciled=reconciled)
    assert result.status is status and read_from in result.check


# --- switchover --------------------------------------------------------------------------------

@pytest.fixture
def fenced_group(env: Deployed) -> str:
    """The primary in a parameter group of its own (the stacks give every instance one)."""
    group = "local-postgres-primary-params"
    env.clients.rds.create_db_parameter_group(DBParameterGroupName=group,
                                              DBParameterGroupFamily="postgres17",
                                              Description="primary")
    env.clients.rds.modify_db_instance(DBInstanceIdentifier=env.primary,
                                       DBParameterGroupName=group, ApplyImmediately=True)
    return group


def _read_only(env: Deployed, group: str) -> str | None:
    parameters = env.clients.rds.describe_db_parameters(DBParameterGroupName=group)["Parameters"]
    return next((p.get("ParameterValue") for p in parameters
                 if p["ParameterName"] == "default_transaction_read_only"), None)


def _lag(env: Deployed, seconds: float, *, after: float) -> None:
    env.clients.cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=[{
        "MetricName": "ReplicaLag", "Value": seconds,
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": env.replicas[0]}],
        "Timestamp": env.clock.now() + timedelta(seconds=after)}])


def switchover(env: Deployed, *args: str) -> tuple[int, str, str]:
    return env.run("switchover", "--replica", env.replicas[0], "--poll", "10",
                   "--drain-timeout", "60", *args)


def test_switchover_dry_run_changes_nothing(env: Deployed, fenced_group: str) -> None:
    code, out, _ = switchover(env, "--dry-run")
    assert code == 0
    assert f"  1. fence {env.primary}: parameter group {fenced_group}: default_transaction_read_only=on " \
           "(immediate)" in out
    assert "Dry run: nothing was changed." in out
    assert _read_only(env, fenced_group) != "on"
    assert env.parameter_value() == env.endpoint(env.primary)


def test_switchover_fences_drains_then_promotes(env: Deployed, fenced_group: str,
                                                topology: Path) -> None:
    _lag(env, 0, after=30)  # the replica caught up after the fence
    code, out, err = switchover(env, "--record")
    assert (code, err) == (0, ""), out
    assert f"==> fenced {env.primary}: {fenced_group} default_transaction_read_only=on" in out
    assert f"==> {env.replicas[0]} caught up" in out
    assert "--force: failing over" not in out  # a planned switchover, not a forced failover
    assert _read_only(env, fenced_group) == "on"  # the old writer stays read-only
    assert env.parameter_value() == env.endpoint(env.replicas[0])
    assert "ReadReplicaSourceDBInstanceIdentifier" not in env.describe(env.replicas[0])
    assert json.loads(topology.read_text())["local"]["promotions"] == [
        {"region": "us-east-1", "writer": env.replicas[0]}]


def test_fails_switchover_when_the_lag_does_not_drain_and_lifts_the_fence(
        env: Deployed, fenced_group: str) -> None:
    _lag(env, 4, after=30)
    code, out, err = switchover(env)
    assert code == 3
    assert f"error: {env.replicas[0]}'s ReplicaLag did not reach 0 within 60s (latest: 4s): " \
           f"the fence is lifted ({fenced_group} default_transaction_read_only=off), {env.primary} takes writes " \
           "again and nothing was promoted" in err
    assert _read_only(env, fenced_group) == "off"
    assert env.describe(env.replicas[0])["ReadReplicaSourceDBInstanceIdentifier"] == env.primary


def test_fails_switchover_of_an_unhealthy_writer(env: Deployed, fenced_group: str) -> None:
    env.db(env.primary).status = "failed"
    code, _, err = switchover(env)
    assert code == 3 and "a switchover needs a writer to drain; use `failover`" in err
