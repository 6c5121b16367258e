"""End to end on the embedded local AWS, through the command lines: the drill of a platform team
after a failover, in-region then regional, on one emulator. Env `local` has a DR region, so
every deploy covers both regions (us-east-1, us-west-2) of the one emulator.

1. Deploy the original topology (bootstrap, deploy, verify: every check passes).
2. `failover --record` (the promoted replica is the writer; `verify` says what the unit tests
   say, tests/test_ops_reconcile.py), the regional failover refused (the DR replica follows the
   old primary: promoting it would lose the new writer's writes, as on AWS).
3. Reconcile: deploy the recorded topology (the emulator updates the stacks in place) and verify
   every check passes with no warning; the promoted writer kept (identifier, ARN, creation
   time); full redundancy: a new replica and a new DR replica, both of the promoted writer.
4. `failover --region-dr --record` (the new DR replica is promoted), reconcile again: the DR
   region's instance becomes the primary of the environment, with its replica there and a
   cross-region replica of it in the original region; every check passes.

The original topology's cloud assembly is the one the session already synthesized through the
policy gate (`cdk_out` fixture), deployed with `cdk deploy --app <dir>`; each recorded topology's
assembly is synthesized in this process (warm: about a second), through the gate too. The
failovers record into a topology file of the test's own (`REDUNDANTDB_TOPOLOGY_FILE`), never
config/topology.json. One emulator for the whole drill: its first deploy is the costly step.

`make deploy` and `python -m ops` are run through their entry points (`local_aws.deploy.main`,
`ops.cli.main`) in this process, with the environment their command lines get: what they run
is the same, without a Python start and their imports each time (~1 s of CPU a command). What
they start runs as it does from the command line: the emulator, the CDK CLI, and the
`python -m ops` steps of `make deploy` (the reconcile and the verification).
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from config.topology import TOPOLOGY_FILE_VARIABLE
from local_aws import emulator as emu

pytestmark = pytest.mark.e2e  # run first, on one worker (conftest.pytest_collection_modifyitems)

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
DR_REGION = "us-west-2"
PARAMETER = "/local-postgres/writer-endpoint"


@dataclass(frozen=True)
class Ran:
    """What a command line gave: its exit code and its output."""

    returncode: int
    stdout: str
    stderr: str = ""


@contextmanager
def command_environment(topology: Path | None, aws: dict[str, str] | None = None
                        ) -> Iterator[None]:
    """This process's environment as a command line gets it, for the time of one command: the
    declared-topology file it reads and records into (`topology`; None: the session's original
    topology) and, with `aws`, only those AWS variables (what `python -m local_aws run` gives)."""
    with pytest.MonkeyPatch.context() as patch:
        if topology is not None:
            patch.setenv(TOPOLOGY_FILE_VARIABLE, str(topology))
        if aws is not None:
            for name in [n for n in os.environ if n.startswith("AWS_")]:
                patch.delenv(name)
            for name, value in aws.items():
                patch.setenv(name, value)
        yield


def make_deploy(*args: str, topology: Path | None = None) -> Ran:
    """`python -m local_aws.deploy *args` (`make deploy`)."""
    from local_aws.deploy import main

    out = io.StringIO()
    with command_environment(topology):
        code = main(list(args), out=out)
    return Ran(code, out.getvalue())


def synthesize_recorded(topology: Path, outdir: Path) -> Path:
    """Env local's cloud assembly of the topology recorded in `topology`, through the gate."""
    from app import synthesize

    with command_environment(topology):
        return synthesize("local", outdir).directory


def all_passed(verify: Ran) -> None:
    summary = verify.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"(\d+) checks: \1 passed, 0 failed, 0 warnings, 0 skipped", summary), \
        output(verify)


def replicas_of(session: boto3.session.Session, endpoint: str, identifier: str) -> list[str]:
    return sorted(describe(session, endpoint, identifier)["ReadReplicaDBInstanceIdentifiers"])


def output(result: Ran) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def ops(state_dir: Path, *args: str, topology: Path) -> Ran:
    """`python -m ops *args` against the emulator of `state_dir`, with the AWS environment
    `python -m local_aws run` gives it (what `make failover`/`make verify` do)."""
    from ops.cli import main

    emulator = emu.status(state_dir=state_dir)
    assert emulator is not None
    out, err = io.StringIO(), io.StringIO()
    with command_environment(topology, emu.aws_environment(emulator, region=REGION)):
        code = main(list(args), out=out, err=err)
    return Ran(code, out.getvalue(), err.getvalue())


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


