"""`python -m ops failover` against moto's in-process mock: every refusal, the happy paths, the
faults (promote error, timeout) and re-runs after a crash half-way. Time is a fake clock."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ops.promotion
from ops.aws import Clients
from ops.cli import main
from ops.errors import Refusal
from ops.failover import Candidate, choose_target
from ops.instances import assess_health
from ops.promotion import TAG_FROM, TAG_PHASE, candidate_problem
from tests.ops_fixtures import (
    PASSWORD,
    Deployed,
    PromoteSpy,
    finish_promotion,
    fresh_environment,
    local_config,
    mocked_aws,
)


@pytest.fixture(scope="module")
def aws() -> Iterator[Clients]:
    with mocked_aws() as clients:
        yield clients


@pytest.fixture
def env(aws: Clients, monkeypatch: pytest.MonkeyPatch) -> Deployed:
    return fresh_environment(aws, monkeypatch)


@pytest.fixture
def env2(aws: Clients, monkeypatch: pytest.MonkeyPatch) -> Deployed:
    """Two replicas (replica-1 in us-east-1b, replica-2 in us-east-1a)."""
    return fresh_environment(aws, monkeypatch, config=local_config(replica_count=2))


def snapshot(env: Deployed) -> dict[str, Any]:
    """Everything a failover may change (instances and tags as moto records them)."""
    versions = env.clients.secretsmanager.list_secret_version_ids(
        SecretId=env.secret_arn)["Versions"]
    instances = {i: env.db(i) for i in [env.primary, *env.replicas]
                 if i in env.backend.databases}
    return {
        "parameter": env.parameter_value(),
        "secret": env.secret_document(),
        "secret_versions": sorted(v["VersionId"] for v in versions),
        "instances": {i: (d.status, d.read_replica_source_db_instance_identifier)
                      for i, d in instances.items()},
        "tags": {i: env.tags(i) for i in instances},
    }


def assert_failed_over(env: Deployed, target: str) -> None:
    described = env.describe(target)
    assert described.get("ReadReplicaSourceDBInstanceIdentifier") is None
    assert described["BackupRetentionPeriod"] == env.config.backup_retention_days
    assert env.parameter_value() == env.endpoint(target)
    document = env.secret_document()
    host, port = env.endpoint(target).rsplit(":", 1)
    assert (document["host"], document["port"], document["dbInstanceIdentifier"]) == (
        host, int(port), target)
    # Every other field kept, the password above all.
    assert (document["password"], document["username"], document["dbname"]) == (
        PASSWORD, env.config.master_username, env.config.database_name)
    assert env.tags(target)[TAG_PHASE] == "complete"


# Refusals -------------------------------------------------------------------------------------

def test_refuses_when_the_writer_is_healthy(env: Deployed) -> None:
    before = snapshot(env)

    code, out, err = env.run("failover")

    assert (code, out) == (3, "")
    assert err == (f"error: the writer {env.primary} is healthy (status is available): refusing "
                   "to fail over. For a planned failover stop the application's writes, then "
                   "re-run with --force\n")
    assert snapshot(env) == before


def test_refuses_when_the_stack_has_no_replica(aws: Clients,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    env = fresh_environment(aws, monkeypatch, replica_outputs=False)
    env.delete(env.primary)

    code, _, err = env.run("failover")

    assert code == 3
    assert err == (f"error: no read replica to promote: the stack declares none besides the "
                   f"writer {env.primary}\n")


def test_refuses_when_the_replica_is_missing(env: Deployed) -> None:
    env.delete(env.replicas[0])
    env.delete(env.primary)

    code, _, err = env.run("failover")

    assert code == 3
    assert err == f"error: no replica can be promoted: {env.replicas[0]} does not exist\n"


def test_refuses_when_the_named_replica_is_not_available(env2: Deployed) -> None:
    env2.db(env2.primary).status = "failed"
    env2.db(env2.replicas[0]).status = "storage-full"
    before = snapshot(env2)

    code, _, err = env2.run("failover", "--replica", env2.replicas[0])

    assert code == 3
    assert err == (f"error: replica {env2.replicas[0]} is not available (status storage-full): "
                   "refusing to promote it\n")
    assert snapshot(env2) == before


def test_refuses_a_replica_the_stack_does_not_declare(env: Deployed) -> None:
    env.delete(env.primary)

    code, _, err = env.run("failover", "--replica", "someone-else")

    assert code == 3
    assert err == (f"error: someone-else is not a read replica of this stack (replicas: "
                   f"{env.replicas[0]})\n")


# Happy paths ----------------------------------------------------------------------------------

def test_fails_over_when_the_primary_is_deleted(env: Deployed) -> None:
    env.delete(env.primary)

    code, out, err = env.run("failover")

    assert (code, err) == (0, "")
    assert_failed_over(env, env.replicas[0])
    assert f"writer now:  {env.primary} (the instance does not exist)" in out
    assert f"[     0s / 1800s] {env.replicas[0]}: available, standalone" in out
    assert f"==> failover complete: {env.replicas[0]} is the writer" in out
    assert "Next steps:" in out and "Reconcile the stacks: declare" in out


@pytest.mark.parametrize("status", ["failed", "incompatible-network"])
def test_fails_over_from_an_unhealthy_primary_without_force(env: Deployed, status: str) -> None:
    env.db(env.primary).status = status

    code, out, _ = env.run("failover")

    assert code == 0
    assert f"writer now:  {env.primary} (status is {status})" in out
    assert_failed_over(env, env.replicas[0])


def test_force_fails_over_from_a_healthy_primary(env: Deployed) -> None:
    code, out, _ = env.run("failover", "--force")

    assert code == 0
    assert f"--force: failing over although {env.primary} is healthy." in out
    assert_failed_over(env, env.replicas[0])
    assert env.tags(env.replicas[0])[TAG_FROM] == env.primary


def test_forced_failover_warns_about_replica_lag(env: Deployed) -> None:
    env.clients.cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=[{
        "MetricName": "ReplicaLag", "Value": 4.0, "Unit": "Seconds", "Timestamp": env.clock.now(),
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": env.replicas[0]}]}])

    code, out, _ = env.run("failover", "--force", "--dry-run")

    assert code == 0
    assert (f"  warning:     {env.replicas[0]} lags 4s behind {env.primary}: writes of those "
            "seconds are lost unless the application has stopped writing and the lag is 0") in out


def _lag(env: Deployed, seconds: float) -> None:
    env.clients.cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=[{
        "MetricName": "ReplicaLag", "Value": seconds, "Unit": "Seconds",
        "Timestamp": env.clock.now(),
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": env.replicas[0]}]}])


@pytest.mark.parametrize(("lag", "flags", "limit"), [
    (5.0, ("--max-lag", "4"), "4s"),
    (301.0, (), "300s"),  # the env's replica-lag alarm threshold
], ids=["--max-lag", "alarm threshold"])
def test_refuses_a_planned_failover_to_a_replica_lagging_above_the_limit(
        env: Deployed, lag: float, flags: tuple[str, ...], limit: str) -> None:
    _lag(env, lag)
    before = snapshot(env)

    code, _, err = env.run("failover", "--force", *flags)

    assert code == 3
    assert (f"replica {env.replicas[0]} lags {lag:g}s behind the healthy writer {env.primary} "
            f"(ReplicaLag; limit {limit}, --max-lag): a planned failover now would lose the "
            "writes of that lag") in err
    assert snapshot(env) == before


def test_an_unhealthy_writer_is_failed_over_whatever_the_lag(env: Deployed) -> None:
    env.db(env.primary).status = "failed"
    _lag(env, 50.0)

    code, _, err = env.run("failover", "--max-lag", "4")

    assert code == 0, err
    assert_failed_over(env, env.replicas[0])


def test_fails_write_load_with_the_regional_failover(capsys: pytest.CaptureFixture[str]) -> None:
    from ops.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["failover", "--env", "local", "--force", "--write-load", "--region-dr"])

    assert exited.value.code == 2
    assert ("--write-load measures an in-region failover: it does not apply with --region-dr"
            in capsys.readouterr().err)


def test_a_dry_run_with_write_load_writes_nothing(env: Deployed) -> None:
    before = snapshot(env)

    code, out, err = env.run("failover", "--force", "--write-load", "--dry-run")

    assert code == 0, err
    assert snapshot(env) == before
    assert out.rstrip().endswith("Dry run: nothing was changed.")
    assert "Write load" not in out


def test_dry_run_prints_the_plan_and_changes_nothing(env: Deployed) -> None:
    env.db(env.primary).status = "failed"
    before = snapshot(env)

    code, out, _ = env.run("failover", "--dry-run")

    assert code == 0
    assert snapshot(env) == before
    target = env.replicas[0]
    assert f"  promote:     {target} (available) - first available replica in stack order" in out
    assert (f"    2. promote {target} (promote_read_replica, BackupRetentionPeriod=7, "
            "PreferredBackupWindow=02:00-03:00)") in out
    assert f"    4. set SSM parameter {env.parameter} to {env.endpoint(target)}" in out
    assert out.rstrip().endswith("Dry run: nothing was changed.")


def test_picks_the_replica_with_the_lowest_lag(env2: Deployed) -> None:
    env2.db(env2.primary).status = "failed"
    for identifier, lag in zip(env2.replicas, (30.0, 2.0), strict=True):
        env2.clients.cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=[{
            "MetricName": "ReplicaLag", "Value": lag, "Unit": "Seconds",
            "Timestamp": env2.clock.now(),
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": identifier}]}])

    code, out, _ = env2.run("failover")

    assert code == 0
    assert (f"lowest replica lag among {env2.replicas[1]} (available, lag 2s), "
            f"{env2.replicas[0]} (available, lag 30s)") in out
    assert_failed_over(env2, env2.replicas[1])


def test_without_lag_data_picks_the_first_replica_in_stack_order(env2: Deployed) -> None:
    env2.db(env2.primary).status = "failed"
    env2.db(env2.replicas[0]).status = "rebooting"

    code, out, _ = env2.run("failover")

    assert code == 0
    assert (f"not chosen:  {env2.replicas[0]} is not available (status rebooting)") in out
    assert_failed_over(env2, env2.replicas[1])


def test_an_already_detached_replica_is_not_promoted_again(
        env: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    """RDS promotes the replicas of a deleted source itself; the failover just repoints."""
    env.delete(env.primary)
    finish_promotion(env, env.replicas[0])
    spy = PromoteSpy().install(monkeypatch)

    code, out, _ = env.run("failover")

    assert code == 0 and spy.calls == []
    assert f"promote {env.replicas[0]}: already requested or done, skipped" in out
    assert_failed_over(env, env.replicas[0])


# Faults and re-runs ---------------------------------------------------------------------------

def test_promote_error_changes_nothing_and_a_rerun_succeeds(
        env: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    env.delete(env.primary)
    before = snapshot(env)
    spy = PromoteSpy(fail=1).install(monkeypatch)

    code, _, err = env.run("failover")

    assert code == 1
    assert err == (f"error: promote_read_replica({env.replicas[0]}) failed: "
                   "InvalidParameterCombination: simulated promotion error. Nothing was "
                   f"repointed: applications still use {env.primary}. Fix the cause and re-run "
                   "the same command to resume\n")
    assert snapshot(env) == before  # the journal tags were removed again

    assert env.run("failover")[0] == 0
    assert spy.calls == [env.replicas[0], env.replicas[0]]
    assert_failed_over(env, env.replicas[0])


def test_timeout_then_a_rerun_resumes_without_promoting_again(
        env: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    target = env.replicas[0]
    spy = PromoteSpy(complete=False).install(monkeypatch)
    parameter_before = env.parameter_value()

    code, out, err = env.run("failover", "--force", "--timeout", "60", "--poll", "15")

    assert code == 1
    assert err == (f"error: {target} is not a standalone available instance after 60s (status "
                   f"modifying, still replicating from {env.primary}). The promotion goes on "
                   "in AWS and nothing was repointed; re-run the same command to resume "
                   "waiting\n")
    assert env.clock.sleeps == [15, 15, 15, 15]
    assert [line.split("]")[0].strip() for line in out.splitlines() if "s / 60s]" in line] == [
        f"[{t:6d}s / 60s" for t in (0, 15, 30, 45, 60)]
    assert env.parameter_value() == parameter_before
    assert env.tags(target)[TAG_PHASE] == "promote-requested"

    finish_promotion(env, target)
    # The primary is healthy and --force is not repeated: an unfinished failover still resumes.
    code, out, _ = env.run("failover")

    assert code == 0
    assert f"Resuming an unfinished failover to {target} (journal phase promote-requested)" in out
    assert spy.calls == [target]
    assert_failed_over(env, target)


def test_rerun_after_a_crash_between_parameter_and_secret(
        env: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    env.delete(env.primary)

    def crash(*_: object, **__: object) -> str:
        raise KeyboardInterrupt  # the operator's laptop dies here

    # Only the crash is undone afterwards (the fixture's config for the env stays patched).
    with monkeypatch.context() as patch:
        patch.setattr(ops.promotion, "repoint_secret", crash)
        with pytest.raises(KeyboardInterrupt):
            env.run("failover")
    assert env.parameter_value() == env.endpoint(env.replicas[0])
    assert env.secret_document()["host"] != env.endpoint(env.replicas[0]).rsplit(":", 1)[0]

    code, out, _ = env.run("failover")

    assert code == 0
    assert f"==> promote {env.replicas[0]}: already requested, skipped" in out
    assert f"==> repoint SSM parameter: {env.parameter} already " in out
    assert "==> repoint secret: host/port = " in out
    assert_failed_over(env, env.replicas[0])


def test_rerun_after_completion_changes_nothing(env: Deployed) -> None:
    env.delete(env.primary)
    assert env.run("failover")[0] == 0
    before = snapshot(env)

    code, _, err = env.run("failover")
    forced, _, forced_err = env.run("failover", "--force")

    assert (code, forced) == (3, 3)
    assert err.startswith(f"error: the writer {env.replicas[0]} is healthy")
    assert forced_err == (f"error: no read replica to promote: the stack declares none besides "
                          f"the writer {env.replicas[0]}\n")
    assert snapshot(env) == before


def test_an_unfinished_failover_must_be_finished_before_another(
        env2: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    PromoteSpy(complete=False).install(monkeypatch)
    assert env2.run("failover", "--force", "--timeout", "1")[0] == 1

    code, _, err = env2.run("failover", "--replica", env2.replicas[1])

    assert code == 3
    assert err.startswith(f"error: a failover to {env2.replicas[0]} is unfinished (started ")
    assert err.endswith(f"re-run without --replica, or with --replica {env2.replicas[0]}, to "
                        "finish it first\n")


# Pure decisions -------------------------------------------------------------------------------

@pytest.mark.parametrize(("status", "healthy"), [
    ("available", True), ("backing-up", True), ("modifying", True), ("rebooting", True),
    ("failed", False), ("storage-full", False), ("incompatible-parameters", False),
    ("incompatible-network", False), ("inaccessible-encryption-credentials", False),
    ("stopped", False), ("deleting", False),
])
def test_health_of_each_status(status: str, healthy: bool) -> None:
    assert assess_health({"DBInstanceStatus": status}).healthy is healthy


def test_a_missing_writer_is_unhealthy() -> None:
    health = assess_health(None)
    assert (health.healthy, health.status) == (False, "missing")


@pytest.mark.parametrize(("instance", "writer_exists", "problem"), [
    ({"DBInstanceStatus": "available", "ReadReplicaSourceDBInstanceIdentifier": "w"}, True, None),
    ({"DBInstanceStatus": "available",
      "ReadReplicaSourceDBInstanceIdentifier": "arn:aws:rds:us-east-1:1:db:w"}, True, None),
    ({"DBInstanceStatus": "available"}, False, None),  # auto-promoted after the writer's loss
    (None, True, "does not exist"),
    ({"DBInstanceStatus": "failed", "ReadReplicaSourceDBInstanceIdentifier": "w"}, True,
     "is not available (status failed)"),
    ({"DBInstanceStatus": "available"}, True, "is standalone, not a replica of w"),
    ({"DBInstanceStatus": "available", "ReadReplicaSourceDBInstanceIdentifier": "old"}, True,
     "replicates from old, not from the writer w: promoting it would lose the writes made on w"),
])
def test_candidate_eligibility(instance: dict[str, str] | None, writer_exists: bool,
                               problem: str | None) -> None:
    assert candidate_problem(instance, writer="w", writer_exists=writer_exists) == problem


def _candidate(identifier: str, number: int, lag: float | None,
               problem: str | None = None) -> Candidate:
    return Candidate(identifier=identifier, number=number, status="available", source="w",
                     lag_seconds=lag, problem=problem)


def test_choice_prefers_known_low_lag_then_stack_order() -> None:
    candidates = (_candidate("r1", 1, None), _candidate("r2", 2, 9.0), _candidate("r3", 3, 1.0),
                  _candidate("r4", 4, 0.0, problem="is not available (status failed)"))
    assert choose_target(candidates, requested=None, writer="w")[0].identifier == "r3"
    assert choose_target(candidates[:1], requested=None, writer="w")[0].identifier == "r1"
    assert choose_target(candidates, requested="r2", writer="w")[0].identifier == "r2"
    with pytest.raises(Refusal, match="replica r4 is not available"):
        choose_target(candidates, requested="r4", writer="w")


def test_a_promotion_that_fails_in_rds_stops_the_wait(
        env: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    env.delete(env.primary)
    PromoteSpy(complete=False).install(monkeypatch)
    parameter_before = env.parameter_value()
    monkeypatch.setattr(env.clock, "sleep",
                        lambda _: setattr(env.db(env.replicas[0]), "status", "failed"))

    code, _, err = env.run("failover")

    assert code == 1
    assert err.startswith(f"error: the promotion of {env.replicas[0]} failed: status is failed. "
                          f"Nothing was repointed: applications still use {env.primary}.")
    assert env.parameter_value() == parameter_before


def test_refuses_credentials_of_another_account(aws: Clients,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    env = fresh_environment(aws, monkeypatch, config=local_config(account="210987654321"))
    env.delete(env.primary)
    before = snapshot(env)

    code, _, err = env.run("failover")

    assert code == 3
    assert err == ("error: the credentials are for account 123456789012, but env local lives in "
                   "account 210987654321: check --profile\n")
    assert snapshot(env) == before


def test_rerun_after_a_crash_right_after_the_promote_call(
        env: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal still says `started` but RDS is promoting: the repeated call is refused by RDS
    (InvalidDBInstanceState) and the re-run waits for the promotion instead of failing."""
    target = env.replicas[0]
    env.delete(env.primary)
    arn = env.describe(target)["DBInstanceArn"]
    env.clients.rds.add_tags_to_resource(ResourceName=arn, Tags=[
        {"Key": TAG_PHASE, "Value": "started"}, {"Key": TAG_FROM, "Value": env.primary}])
    env.db(target).status = "modifying"
    spy = PromoteSpy(fail=1, error="InvalidDBInstanceState").install(monkeypatch)
    monkeypatch.setattr(env.clock, "sleep", lambda _: finish_promotion(env, target))

    code, out, _ = env.run("failover")

    assert code == 0
    assert f"==> promote {target}: already under way (modifying)" in out
    assert spy.calls == [target]
    assert_failed_over(env, target)


