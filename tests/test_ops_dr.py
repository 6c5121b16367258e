"""Disaster recovery in `ops`, against moto's in-process mock with two regions (primary
us-east-1, DR us-west-2): `verify` checks the cross-region replica and the DR writer parameter;
`failover --region-dr` promotes it and repoints the writer endpoint, best effort in a primary
region that may not answer. Time is a fake clock; the password must never be printed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

import ops.promotion
from ops.aws import Clients
from ops.promotion import TAG_FROM, TAG_PHASE, TAG_RPO, LagSample
from ops.regional import estimate_rpo
from tests.ops_fixtures import (
    DR_REGION,
    PASSWORD,
    REGION,
    Deployed,
    PromoteSpy,
    finish_promotion,
    fresh_dr_environment,
    fresh_environment,
    mocked_two_regions,
    unreachable,
)

REGIONAL = ("failover", "--region-dr")


@pytest.fixture(scope="module")
def regions() -> Iterator[tuple[Clients, Clients]]:
    with mocked_two_regions() as clients:
        yield clients


@pytest.fixture
def env(regions: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch) -> Deployed:
    return fresh_dr_environment(*regions, monkeypatch)


def lines(text: str, status: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(status)]


def dr(env: Deployed) -> str:
    assert env.dr is not None
    return env.dr.replica


def snapshot(env: Deployed) -> dict[str, Any]:
    """Everything a regional failover may change, in both regions (instances and tags as
    moto records them)."""
    assert env.dr is not None
    versions = env.clients.secretsmanager.list_secret_version_ids(
        SecretId=env.secret_arn)["Versions"]
    instances = {i: env.db(i) for i in (env.primary, *env.replicas, dr(env))
                 if i in env.backend.databases or i in env.dr_backend.databases}
    return {
        "parameters": (env.parameter_value(), env.dr_parameter_value()),
        "secret_versions": sorted(v["VersionId"] for v in versions),
        "instances": {i: (d.status, d.read_replica_source_db_instance_identifier)
                      for i, d in instances.items()},
        "tags": {i: env.tags(i) for i in instances},
    }


def assert_regional_failover(env: Deployed, *, primary_side: bool = True) -> None:
    """The DR replica is a standalone writer named by the DR parameter (and, when
    `primary_side`, by the primary region's parameter and the secret)."""
    target = dr(env)
    described = env.describe(target)
    assert described.get("ReadReplicaSourceDBInstanceIdentifier") is None
    assert described["BackupRetentionPeriod"] == env.config.backup_retention_days
    assert env.dr_parameter_value() == env.endpoint(target)
    # The source forgets its cross-region replica, listed by ARN (fidelity extension).
    listed = env.describe(env.primary).get("ReadReplicaDBInstanceIdentifiers", [])
    assert not any(target in entry for entry in listed), listed
    if primary_side:
        host, port = env.endpoint(target).rsplit(":", 1)
        document = env.secret_document()
        assert env.parameter_value() == env.endpoint(target)
        assert (document["host"], document["port"], document["dbInstanceIdentifier"]) == (
            host, int(port), target)
        assert document["password"] == PASSWORD
        assert env.tags(target)[TAG_PHASE] == "complete"


# verify ---------------------------------------------------------------------------------------

def test_verify_checks_the_dr_replica_and_parameter(env: Deployed) -> None:
    code, out, err = env.run("verify")

    assert (code, err) == (0, "")
    assert lines(out, "FAIL") == [] and lines(out, "WARN") == []
    assert f"writer: {env.primary}" in out.splitlines()[0]
    primary_arn = env.describe(env.primary)["DBInstanceArn"]
    assert env.dr is not None
    r = f"PASS  rds {dr(env)}"
    for expected in (
        "PASS  stack RedundantDb-local-DrReplica: status = CREATE_COMPLETE",
        f"{r}: status = available",
        f"{r}: replicates from the writer (by ARN) = {primary_arn}",
        f"{r}: encryption key is the DR CMK = {env.dr.key_arn}",
        f"{r}: deletion protection = True",
        f"{r}: multi-AZ = True",
        f"{r}: publicly accessible = False",
        f"{r}: availability zones = {DR_REGION}a",
        f"PASS  ssm {env.dr.parameter} ({DR_REGION}): names the writer = "
        f"{env.endpoint(env.primary)}",
        f"PASS  secret local-postgres-credentials: replica in {DR_REGION} in sync = InSync",
        f"PASS  secret local-postgres-credentials: replica in {DR_REGION}: encryption key is the DR "
        f"foundation CMK = {env.dr.foundation_key_arn}",
    ):
        assert expected in out.splitlines(), expected
    # The data path is unreachable here (moto's endpoints resolve nowhere): one SKIP.
    assert out.splitlines()[-1].endswith("0 failed, 0 warnings, 1 skipped")
    assert env.describe(env.primary)["ReadReplicaDBInstanceIdentifiers"] == [
        env.replicas[0], env.describe(dr(env))["DBInstanceArn"]]


def test_verify_fails_on_each_broken_dr_promise(env: Deployed) -> None:
    assert env.dr is not None
    replica = env.db(dr(env))
    other_key = env.dr.clients.kms.create_key(Description="other")["KeyMetadata"]["Arn"]
    replica.kms_key_id, replica.deletion_protection = other_key, False
    replica.multi_az, replica.availability_zone = False, f"{DR_REGION}c"
    replica.status = "storage-full"
    env.dr.clients.ssm.put_parameter(Name=env.dr.parameter, Value="elsewhere.example:1",
                                     Overwrite=True)

    code, out, _ = env.run("verify")

    assert code == 1
    p = f"FAIL  rds {dr(env)}"
    assert lines(out, "FAIL") == [
        f"{p}: status: expected available, actual storage-full",
        f"{p}: encryption key is the DR CMK: expected {env.dr.key_arn}, actual {other_key}",
        f"{p}: deletion protection: expected True, actual False",
        f"{p}: multi-AZ: expected True, actual False",
        f"{p}: availability zones: expected within {DR_REGION}a, {DR_REGION}b, actual "
        f"{DR_REGION}c",
        f"FAIL  ssm {env.dr.parameter} ({DR_REGION}): names the writer: expected "
        f"{env.endpoint(env.primary)}, actual elsewhere.example:1",
    ]


def test_verify_fails_when_the_secret_is_not_replicated(
        regions: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch) -> None:
    env = fresh_dr_environment(*regions, monkeypatch, replicate_secret=False)

    code, out, _ = env.run("verify")

    assert code == 1
    assert env.dr is not None
    assert lines(out, "FAIL") == [
        f"FAIL  secret local-postgres-credentials: replicated to {DR_REGION}: expected a replica "
        f"encrypted with {env.dr.foundation_key_arn}, actual none (the DR region has no copy of the "
        "credentials: replicate the secret (ReplicaRegions) with `cdk deploy`)"]


def test_verify_fails_the_secret_replica_key_when_the_dr_foundation_is_unreadable(
        env: Deployed) -> None:
    assert env.dr is not None
    env.dr.clients.cloudformation.delete_stack(StackName="RedundantDb-local-DrFoundation")

    code, out, _ = env.run("verify")

    assert code == 1
    [failure] = lines(out, "FAIL")
    assert failure.startswith(
        f"FAIL  secret local-postgres-credentials: replica in {DR_REGION}: encryption key is the DR "
        f"foundation CMK: expected the DrFoundation stack's KeyArn, actual "
        f"{env.dr.foundation_key_arn} (unknown: stack RedundantDb-local-DrFoundation does not "
        "exist")


def test_verify_reports_an_unreadable_dr_region_and_still_checks_the_primary(
        env: Deployed) -> None:
    assert env.dr is not None
    env.dr = dataclasses.replace(env.dr, clients=unreachable(env.dr.clients, "cloudformation"))

    code, out, _ = env.run("verify")

    assert code == 1
    assert lines(out, "FAIL") == [
        f"FAIL  stack RedundantDb-local-DrReplica: readable in {DR_REGION}: expected the DR "
        "replica stack's outputs, actual Could not connect to the endpoint URL: "
        "\"https://unreachable.invalid\""]
    assert f"PASS  rds {env.primary}: status = available" in out


def test_verify_fails_when_the_dr_replica_is_missing_or_replicates_from_elsewhere(
        env: Deployed) -> None:
    env.db(dr(env)).source_db_instance_identifier = \
        f"arn:aws:rds:{REGION}:123456789012:db:someone-else"

    code, out, _ = env.run("verify")

    assert code == 1
    assert lines(out, "FAIL") == [
        f"FAIL  rds {dr(env)}: replicates from the writer (by ARN): expected "
        f"{env.describe(env.primary)['DBInstanceArn']}, actual "
        f"arn:aws:rds:{REGION}:123456789012:db:someone-else"]

    # (moto 5.2.5 cannot delete a cross-region replica: its source lists it by ARN but
    # DeleteDBInstance removes it by identifier, a ValueError; drop it from the backend.)
    env.dr_backend.databases.pop(dr(env))
    code, out, _ = env.run("verify")

    assert code == 1
    assert lines(out, "FAIL") == [
        f"FAIL  rds {dr(env)}: DR replica exists: expected an instance in {DR_REGION}, actual "
        "missing (recreate it with `cdk deploy`)"]


def test_verify_after_a_regional_failover_accepts_the_dr_replica_as_the_writer(
        env: Deployed) -> None:
    env.db(env.primary).status = "failed"
    assert env.run(*REGIONAL)[0] == 0

    code, out, _ = env.run("verify")

    assert code == 0, out
    assert f"writer: {dr(env)}" in out.splitlines()[0]
    assert lines(out, "FAIL") == []
    assert [line.split(":")[0] for line in lines(out, "WARN")] == [
        f"WARN  rds {env.primary}", f"WARN  rds {env.replicas[0]}",
        "WARN  stack RedundantDb-local-Database", "WARN  config local"]
    assert f"PASS  rds {dr(env)}: encryption key is the DR CMK" in out
    assert f"PASS  rds {dr(env)}: replication source = none" in out
    assert f"SKIP  rds {dr(env)}: DR replica checks (promoted by a regional failover" in out
    assert env.run("verify", "--strict")[0] == 1


def test_verify_fails_while_the_primary_region_is_not_repointed(env: Deployed) -> None:
    env.probe = unreachable(env.clients)
    assert env.run(*REGIONAL)[0] == 0
    env.probe = None

    code, out, _ = env.run("verify")

    assert code == 1
    assert f"writer: {dr(env)}" in out.splitlines()[0]
    assert [line.split(":")[0] + ":" + line.split(":")[1] for line in lines(out, "FAIL")] == [
        f"FAIL  ssm {env.parameter}: writer-endpoint parameter names the writer",
        "FAIL  secret local-postgres-credentials: host/port name the writer",
        "FAIL  secret local-postgres-credentials: dbInstanceIdentifier"]
    assert "re-run `python -m ops failover --region-dr`" in out


# failover --region-dr: refusals -------------------------------------------------------------

def test_refuses_when_the_primary_is_healthy(env: Deployed) -> None:
    before = snapshot(env)

    code, out, err = env.run(*REGIONAL)

    assert (code, out) == (3, "")
    assert err == (f"error: the writer {env.primary} is healthy (status is available): "
                   "refusing to fail over. For a planned regional failover stop the "
                   "application's writes, wait for a replica lag of 0, then re-run with "
                   "--force\n")
    assert snapshot(env) == before


def test_refuses_without_a_dr_region(regions: tuple[Clients, Clients],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    env = fresh_environment(regions[0], monkeypatch)

    code, _, err = env.run(*REGIONAL, "--force")

    assert code == 3
    assert err == ("error: env local has no DR region: config field dr_region is None "
                   "(config/environments.py). Set dr_region and deploy the DR stacks (`cdk "
                   "deploy -c env=...`) before a regional failover\n")


@pytest.mark.parametrize("status", ["storage-full", "modifying"])
def test_refuses_when_the_dr_replica_is_not_available(env: Deployed, status: str) -> None:
    env.db(env.primary).status = "failed"
    env.db(dr(env)).status = status
    before = snapshot(env)

    code, _, err = env.run(*REGIONAL)

    assert code == 3
    assert err == (f"error: the DR replica {dr(env)} is not available (status {status}): "
                   "refusing to promote it\n")
    assert snapshot(env) == before


def test_refuses_a_dr_replica_of_another_writer(env: Deployed) -> None:
    """After an in-region failover the DR replica still follows the old primary: promoting it
    would lose every write made on the new writer."""
    env.delete(env.primary)
    assert env.run("failover")[0] == 0
    env.db(env.replicas[0]).status = "failed"

    code, _, err = env.run(*REGIONAL)

    assert code == 3
    assert err.startswith(f"error: the DR replica {dr(env)} replicates from {env.primary}, not "
                          f"from the writer {env.replicas[0]}: promoting it would lose")


def test_refuses_replica_with_region_dr(env: Deployed, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        env.run(*REGIONAL, "--replica", env.replicas[0])

    assert exit_info.value.code == 2
    assert "--replica does not apply with --region-dr" in capsys.readouterr().err


# failover --region-dr: plans and runs ---------------------------------------------------------

def test_dry_run_prints_the_plan_with_the_rpo_estimate_and_changes_nothing(env: Deployed) -> None:
    env.db(env.primary).status = "failed"
    env.put_lag(dr(env), 12.0)
    before = snapshot(env)

    code, out, _ = env.run(*REGIONAL, "--dry-run")

    assert code == 0
    assert snapshot(env) == before
    assert env.dr is not None
    assert (f"  writer now:  {env.primary} in {REGION} (status is failed)") in out
    assert (f"  promote:     {dr(env)} in {DR_REGION} (available) - the cross-region replica "
            f"of {env.primary}") in out
    assert f"  RPO:         up to 12 s of writes made in {REGION} may be lost (latest " in out
    assert (f"    4. set SSM parameter {env.dr.parameter} in {DR_REGION} to "
            f"{env.endpoint(dr(env))} (now {env.endpoint(env.primary)})") in out
    assert f"    6. best effort: set host/port of secret {env.secret_arn} in {REGION}" in out
    assert out.rstrip().endswith("Dry run: nothing was changed.")


def test_fails_over_to_the_dr_region_and_repoints_everything(env: Deployed) -> None:
    env.db(env.primary).status = "failed"
    env.put_lag(dr(env), 3.0, age=300)  # stale and replication not reported: lag + age

    code, out, err = env.run(*REGIONAL)

    assert (code, err) == (0, ""), err
    assert_regional_failover(env)
    assert f"up to 303 s of writes made in {REGION} may be lost" in out
    assert env.tags(dr(env))[TAG_RPO] == "303s"
    assert env.tags(dr(env))[TAG_FROM] == env.primary
    assert f"==> failover complete: {dr(env)} is the writer at {env.endpoint(dr(env))}" in out
    assert lines(out, "WARN") == []
    assert f"Split-brain risk: when {REGION} comes back, {env.primary}" in out


def test_force_fails_over_from_a_healthy_primary(env: Deployed) -> None:
    env.put_lag(dr(env), 4.0)

    code, out, _ = env.run(*REGIONAL, "--force", "--dry-run")

    assert code == 0
    assert f"--force: failing over although {env.primary} is healthy." in out
    assert (f"  warning:     {env.primary} is healthy: stop the application's writes and wait "
            "for a ReplicaLag of 0") in out


def test_primary_region_down_fails_over_and_a_rerun_finishes_once_it_is_back(
        env: Deployed) -> None:
    """The primary region does not answer: counted as an unhealthy writer; the DR parameter is
    repointed, the primary's parameter and secret are WARNed; once back, a re-run repoints
    them and nothing else."""
    env.probe = unreachable(env.clients)

    code, out, err = env.run(*REGIONAL)

    assert (code, err) == (0, ""), err
    assert f"  writer now:  {env.primary} in {REGION} ({REGION} does not answer (" in out
    assert "  RPO:         unknown: no ReplicaLag datapoint in the last 10 minutes" in out
    assert_regional_failover(env, primary_side=False)
    warnings = lines(out, "WARN")
    assert len(warnings) == 2
    assert warnings[0].startswith(f"WARN  SSM parameter {env.parameter} in {REGION} not "
                                  f"repointed: {REGION} does not answer")
    assert warnings[1].startswith(f"WARN  credentials secret in {REGION} not repointed: not "
                                  "located")
    assert f"The DR region {DR_REGION} has no copy of the secret" in warnings[1]
    assert all("re-run `python -m ops failover --env local --region-dr`" in w for w in warnings)
    assert env.tags(dr(env))[TAG_PHASE] == "primary-region-pending"
    assert env.parameter_value() == env.endpoint(env.primary)  # not reached

    env.probe = None  # the region is back
    code, out, _ = env.run(*REGIONAL)

    assert code == 0
    assert (f"Resuming an unfinished regional failover to {dr(env)} (journal phase "
            "primary-region-pending)") in out
    assert f"==> promote {dr(env)}: already requested, skipped" in out
    assert f"==> repoint SSM parameter ({DR_REGION}): {env.dr.parameter} already" in out \
        if env.dr else False
    assert f"==> repoint SSM parameter ({REGION}): {env.parameter} = " in out
    assert f"==> repoint secret ({REGION}): host/port = " in out
    assert_regional_failover(env)


def test_rerun_after_a_crash_between_the_dr_and_the_primary_parameter(env: Deployed) -> None:
    env.db(env.primary).status = "failed"
    calls = []

    def crash(ssm: Any, name: str, endpoint: object) -> str:
        calls.append(ssm.meta.region_name)
        if ssm.meta.region_name == REGION:
            raise KeyboardInterrupt  # the operator's laptop dies here
        return original(ssm, name, endpoint)

    original = ops.promotion.repoint_parameter
    with pytest.MonkeyPatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(ops.promotion, "repoint_parameter", crash)
        env.run(*REGIONAL)
    assert calls == [DR_REGION, REGION]
    assert env.tags(dr(env))[TAG_PHASE] == "promote-requested"

    code, out, err = env.run(*REGIONAL)

    assert code == 0, err
    assert "(journal phase promote-requested)" in out
    assert f"==> promote {dr(env)}: already requested, skipped" in out
    assert_regional_failover(env)


def test_primary_region_down_with_a_secret_replica_output_names_the_replica(
        regions: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch) -> None:
    env = fresh_dr_environment(*regions, monkeypatch, secret_output=True)
    env.probe = unreachable(env.clients)

    code, out, _ = env.run(*REGIONAL)

    assert code == 0
    secret_warning = lines(out, "WARN")[1]
    assert secret_warning.startswith(f"WARN  credentials secret in {REGION} not repointed: not "
                                     "located")
    assert (f"holds a read-only replica of the secret "
            f"({env.secret_arn.replace(REGION, DR_REGION)})") in secret_warning


def test_secret_unreachable_is_a_warning(env: Deployed) -> None:
    env.db(env.primary).status = "failed"
    env.probe = unreachable(env.clients, "secretsmanager")

    code, out, _ = env.run(*REGIONAL)

    assert code == 0
    assert_regional_failover(env, primary_side=False)
    assert env.parameter_value() == env.endpoint(dr(env))  # the primary region answered
    [warning] = lines(out, "WARN")
    assert warning.startswith(f"WARN  secret {env.secret_arn} not repointed: {REGION} does not "
                              "answer")
    # The replica's ARN is derived from the primary's (the primary region answered).
    assert (f"The DR region {DR_REGION} holds a read-only replica of the secret "
            f"({env.secret_arn.replace(REGION, DR_REGION)}): applications there read the "
            "credentials from it and the endpoint from SSM") in warning
    assert env.tags(dr(env))[TAG_PHASE] == "primary-region-pending"


def test_rerun_after_a_missed_secret_plans_only_the_secret(env: Deployed) -> None:
    """The primary region answered for its parameter but not for the secret: the re-run's plan
    says the parameters are done and the secret is still to repoint."""
    assert env.dr is not None
    env.db(env.primary).status = "failed"
    env.probe = unreachable(env.clients, "secretsmanager")
    assert env.run(*REGIONAL)[0] == 0
    env.probe = None

    code, out, _ = env.run(*REGIONAL, "--dry-run")

    assert code == 0
    steps = [line for line in out.splitlines() if line.startswith("    ")]
    assert steps[3:6] == [
        f"    4. SSM parameter {env.dr.parameter} in {DR_REGION} already names {dr(env)}, "
        "skipped",
        f"    5. SSM parameter {env.parameter} in {REGION} already names {dr(env)}, skipped",
        f"    6. best effort: set host/port of secret {env.secret_arn} in {REGION} to "
        f"{env.endpoint(dr(env))} (now {env.endpoint(env.primary)}; other fields kept, value "
        "never shown)",
    ]
    assert env.run(*REGIONAL)[0] == 0
    assert_regional_failover(env)


def test_rerun_after_a_timeout_resumes_without_promoting_again(
        env: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    env.db(env.primary).status = "failed"
    env.put_lag(dr(env), 2.0)
    spy = PromoteSpy(complete=False).install(monkeypatch)

    code, _, err = env.run(*REGIONAL, "--timeout", "30", "--poll", "15")

    assert code == 1
    assert err.startswith(f"error: {dr(env)} is not a standalone available instance after 30s")
    assert env.tags(dr(env))[TAG_PHASE] == "promote-requested"
    assert env.tags(dr(env))[TAG_RPO] == "2s"

    finish_promotion(env, dr(env))
    env.db(env.primary).status = "available"  # no health gate on a resumed failover
    code, out, _ = env.run(*REGIONAL)

    assert code == 0
    assert "RPO:         estimated when the promotion was requested: 2s" in out
    assert spy.calls == [dr(env)]
    assert_regional_failover(env)


def test_promote_error_removes_the_journal(env: Deployed,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    env.db(env.primary).status = "failed"
    before = snapshot(env)
    PromoteSpy(fail=1).install(monkeypatch)

    code, _, err = env.run(*REGIONAL)

    assert code == 1
    assert err.startswith(f"error: promote_read_replica({dr(env)}) failed: ")
    assert snapshot(env) == before


def test_rerun_after_completion_changes_nothing(env: Deployed) -> None:
    env.db(env.primary).status = "failed"
    assert env.run(*REGIONAL)[0] == 0
    before = snapshot(env)

    code, _, err = env.run(*REGIONAL)
    forced, _, forced_err = env.run(*REGIONAL, "--force")

    assert (code, forced) == (3, 3)
    assert err.startswith(f"error: the writer {dr(env)} is healthy")
    assert forced_err == (f"error: no replica to promote: the DR replica {dr(env)} is already "
                          "the writer (status available)\n")
    assert snapshot(env) == before


def test_primary_region_that_refuses_is_not_assumed_down(env: Deployed) -> None:
    """An answer such as AccessDenied is no evidence of an outage: refuse without --force."""
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"},
                          "ResponseMetadata": {"HTTPStatusCode": 403}}, "DescribeStacks")
    env.probe = unreachable(env.clients, "cloudformation", error=denied)

    code, _, err = env.run(*REGIONAL)

    assert code == 3
    assert err.startswith(f"error: cannot assess the writer: {REGION} refused (AccessDenied: "
                          f"no). Check the credentials' permissions in {REGION}")


# The in-region failover of an env with a DR region ------------------------------------------

def test_in_region_failover_also_repoints_the_dr_parameter(env: Deployed) -> None:
    env.delete(env.primary)

    dr_before = env.dr_parameter_value()

    code, out, _ = env.run("failover")

    assert code == 0
    assert env.dr is not None
    assert (f"    6. best effort: set SSM parameter {env.dr.parameter} in {DR_REGION} to "
            f"{env.endpoint(env.replicas[0])} (now {dr_before})") in out.splitlines()
    assert env.dr_parameter_value() == env.parameter_value() == env.endpoint(env.replicas[0])
    assert f"==> repoint SSM parameter ({DR_REGION}): {env.dr.parameter} = " in out
    # The DR replica still follows the old primary: only a redeploy rebuilds it. A known
    # state after a failover (WARN, as the reduced redundancy); --strict fails on it.
    code, out, _ = env.run("verify")
    assert code == 0
    assert lines(out, "FAIL") == []
    old_arn = f"arn:aws:rds:{REGION}:123456789012:db:{env.primary}"
    assert (f"WARN  rds {dr(env)}: replicates from the writer (by ARN): expected "
            f"arn:aws:rds:{REGION}:123456789012:db:{env.replicas[0]}, actual {old_arn} (no "
            f"regional redundancy: it still follows the demoted {env.primary}") in out
    assert env.run("verify", "--strict")[0] == 1
    # ... and the regional failover refuses to promote it (it would lose the new writer's data).
    code, _, err = env.run("failover", "--region-dr", "--force")
    assert code == 3
    assert f"replicates from {env.primary}, not from the writer {env.replicas[0]}" in err


def test_in_region_failover_with_the_dr_region_unreachable_warns(env: Deployed) -> None:
    dr_parameter_before = env.dr_parameter_value()
    env.delete(env.primary)
    env.dr_probe = unreachable(env.dr.clients if env.dr else env.clients)

    code, out, _ = env.run("failover")

    assert code == 0
    assert (f"    6. best effort: set SSM parameter <the DrReplica stack's WriterEndpointParameter "
            f"output> in {DR_REGION} to {env.endpoint(env.replicas[0])} (unreadable now: "
            f"{DR_REGION} does not answer (Could not connect to the endpoint URL") in out
    [warning] = lines(out, "WARN")
    assert warning.startswith(f"WARN  SSM parameter <the DrReplica stack's "
                              f"WriterEndpointParameter output> in {DR_REGION} not repointed: "
                              f"not located ({DR_REGION} does not answer (Could not connect to "
                              "the endpoint URL")
    assert (f"aws ssm put-parameter --region {DR_REGION} --name <the DrReplica stack's "
            f"WriterEndpointParameter output> --value {env.endpoint(env.replicas[0])} "
            "--overwrite") in warning
    assert env.parameter_value() == env.endpoint(env.replicas[0])
    assert env.dr_parameter_value() == dr_parameter_before


# The RPO estimate ------------------------------------------------------------------------------

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
REPLICATING = {"StatusInfos": [{"StatusType": "read replication", "Status": "replicating",
                                "Normal": True}]}
BROKEN = {"StatusInfos": [{"StatusType": "read replication", "Status": "error",
                           "Normal": False, "Message": "source unreachable"}]}


@pytest.mark.parametrize(("instance", "lag", "age", "seconds"), [
    (REPLICATING, 5.0, 60, 5.0),  # healthy and fresh: the lag itself
    (REPLICATING, 5.0, 600, 605.0),  # stale datapoint: its age counts too
    (BROKEN, 5.0, 60, 65.0),  # replication broken: writes since the datapoint count
    ({}, 5.0, 0, 5.0),  # not reported, datapoint of now
    (REPLICATING, None, 0, None),  # no datapoint: unknown
    (BROKEN, -1.0, 0, None),  # MySQL's -1: replication not running
])
def test_rpo_estimate(instance: dict[str, Any], lag: float | None, age: int,
                      seconds: float | None) -> None:
    sample = None if lag is None else LagSample(seconds=lag,
                                                timestamp=NOW - timedelta(seconds=age))
    rpo = estimate_rpo({"DBInstanceIdentifier": "dr", **instance}, sample,
                       primary_region="eu-west-1", dr_region="eu-central-1", now=NOW)

    assert rpo.seconds == seconds
    if seconds is None:
        assert rpo.text.startswith("unknown: ")
        assert "Every write made in eu-west-1 since the replica last caught up" in rpo.text
    else:
        assert rpo.text.startswith(f"up to {seconds:.0f} s of writes made in eu-west-1 may be "
                                   "lost (latest ReplicaLag ")
