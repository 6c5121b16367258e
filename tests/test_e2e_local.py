"""End to end on the embedded local AWS, through the real command lines: bootstrap, deploy,
verify, failover, verify again with the promoted replica as the writer, then deploy once more.

A fresh emulator on a free port in a temporary state directory; the cloud assembly is the one the
session already synthesized through the policy gate (`cdk_out` fixture), deployed with
`cdk deploy --app <dir>`, so there is no second synth.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local_aws import emulator as emu

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
TIMEOUT = 180


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    if not (REPO / "ops" / "__main__.py").exists():
        pytest.skip("the ops package (python -m ops verify/failover) is not in this checkout: "
                    "the end-to-end run needs it")
    state = tmp_path / "local-aws"
    yield state
    emu.stop(state_dir=state)


def test_deploy_verify_failover_verify(cdk_out: dict[str, Path], state_dir: Path) -> None:
    deploy = run("-m", "local_aws.deploy", "--state-dir", str(state_dir),
                 "--assembly", str(cdk_out["local"]))
    assert deploy.returncode == 0, output(deploy)
    summary = deploy.stdout[deploy.stdout.index("Deployed to the local AWS emulator"):]
    checks = re.search(r"verification +(\d+) checks: (\d+) passed, 0 failed", summary)
    assert checks and checks[1] == checks[2], summary
    assert re.search(r"skipped +1 resource of 1 type .*\n +AWS::Backup::BackupSelection x1",
                     summary), summary
    assert "RedundantDb-local-Database (CREATE_COMPLETE)" in summary

    emulator = emu.status(state_dir=state_dir)
    assert emulator is not None
    against_emulator = ("-m", "local_aws", "run", "--state-dir", str(state_dir), "--",
                        sys.executable, "-m", "ops")  # what `make failover` / `make verify` do

    failover = run(*against_emulator, "failover", "--env", "local", "--force", "--poll", "0.2",
                   "--timeout", "30")
    assert failover.returncode == 0, output(failover)

    verify = run(*against_emulator, "verify", "--env", "local")
    assert verify.returncode == 0, output(verify)
    assert "writer: local-mysql-replica-1" in verify.stdout, output(verify)

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=REGION)
    rds = session.client("rds", endpoint_url=emulator.endpoint_url)
    promoted = rds.describe_db_instances(
        DBInstanceIdentifier="local-mysql-replica-1")["DBInstances"][0]
    old = rds.describe_db_instances(DBInstanceIdentifier="local-mysql-primary")["DBInstances"][0]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted
    assert old["ReadReplicaDBInstanceIdentifiers"] == []
    writer = session.client("ssm", endpoint_url=emulator.endpoint_url).get_parameter(
        Name="/local-mysql/writer-endpoint")["Parameter"]["Value"]
    assert writer == f"{promoted['Endpoint']['Address']}:{promoted['Endpoint']['Port']}"

    # Running it again works: unchanged templates, same emulator, verification still passes
    # (with the failover reported as warnings until the stack is reconciled).
    again = run("-m", "local_aws.deploy", "--state-dir", str(state_dir),
                "--assembly", str(cdk_out["local"]))
    assert again.returncode == 0, output(again)
    assert f"reusing the running emulator at {emulator.endpoint_url}" in again.stdout
    assert "deployed, template unchanged" in again.stdout
