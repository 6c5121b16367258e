"""End to end on the embedded local AWS, through the real command lines. Env `local` has a DR
region, so every deploy bootstraps and deploys both regions (us-east-1, us-west-2) on the one
emulator.

1. In-region: deploy (bootstrap, deploy, verify), failover, verify again with the promoted
   replica as the writer, and the regional failover refused (the DR replica follows the old
   primary: promoting it would lose the new writer's writes, as on AWS).
2. Regional, on a second emulator (its deploy starts in the background with the module, so the
   two scenarios overlap): deploy, `failover --region-dr`, verify with the DR replica as the
   writer, then deploy once more (the emulator is reused, nothing changes).

Each test runs a fresh emulator on a free port in a temporary state directory; the cloud assembly
is the one the session already synthesized through the policy gate (`cdk_out` fixture), deployed
with `cdk deploy --app <dir>`, so there is no second synth.
"""

from __future__ import annotations

import re
import subprocess
import sys
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_aws import emulator as emu

pytestmark = pytest.mark.e2e  # run first, on one worker (conftest.pytest_collection_modifyitems)

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
DR_REGION = "us-west-2"
TIMEOUT = 180
PARAMETER = "/local-mysql/writer-endpoint"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def against(state_dir: Path) -> tuple[str, ...]:
    """`python -m ops` against the emulator of `state_dir` (what `make failover`/`make verify`
    do)."""
    return ("-m", "local_aws", "run", "--state-dir", str(state_dir), "--", sys.executable, "-m",
            "ops")


def clients(region: str) -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=region)


def describe(session: boto3.session.Session, endpoint: str, identifier: str) -> dict[str, Any]:
    rds = session.client("rds", endpoint_url=endpoint)
    return dict(rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0])


def parameter(session: boto3.session.Session, endpoint: str) -> str:
    return str(session.client("ssm", endpoint_url=endpoint).get_parameter(
        Name=PARAMETER)["Parameter"]["Value"])


def address(instance: dict[str, Any]) -> str:
    return f"{instance['Endpoint']['Address']}:{instance['Endpoint']['Port']}"


def _needs_ops() -> None:
    if not (REPO / "ops" / "__main__.py").exists():
        pytest.skip("the ops package (python -m ops verify/failover) is not in this checkout: "
                    "the end-to-end run needs it")


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    _needs_ops()
    state = tmp_path / "local-aws"
    yield state
    emu.stop(state_dir=state)


@dataclass
class Background:
    """A deploy running in the background on an emulator of its own."""

    state_dir: Path
    process: subprocess.Popen[str]

    def result(self) -> subprocess.CompletedProcess[str]:
        stdout, stderr = self.process.communicate(timeout=TIMEOUT)
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, stdout,
                                           stderr)