def test_refuses_to_guess_between_two_unfinished_failovers(env2: Deployed) -> None:
    for identifier in env2.replicas:
        env2.clients.rds.add_tags_to_resource(
            ResourceName=env2.describe(identifier)["DBInstanceArn"],
            Tags=[{"Key": TAG_PHASE, "Value": "started"}])

    code, _, err = env2.run("failover")

    assert code == 1
    assert err == (f"error: unfinished failovers to several replicas ({', '.join(env2.replicas)}): "
                   f"inspect them and remove the {TAG_PHASE} tag from the ones that were not "
                   "promoted\n")


# Command line ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("argv", "message"), [
    (["failover", "--env", "nowhere"], "argument --env: invalid choice: 'nowhere'"),
    (["failover", "--env", "local", "--timeout", "0"],
     "argument --timeout: must be greater than 0, got 0"),
    (["failover", "--env", "local", "--poll", "-5"],
     "argument --poll: must be greater than 0, got -5"),
    (["verify"], "the following arguments are required: --env"),
])
def test_fails_on_bad_arguments(argv: list[str], message: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_fails_without_a_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dev` pins no region: without --region, AWS_REGION or a profile's region, say so."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    err = io.StringIO()

    code = main(["verify", "--env", "dev"], out=io.StringIO(), err=err)

    assert code == 1
    assert err.getvalue() == ("error: no AWS region: pass --region, set AWS_REGION or configure "
                              "the profile\n")