def test_deploy_failover_reconcile_then_regional_failover_reconcile(
        cdk_out: dict[str, Path], state_dir: Path, tmp_path: Path) -> None:
    # 1. The original topology.
    deploy = make_deploy("--state-dir", str(state_dir), "--assembly", str(cdk_out["local"]))
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
    assert re.search(rf"dr replica +local-postgres-dr-replica .*\({DR_REGION}, from {REGION}\)",
                     summary), summary
    for limit in ("AWS::Backup::BackupPlan.CopyActions", "AWS::RDS::DBInstance.SourceRegion",
                  "AWS::RDS::DBInstance.AutomaticBackupReplicationRegion"):
        assert f"  {limit}: " in summary, summary
    emulator = emu.status(state_dir=state_dir)
    assert emulator is not None
    url = emulator.endpoint_url
    primary_region, dr_region = clients(REGION), clients(DR_REGION)

    # 2. In-region failover, recorded.
    before = describe(primary_region, url, "local-postgres-replica-1")
    topology = tmp_path / "topology.json"
    failover = ops(state_dir, "failover", "--env", "local", "--force", "--poll", "0.2",
                   "--timeout", "30", "--record", topology=topology)
    assert failover.returncode == 0, output(failover)
    assert json.loads(topology.read_text()) == {"local": {"decommissioned": [], "promotions": [
        {"region": REGION, "writer": "local-postgres-replica-1"}]}}
    promoted = describe(primary_region, url, "local-postgres-replica-1")
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted
    assert parameter(primary_region, url) == parameter(dr_region, url) == address(promoted)
    # The DR replica follows the demoted primary: a regional failover would lose the writes made
    # on the new writer, so it is refused (the reconcile rebuilds the DR replica first).
    regional = ops(state_dir, "failover", "--env", "local", "--region-dr", "--force",
                   "--poll", "0.2", "--timeout", "30", topology=topology)
    assert regional.returncode == 3, output(regional)
    assert "replicates from local-postgres-primary, not from the writer local-postgres-replica-1" in \
        regional.stderr, output(regional)

    # 3. The reconcile: the recorded topology, deployed over the same emulator.
    reconcile(state_dir, topology, tmp_path / "cdk.out.g1",
              changed="RedundantDb-local-Database", retired=("local-postgres-primary", REGION))
    writer = describe(primary_region, url, "local-postgres-replica-1")
    assert (writer["DBInstanceIdentifier"], writer["DBInstanceArn"],
            writer["InstanceCreateTime"]) == (before["DBInstanceIdentifier"],
                                              before["DBInstanceArn"],
                                              before["InstanceCreateTime"])  # not replaced
    assert replicas_of(primary_region, url, "local-postgres-replica-1") == [
        f"arn:aws:rds:{DR_REGION}:{emu.ACCOUNT}:db:local-postgres-g1-dr-replica",
        "local-postgres-g1-replica-1"]
    assert describe(primary_region, url, "local-postgres-g1-replica-1")[
        "ReadReplicaSourceDBInstanceIdentifier"] == "local-postgres-replica-1"
    assert describe(dr_region, url, "local-postgres-g1-dr-replica")[
        "ReadReplicaSourceDBInstanceIdentifier"] == writer["DBInstanceArn"]
    assert parameter(primary_region, url) == parameter(dr_region, url) == address(writer)
    retired = describe(primary_region, url, "local-postgres-primary")
    assert retired["DeletionProtection"] is True
    assert not retired["ReadReplicaDBInstanceIdentifiers"]  # its DR replica was replaced

    # 4. Regional failover to the new DR replica, recorded, then reconciled.
    dr_before = describe(dr_region, url, "local-postgres-g1-dr-replica")
    failover = ops(state_dir, "failover", "--env", "local", "--region-dr", "--force",
                   "--poll", "0.2", "--timeout", "30", "--record", topology=topology)
    assert failover.returncode == 0, output(failover)
    assert "RPO:         unknown" in failover.stdout, output(failover)  # no ReplicaLag locally
    outputs = primary_region.client("cloudformation", endpoint_url=url).describe_stacks(
        StackName="RedundantDb-local-Database")["Stacks"][0]["Outputs"]
    secret_arn = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "SecretArn")
    document = json.loads(primary_region.client("secretsmanager", endpoint_url=url)
                          .get_secret_value(SecretId=secret_arn)["SecretString"])
    assert (document["host"], document["port"]) == (dr_before["Endpoint"]["Address"],
                                                    dr_before["Endpoint"]["Port"])
    verify = reconcile(state_dir, topology, tmp_path / "cdk.out.g2",
                       changed="RedundantDb-local-DrReplica",
                       retired=("local-postgres-replica-1", REGION))
    assert "RedundantDb-local-Foundation: not deployed yet" in verify
    writer = describe(dr_region, url, "local-postgres-g1-dr-replica")
    assert (writer["DBInstanceArn"], writer["InstanceCreateTime"]) == (
        dr_before["DBInstanceArn"], dr_before["InstanceCreateTime"])  # not replaced
    assert replicas_of(dr_region, url, "local-postgres-g1-dr-replica") == [
        f"arn:aws:rds:{REGION}:{emu.ACCOUNT}:db:local-postgres-g2-dr-replica",
        "local-postgres-g2-replica-1"]
    assert parameter(dr_region, url) == parameter(primary_region, url) == address(writer)


def reconcile(state_dir: Path, topology: Path, outdir: Path, *, changed: str,
              retired: tuple[str, str]) -> str:
    """Deploy the recorded topology over the emulator of `state_dir` and verify it: every check
    passes with no warning. Returns the deploy's output."""
    recorded = synthesize_recorded(topology, outdir)
    deploy = make_deploy("--state-dir", str(state_dir), "--assembly", str(recorded),
                         "--no-verify", topology=topology)
    assert deploy.returncode == 0, output(deploy)
    assert "reusing the running emulator" in deploy.stdout
    assert "already bootstrapped" in deploy.stdout
    assert f"{changed}: deployed, template changed: updated in place" in deploy.stdout, \
        output(deploy)
    assert re.search(rf"^  (retired)? +{retired[0]} \({retired[1]}\): outside the stacks, "
                     r"kept \(deletion protection on, fenced\); decommission: aws rds "
                     r"modify-db-instance", deploy.stdout, re.MULTILINE), output(deploy)
    verify = ops(state_dir, "verify", "--env", "local", topology=topology)
    assert verify.returncode == 0, output(verify)
    all_passed(verify)
    # The data path on the real servers: the writer refuses plaintext, every replica reads the
    # canary and reports its measured lag.
    for check in ("connects with the secret over TLS", "refuses a connection without TLS",
                  "reads the canary within", "replication lag"):
        assert re.search(rf"^PASS  rds local-postgres-\S+: {check}", verify.stdout,
                         re.MULTILINE), output(verify)
    return deploy.stdout