@pytest.fixture(scope="module", autouse=True)
def regional_deploy(cdk_out: dict[str, Path],
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Background]:
    """The regional scenario's deploy, started when the module starts: it runs on its own
    emulator while the in-region test uses the other one (each deploy is a chain of single
    processes, so the two overlap well on two cores)."""
    _needs_ops()
    state = tmp_path_factory.mktemp("regional") / "local-aws"
    process = subprocess.Popen(
        [sys.executable, "-m", "local_aws.deploy", "--state-dir", str(state), "--assembly",
         str(cdk_out["local"]), "--no-verify"], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    yield Background(state_dir=state, process=process)
    if process.poll() is None:
        process.kill()
        process.communicate()
    emu.stop(state_dir=state)


def test_deploy_verify_failover_verify(cdk_out: dict[str, Path], state_dir: Path) -> None:
    deploy = run("-m", "local_aws.deploy", "--state-dir", str(state_dir),
                 "--assembly", str(cdk_out["local"]))
    assert deploy.returncode == 0, output(deploy)
    assert (f"cdk bootstrap aws://{emu.ACCOUNT}/{REGION} aws://{emu.ACCOUNT}/{DR_REGION}"
            in deploy.stdout)
    summary = deploy.stdout[deploy.stdout.index("Deployed to the local AWS emulator"):]
    checks = re.search(r"verification +(\d+) checks: (\d+) passed, 0 failed", summary)
    assert checks and checks[1] == checks[2], summary
    assert re.search(r"skipped +1 resource of 1 type .*\n +AWS::Backup::BackupSelection x1",
                     summary), summary
    assert re.search(rf"stacks +{REGION}: RedundantDb-local-Network \(CREATE_COMPLETE\), "
                     r"RedundantDb-local-Database \(CREATE_COMPLETE\)\n"
                     rf" +{DR_REGION}: RedundantDb-local-DrNetwork \(CREATE_COMPLETE\), "
                     r"RedundantDb-local-DrFoundation \(CREATE_COMPLETE\), "
                     r"RedundantDb-local-DrReplica \(CREATE_COMPLETE\)", summary), summary
    assert re.search(rf"dr replica +local-mysql-dr-replica .*\({DR_REGION}, from {REGION}\)",
                     summary), summary
    for limit in ("AWS::Backup::BackupPlan.CopyActions", "AWS::RDS::DBInstance.SourceRegion",
                  "AWS::RDS::DBInstance.AutomaticBackupReplicationRegion"):
        assert f"  {limit}: " in summary, summary

    emulator = emu.status(state_dir=state_dir)
    assert emulator is not None
    failover = run(*against(state_dir), "failover", "--env", "local", "--force", "--poll", "0.2",
                   "--timeout", "30")
    assert failover.returncode == 0, output(failover)

    verify = run(*against(state_dir), "verify", "--env", "local")
    assert verify.returncode == 0, output(verify)
    assert "writer: local-mysql-replica-1" in verify.stdout, output(verify)
    assert "WARN  rds local-mysql-dr-replica: replicates from the writer (by ARN)" in \
        verify.stdout, output(verify)

    session, url = clients(REGION), emulator.endpoint_url
    promoted = describe(session, url, "local-mysql-replica-1")
    old = describe(session, url, "local-mysql-primary")
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted
    assert old["ReadReplicaDBInstanceIdentifiers"] == [
        f"arn:aws:rds:{DR_REGION}:{emu.ACCOUNT}:db:local-mysql-dr-replica"]
    assert parameter(session, url) == address(promoted)
    assert parameter(clients(DR_REGION), url) == address(promoted)

    # The DR replica follows the demoted primary: a regional failover would lose the writes made
    # on the new writer, so it is refused (the redeploy must rebuild the DR replica first).
    regional = run(*against(state_dir), "failover", "--env", "local", "--region-dr", "--force",
                   "--poll", "0.2", "--timeout", "30")
    assert regional.returncode == 3, output(regional)
    assert "replicates from local-mysql-primary, not from the writer local-mysql-replica-1" in \
        regional.stderr, output(regional)


def test_deploy_then_regional_failover(cdk_out: dict[str, Path],
                                      regional_deploy: Background) -> None:
    deploy = regional_deploy.result()
    assert deploy.returncode == 0, output(deploy)
    state_dir = regional_deploy.state_dir
    emulator = emu.status(state_dir=state_dir)
    assert emulator is not None

    failover = run(*against(state_dir), "failover", "--env", "local", "--region-dr", "--force",
                   "--poll", "0.2", "--timeout", "30")
    assert failover.returncode == 0, output(failover)
    assert "RPO:         unknown" in failover.stdout, output(failover)  # no ReplicaLag locally

    verify = run(*against(state_dir), "verify", "--env", "local")
    assert verify.returncode == 0, output(verify)
    assert "writer: local-mysql-dr-replica" in verify.stdout.splitlines()[0], output(verify)
    assert "PASS  rds local-mysql-dr-replica: encryption key is the DR CMK" in verify.stdout

    url = emulator.endpoint_url
    primary_region, dr_region = clients(REGION), clients(DR_REGION)
    promoted = describe(dr_region, url, "local-mysql-dr-replica")
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted
    assert describe(primary_region, url, "local-mysql-primary")[
        "ReadReplicaDBInstanceIdentifiers"] == ["local-mysql-replica-1"]
    # The writer is what the parameters name, in both regions (the primary region answers here,
    # so its parameter and the secret are repointed too).
    assert parameter(dr_region, url) == parameter(primary_region, url) == address(promoted)
    outputs = primary_region.client("cloudformation", endpoint_url=url).describe_stacks(
        StackName="RedundantDb-local-Database")["Stacks"][0]["Outputs"]
    secret_arn = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "SecretArn")
    document = json.loads(primary_region.client("secretsmanager", endpoint_url=url)
                          .get_secret_value(SecretId=secret_arn)["SecretString"])
    assert (document["host"], document["port"]) == (promoted["Endpoint"]["Address"],
                                                    promoted["Endpoint"]["Port"])

    # Running it again works: unchanged templates, same emulator, verification still passes
    # (with the failover reported as warnings until the stacks are reconciled).
    again = run("-m", "local_aws.deploy", "--state-dir", str(state_dir),
                "--assembly", str(cdk_out["local"]))
    assert again.returncode == 0, output(again)
    assert f"reusing the running emulator at {emulator.endpoint_url}" in again.stdout
    assert "RedundantDb-local-DrReplica: deployed, template unchanged" in again.stdout
    assert "a failover happened: the stack's primary is no longer the writer" in again.stdout
