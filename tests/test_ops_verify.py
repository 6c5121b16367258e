"""`python -m ops verify` against moto's in-process mock: a healthy deployment passes every check;
each broken promise is one FAIL line naming the resource, the expected and the actual value."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.secretsmanager.models import secretsmanager_backends

from ops.aws import Clients
from ops.errors import OpsError
from ops.keys import KeyResolver
from ops.outputs import parse_outputs
from tests.ops_fixtures import (
    PASSWORD,
    REGION,
    Deployed,
    fresh_environment,
    local_config,
    mocked_aws,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def aws() -> Iterator[Clients]:
    with mocked_aws() as clients:
        yield clients


@pytest.fixture
def env(aws: Clients, monkeypatch: pytest.MonkeyPatch) -> Deployed:
    return fresh_environment(aws, monkeypatch)


def lines(text: str, status: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(status)]


def test_healthy_deployment_passes_every_check(env: Deployed) -> None:
    code, out, err = env.run("verify")

    assert (code, err) == (0, "")
    assert lines(out, "FAIL") == [] and lines(out, "WARN") == []
    assert f"writer: {env.primary}" in out.splitlines()[0]
    for expected in (
        f"PASS  rds {env.primary}: status = available",
        f"PASS  rds {env.primary}: encryption key is the stack's CMK",
        f"PASS  rds {env.primary}: backup retention (days) = 7",
        f"PASS  rds {env.primary}: deletion protection = True",
        f"PASS  rds {env.primary}: multi-AZ = True",
        f"PASS  rds {env.primary}: publicly accessible = False",
        f"PASS  rds {env.replicas[0]}: replicates from the writer = {env.primary}",
        f"PASS  rds {env.replicas[0]}: availability zones = us-east-1b",
        "PASS  secret local-postgres-credentials: encryption key is the stack's CMK",
        "PASS  secret local-postgres-credentials: rotation enabled = True",
        "PASS  secret local-postgres-credentials: rotation interval (days) = 30",
        f"PASS  secret local-postgres-credentials: host/port name the writer = "
        f"{env.endpoint(env.primary)}",
        f"PASS  ssm {env.parameter}: writer endpoint host:port = {env.endpoint(env.primary)}",
    ):
        assert any(line.startswith(expected) for line in out.splitlines()), expected
    # The data path: moto's endpoint resolves nowhere, as real AWS from outside the VPC.
    [skip] = lines(out, "SKIP")
    assert skip.startswith(f"SKIP  rds {env.primary}: connects with the secret over TLS "
                           f"(sslmode=require) ({env.endpoint(env.primary)} cannot be reached "
                           "from here (")
    assert out.splitlines()[-1].endswith("0 failed, 0 warnings, 1 skipped")
    assert PASSWORD not in out + err


def test_fails_on_each_broken_primary_promise(env: Deployed) -> None:
    """Every promise broken at once: exactly one FAIL line each, naming expected and actual."""
    env.clients.rds.modify_db_instance(
        DBInstanceIdentifier=env.primary, ApplyImmediately=True, BackupRetentionPeriod=1,
        DeletionProtection=False, MultiAZ=False, PubliclyAccessible=True)
    other_key = env.clients.kms.create_key(Description="not the stack's")["KeyMetadata"]["Arn"]
    env.db(env.primary).kms_key_id = other_key  # the API cannot re-key an instance
    env.db(env.primary).status = "storage-full"

    code, out, _ = env.run("verify")

    assert code == 1
    p = f"FAIL  rds {env.primary}"
    assert lines(out, "FAIL") == [
        f"{p}: status: expected available, actual storage-full",
        f"{p}: encryption key is the stack's CMK: expected {env.key_arn}, actual {other_key}",
        f"{p}: backup retention (days): expected 7, actual 1",
        f"{p}: deletion protection: expected True, actual False",
        f"{p}: multi-AZ: expected True, actual False",
        f"{p}: publicly accessible: expected False, actual True",
    ]


def test_fails_when_primary_deleted(env: Deployed) -> None:
    env.delete(env.primary)

    code, out, _ = env.run("verify")

    assert code == 1
    assert (f"FAIL  rds {env.primary}: writer exists: expected an instance, actual missing"
            in out)


def test_fails_when_replica_missing(env: Deployed) -> None:
    env.delete(env.replicas[0])

    code, out, _ = env.run("verify")

    assert code == 1
    assert lines(out, "FAIL") == [
        f"FAIL  rds {env.replicas[0]}: replica exists: expected an instance, actual missing "
        "(recreate it with `cdk deploy`)",
        "FAIL  stack RedundantDb-local-Database: available replicas of the writer: expected 1, "
        "actual 0",
    ]


def test_fails_on_each_broken_replica_promise(env: Deployed) -> None:
    replica = env.db(env.replicas[0])
    replica.status, replica.availability_zone = "failed", "us-east-1c"
    replica.source_db_instance_identifier = "someone-else"

    code, out, _ = env.run("verify")

    assert code == 1
    p = f"FAIL  rds {env.replicas[0]}"
    assert lines(out, "FAIL") == [
        f"{p}: status: expected available, actual failed",
        f"{p}: replicates from the writer: expected {env.primary}, actual someone-else",
        f"{p}: availability zones: expected within us-east-1a, us-east-1b, actual us-east-1c",
        "FAIL  stack RedundantDb-local-Database: available replicas of the writer: expected 1, "
        "actual 0",
    ]


def test_fails_when_secret_is_not_bound_to_the_writer(env: Deployed) -> None:
    document = env.secret_document() | {"host": "elsewhere.example.com", "port": 1234}
    env.clients.secretsmanager.put_secret_value(SecretId=env.secret_arn,
                                                SecretString=json.dumps(document))
    # moto's CancelRotateSecret wants a rotation Lambda; switch rotation off in its record.
    secretsmanager_backends[DEFAULT_ACCOUNT_ID][REGION].secrets[env.secret_arn] \
        .rotation_enabled = False

    code, out, err = env.run("verify")

    assert code == 1
    failures = lines(out, "FAIL")
    assert "FAIL  secret local-postgres-credentials: rotation enabled: expected True, actual False" \
        in failures
    assert (f"FAIL  secret local-postgres-credentials: host/port name the writer: expected "
            f"{env.endpoint(env.primary)}, actual elsewhere.example.com:1234") in failures
    assert PASSWORD not in out + err


def test_fails_when_secret_uses_another_key(env: Deployed) -> None:
    other = env.clients.kms.create_key(Description="not the stack's")["KeyMetadata"]["KeyId"]
    env.clients.secretsmanager.update_secret(SecretId=env.secret_arn, KmsKeyId=other)

    code, out, _ = env.run("verify")

    assert code == 1
    assert lines(out, "FAIL") == [
        f"FAIL  secret local-postgres-credentials: encryption key is the stack's CMK: expected "
        f"{env.key_arn}, actual {other}"]


def test_fails_when_secret_deleted(env: Deployed) -> None:
    env.clients.secretsmanager.delete_secret(SecretId=env.secret_arn,
                                             ForceDeleteWithoutRecovery=True)

    code, out, _ = env.run("verify")

    assert code == 1
    assert lines(out, "FAIL") == [
        f"FAIL  secret {env.secret_arn}: secret exists: expected a secret, actual missing"]


def test_fails_when_writer_parameter_missing_and_falls_back_to_the_primary(env: Deployed) -> None:
    env.clients.ssm.delete_parameter(Name=env.parameter)

    code, out, _ = env.run("verify")

    assert code == 1
    assert lines(out, "FAIL") == [
        f"FAIL  ssm {env.parameter}: writer-endpoint parameter: expected host:port, actual "
        f"missing (checks fall back to {env.primary})"]
    assert f"PASS  rds {env.primary}: status = available" in out


def test_fails_when_writer_parameter_names_no_instance_of_the_stack(env: Deployed) -> None:
    env.clients.ssm.put_parameter(Name=env.parameter, Value="db.example.com:3307",
                                  Overwrite=True)

    code, out, _ = env.run("verify")

    assert code == 1
    assert lines(out, "FAIL")[0].startswith(
        f"FAIL  ssm {env.parameter}: writer-endpoint parameter names an instance: expected the "
        f"endpoint of one of {env.primary}, {env.replicas[0]}, actual db.example.com:3307")


def test_fails_when_stack_missing(env: Deployed) -> None:
    code, out, err = env.run("verify", "--stack-prefix", "Nope")

    assert (code, out) == (1, "")
    assert err.startswith("error: stack Nope-local-Database does not exist")


def test_after_failover_the_promoted_replica_is_the_writer(env: Deployed) -> None:
    env.delete(env.primary)
    assert env.run("failover")[0] == 0

    code, out, _ = env.run("verify")

    assert code == 0, out
    assert f"writer: {env.replicas[0]}" in out.splitlines()[0]
    assert lines(out, "FAIL") == []
    assert [line.split(":")[0] for line in lines(out, "WARN")] == [
        f"WARN  rds {env.primary}", "WARN  stack RedundantDb-local-Database",
        "WARN  config local"]
    # Not declared yet: the fix is the declaration (`failover --record` writes it).
    assert (f"WARN  config local: the live writer is the declared writer: expected "
            f"{env.primary}, actual {env.replicas[0]} (a failover promoted {env.replicas[0]}: "
            f"declare it (append {{\"writer\": \"{env.replicas[0]}\", \"region\": "
            "\"us-east-1\"}") in out
    assert f"PASS  rds {env.replicas[0]}: replication source = none" in out
    assert f"PASS  rds {env.replicas[0]}: backup retention (days) = 7" in out
    assert f"SKIP  rds {env.replicas[0]}: replica checks (promoted" in out
    assert env.run("verify", "--strict")[0] == 1


@pytest.mark.parametrize(("source", "status"), [
    ("primary", "WARN"),        # left behind on the demoted primary: known until the reconcile
    ("someone-else", "FAIL"),   # any other source is a broken promise
])
def test_after_failover_a_replica_left_on_the_old_primary_is_a_warning(
        aws: Clients, monkeypatch: pytest.MonkeyPatch, source: str, status: str) -> None:
    env = fresh_environment(aws, monkeypatch, config=local_config(replica_count=2))
    assert env.run("failover", "--force")[0] == 0
    other = env.replicas[1]
    if source != "primary":
        env.db(other).source_db_instance_identifier = source
    expected_source = env.primary if source == "primary" else source

    code, out, _ = env.run("verify")

    assert code == (0 if status == "WARN" else 1), out
    [line] = [line for line in out.splitlines() if line.startswith(f"{status}  rds {other}")]
    assert line.startswith(f"{status}  rds {other}: replicates from the writer: expected "
                           f"{env.replicas[0]}, actual {expected_source}")


def test_fails_when_promotion_did_not_detach_the_writer(env: Deployed) -> None:
    """A writer parameter naming a replica that still replicates is a FAIL, not a writer."""
    env.clients.ssm.put_parameter(Name=env.parameter, Value=env.endpoint(env.replicas[0]),
                                  Overwrite=True)

    code, out, _ = env.run("verify")

    assert code == 1
    assert (f"FAIL  rds {env.replicas[0]}: replication source: expected none (the writer is no "
            f"read replica), actual {env.primary}") in lines(out, "FAIL")


def test_key_references_resolve_to_the_same_key(env: Deployed) -> None:
    kms = env.clients.kms
    key_id = kms.describe_key(KeyId=env.key_arn)["KeyMetadata"]["KeyId"]
    alias = "alias/local-postgres-database"
    alias_arn = env.key_arn.split(":key/")[0] + ":" + alias
    other = kms.create_key(Description="other")["KeyMetadata"]["Arn"]
    keys = KeyResolver(kms)

    for reference in (key_id, env.key_arn, alias, alias_arn):
        assert keys.same_key(reference, env.key_arn), reference
        assert not keys.same_key(reference, other), reference
    assert not keys.same_key(None, env.key_arn)
    assert not keys.same_key("alias/unknown", env.key_arn)


def test_fails_on_missing_or_malformed_outputs() -> None:
    complete = {"PrimaryIdentifier": "p", "PrimaryEndpoint": "p.example", "Port": "3307",
                "SecretArn": "arn:s", "KeyArn": "arn:k", "WriterEndpointParameter": "/w",
                "Replica2Identifier": "r2", "Replica2Endpoint": "r2.example",
                "Replica10Identifier": "r10", "Replica10Endpoint": "r10.example"}
    parsed = parse_outputs(stack_name="S", stack_status="CREATE_COMPLETE", outputs=complete)
    assert [r.identifier for r in parsed.replicas] == ["r2", "r10"]

    with pytest.raises(OpsError, match="lacks output\\(s\\) KeyArn, WriterEndpointParameter"):
        parse_outputs(stack_name="S", stack_status="CREATE_COMPLETE",
                      outputs={k: v for k, v in complete.items()
                               if k not in ("KeyArn", "WriterEndpointParameter")})
    with pytest.raises(OpsError, match="incomplete Replica2 output pair"):
        parse_outputs(stack_name="S", stack_status="CREATE_COMPLETE",
                      outputs={k: v for k, v in complete.items() if k != "Replica2Endpoint"})
    with pytest.raises(OpsError, match="Port='x' is not a port number"):
        parse_outputs(stack_name="S", stack_status="CREATE_COMPLETE",
                      outputs=complete | {"Port": "x"})


def test_ops_package_does_not_import_aws_cdk() -> None:
    probe = "import sys, ops.cli; sys.exit('aws_cdk' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=False).returncode == 0


def test_an_unreadable_secret_is_a_failure_that_never_shows_its_value(env: Deployed) -> None:
    env.clients.secretsmanager.put_secret_value(SecretId=env.secret_arn,
                                                SecretString=f"password={PASSWORD}")

    code, out, _ = env.run("verify")  # `run` fails the test if the password is printed

    assert code == 1
    assert lines(out, "FAIL") == [
        f"FAIL  secret local-postgres-credentials: host/port name the writer: expected "
        f"{env.endpoint(env.primary)}, actual secret {env.secret_arn} is not a JSON document "
        "(value not shown)"]
