"""End to end on the embedded local AWS, through the command lines: the drill of a platform team
after a failover, in-region then regional, on one emulator. Env `local` has a DR region, so
every deploy covers both regions (us-east-1, us-west-2) of the one emulator.

1. Deploy the original topology (bootstrap, deploy, verify: every check passes); a row written
   on the writer (the secret, TLS) is read on the replica and on the DR replica.
2. `failover` refused while the replica really lags (its replay paused), then `failover
   --write-load --record` (the promoted replica is the writer and holds the row, takes writes,
   refuses plaintext; rows lost at lag zero: 0; `verify` says what the unit tests say,
   tests/test_ops_reconcile.py), the regional failover refused (the DR replica follows the
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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest

from config.environments import ENVIRONMENTS
from config.topology import TOPOLOGY_FILE_VARIABLE
from local_aws import emulator as emu
from ops import datapath
from ops.report import Status
from ops.writer import Endpoint

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

    # The data path: a row written on the writer with the secret over TLS is read on the
    # replica and on the DR replica.
    credentials = read_credentials(primary_region, url)
    row = datapath.write_canary(credentials, member(primary_region, url, "local-postgres-primary"))
    for session, identifier in ((primary_region, "local-postgres-replica-1"),
                                (dr_region, "local-postgres-dr-replica")):
        assert wait_for_row(credentials, member(session, url, identifier), row), identifier

    # 2. In-region failover, recorded. First refused while the replica really lags (its replay
    # paused through the engine's registry, as a drill outside the emulator does), then run
    # with a write load through it.
    before = describe(primary_region, url, "local-postgres-replica-1")
    topology = tmp_path / "topology.json"
    with paused_replay(state_dir, "local-postgres-replica-1", writer="local-postgres-primary"):
        refused = ops(state_dir, "failover", "--env", "local", "--force", "--max-lag", "0.2",
                      topology=topology)
    assert refused.returncode == 3, output(refused)
    assert re.search(r"replica local-postgres-replica-1 lags [\d.]+s behind the healthy writer "
                     r"local-postgres-primary \(ReplicaLag; limit 0.2s", refused.stderr), \
        output(refused)
    failover = ops(state_dir, "failover", "--env", "local", "--force", "--poll", "0.2",
                   "--timeout", "30", "--record", "--write-load", topology=topology)
    assert failover.returncode == 0, output(failover)
    unavailable = re.search(r"write unavailability ([\d.]+)s: the old writer \S+'s last "
                            r"commit \(row \d+\) -> the new writer \S+'s first", failover.stdout)
    assert unavailable, output(failover)
    assert re.search(r"rows lost at lag zero: 0 of the [1-9]\d* ", failover.stdout), \
        output(failover)
    new_writer = member(primary_region, url, "local-postgres-replica-1")
    assert wait_for_row(credentials, new_writer, row)  # the row is kept
    assert datapath.check_tls(credentials, new_writer).status is Status.PASS
    assert datapath.check_plaintext_refused(credentials, new_writer).status is Status.PASS
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
    # The DR replica's ReplicaLag, measured on its server: the estimate is known.
    assert re.search(r"RPO: +up to \d+ s of writes made in us-east-1 may be lost",
                     failover.stdout), output(failover)
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


def read_credentials(session: boto3.session.Session, endpoint: str) -> datapath.Credentials:
    """The credentials secret's user and password, as the runbooks read them."""
    outputs = session.client("cloudformation", endpoint_url=endpoint).describe_stacks(
        StackName="RedundantDb-local-Database")["Stacks"][0]["Outputs"]
    arn = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "SecretArn")
    return datapath.read_credentials(session.client("secretsmanager", endpoint_url=endpoint),
                                     arn, database=ENVIRONMENTS["local"].database_name)


def member(session: boto3.session.Session, endpoint: str, identifier: str) -> datapath.Member:
    found = describe(session, endpoint, identifier)["Endpoint"]
    return datapath.Member(resource=f"rds {identifier}",
                           endpoint=Endpoint(host=found["Address"], port=found["Port"]))


def wait_for_row(credentials: datapath.Credentials, where: datapath.Member, token: str) -> bool:
    """Whether the canary row `token` shows on `where` within 10 s."""
    with datapath.connect(credentials, where.endpoint) as session:
        for _ in range(100):
            try:
                if session.execute(f"SELECT 1 FROM {datapath.CANARY_TABLE} WHERE token = %s",
                                   (token,)).fetchone():
                    return True
            except psycopg.errors.UndefinedTable:
                pass
            time.sleep(0.1)
    return False


@contextmanager
def paused_replay(state_dir: Path, replica: str, *, writer: str) -> Iterator[None]:
    """The replica's WAL replay paused (through the engine registry's socket directories) and a
    row written on the writer that it does not replay, until its lag is measurably above 0.2 s;
    resumed afterwards."""
    from local_aws.engine import ADMIN_USER
    from local_aws.engine.registry import read
    from local_aws.server import engine_root

    _, _, entries = read(engine_root(state_dir))
    by_identifier = {e.name.rsplit("/", 1)[-1]: e for e in entries}

    def admin(identifier: str) -> psycopg.Connection[Any]:
        entry = by_identifier[identifier]
        return psycopg.connect(host=str(entry.socket_dir), port=entry.port, user=ADMIN_USER,
                               dbname="postgres", autocommit=True)

    with admin(writer) as w, admin(replica) as r:
        r.execute("SELECT pg_wal_replay_pause()")
        try:
            w.execute("CREATE TABLE IF NOT EXISTS drill_lag (i int)")
            w.execute("INSERT INTO drill_lag VALUES (1)")
            for _ in range(50):
                lag = datapath.measure_lag(w, r)
                if lag.bytes and (lag.seconds or 0.0) > 0.3:
                    break
                time.sleep(0.1)
            assert lag.paused and lag.bytes and (lag.seconds or 0.0) > 0.3, lag
            yield
        finally:
            r.execute("SELECT pg_wal_replay_resume()")


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
