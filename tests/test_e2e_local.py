"""End to end on the embedded local AWS, through the command lines: the day two of a platform
team on one emulator, env `local` (PostgreSQL on real servers, a replica and a DR replica in
us-west-2, both regions on the one emulator): a failover, its reconcile, two engine upgrades of
the promoted topology, each rebuilding the DR replica, then a regional failover and its
reconcile.

1. `make deploy` of env local at PostgreSQL 17.8 (an engine record in the drill's topology
   file): bootstrap, deploy, verify (every check passes); a row written on the writer (the
   secret, TLS) is read on the replica and on the DR replica.
2. `failover` refused while the replica really lags (its replay paused), then `failover
   --write-load --record` (the promoted replica is the writer and holds the row, takes writes,
   refuses plaintext; rows lost at lag zero: 0), the regional failover refused (the DR replica
   follows the old primary: promoting it would lose the new writer's writes, as on AWS).
3. Reconcile: deploy the recorded topology (the emulator updates the stacks in place): the
   promoted writer kept (identifier, ARN, creation time); full redundancy again, a new replica
   and a new DR replica of the promoted writer, each reading the row.
4. The promoted topology upgraded: `bluegreen --target-version 17.9 --record` (the DR replica
   detached, the green copies switched over, the DR replica rebuilt of the new writer:
   `-r1`), then `upgrade --target-version 18.3 --execute` (detach `-r1`, the writer with its
   replica in place, rebuild `-r2`); `verify`: every check passes, the data path included; the
   writer and its replica kept their ARNs and creation times through the in-place upgrade; the
   detached DR replicas kept, standalone, protected, on their versions; the row on the writer
   and on the new DR replica.
5. `failover --region-dr --record` (the rebuilt DR replica is promoted), reconcile again: the
   DR region's instance becomes the primary of the environment, with its replica there and a
   cross-region replica of it in the original region; `verify`: every check passes.

Which path deploys what, and why:
- step 1 is `make deploy` through its entry point (`local_aws.deploy.main`) with the CDK CLI:
  `cdk bootstrap`, `cdk deploy --all --method=direct`, then `python -m ops verify`, as a user
  runs it. The CLI's path is proven once, here.
- the reconciles (3, 5) are `make deploy` (`local_aws.deploy.Deployment`: the emulator reused,
  the state compared, `python -m ops reconcile`, the bootstrap found, the summary with its
  retired writers) whose stack deploy is `drill_helpers.deploy_direct`: the CloudFormation
  calls `cdk deploy --method=direct` makes (create or update each changed stack in dependency
  order, parameters kept), without the CLI's Node start (~5 s of CPU each).
- the upgrade runbooks' stage deploys (4) are a synth of the recorded stage and
  `deploy_direct`, as `make upgrade`/`make bluegreen` deploy each stage with `make deploy`.
- `ops verify` runs at the end of each phase (1: inside `make deploy`; 4; 5); within a phase
  the drill reads the members and the data path itself.

Every assembly is synthesized in this process through the policy gate (warm: about a second).
The runbooks record into a topology file of the drill's own (`REDUNDANTDB_TOPOLOGY_FILE`),
never config/topology.json. `python -m ops` runs through its entry point (`ops.cli.main`) in
this process, with the environment `python -m local_aws run` gives it and one set of clients
per region for every command (`drill_helpers.ops`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.topology import EngineRecord, Topology, write
from local_aws import emulator as emu
from ops import datapath
from ops.report import Status
from tests.drill_helpers import (
    DR_REGION,
    REGION,
    address,
    all_passed,
    describe,
    make_deploy,
    make_deploy_direct,
    member,
    ops,
    parameter,
    paused_replay,
    read_credentials,
    replicas_of,
    secret_document,
    stage_deployer,
    synthesize,
    wait_for_row,
)

pytestmark = pytest.mark.e2e  # run first, on one worker (conftest.pytest_collection_modifyitems)

OLD, MIDDLE, NEW = "17.8", "17.9", "18.3"
PRIMARY, REPLICA, DR = "local-postgres-primary", "local-postgres-replica-1", \
    "local-postgres-dr-replica"
G1_REPLICA, G1_DR = "local-postgres-g1-replica-1", "local-postgres-g1-dr-replica"
R1, R2 = f"{G1_DR}-r1", f"{G1_DR}-r2"
G2_REPLICA, G2_DR = "local-postgres-g2-replica-1", "local-postgres-g2-dr-replica"
RUNBOOK = ("--env", "local", "--poll", "0.2", "--timeout", "60")


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "local-aws"
    yield state
    emu.stop(state_dir=state)


def test_failover_reconcile_upgrades_then_regional_failover_reconcile(
        state_dir: Path, tmp_path: Path) -> None:
    # 1. The original topology, at 17.8, through `make deploy` and the CDK CLI.
    topology = tmp_path / "topology.json"
    write("local", Topology(engine=EngineRecord(engine_version=OLD)), path=topology)
    assembly = synthesize(topology, tmp_path / "cdk.out.g0")
    deploy = make_deploy("--state-dir", str(state_dir), "--assembly", str(assembly),
                         topology=topology)
    assert deploy.returncode == 0, deploy
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
    assert re.search(rf"dr replica +{DR} .*\({DR_REGION}, from {REGION}\)", summary), summary
    for limit in ("AWS::Backup::BackupPlan.CopyActions", "AWS::RDS::DBInstance.SourceRegion",
                  "AWS::RDS::DBInstance.AutomaticBackupReplicationRegion"):
        assert f"  {limit}: " in summary, summary
    emulator = emu.status(state_dir=state_dir)
    assert emulator is not None
    url = emulator.endpoint_url
    assert {describe(url, m)["EngineVersion"] for m in (PRIMARY, REPLICA)} == \
        {describe(url, DR, DR_REGION)["EngineVersion"]} == {OLD}

    # The data path: a row written on the writer with the secret over TLS is read on the
    # replica and on the DR replica.
    credentials = read_credentials(url)
    row = datapath.write_canary(credentials, member(url, PRIMARY))
    for identifier, region in ((REPLICA, REGION), (DR, DR_REGION)):
        assert wait_for_row(credentials, member(url, identifier, region), row), identifier

    # 2. In-region failover, recorded. First refused while the replica really lags (its replay
    # paused through the engine's registry, as a drill outside the emulator does), then run
    # with a write load through it.
    before = describe(url, REPLICA)
    with paused_replay(state_dir, REPLICA, writer=PRIMARY):
        refused = ops(state_dir, "failover", "--env", "local", "--force", "--max-lag", "0.2",
                      topology=topology)
    assert refused.returncode == 3, refused
    assert re.search(rf"replica {REPLICA} lags [\d.]+s behind the healthy writer {PRIMARY} "
                     r"\(ReplicaLag; limit 0.2s", refused.stderr), refused
    failover = ops(state_dir, "failover", "--env", "local", "--force", "--poll", "0.2",
                   "--timeout", "30", "--record", "--write-load", topology=topology)
    assert failover.returncode == 0, failover
    assert re.search(r"write unavailability ([\d.]+)s: the old writer \S+'s last commit "
                     r"\(row \d+\) -> the new writer \S+'s first", failover.stdout), failover
    assert re.search(r"rows lost at lag zero: 0 of the [1-9]\d* ", failover.stdout), failover
    new_writer = member(url, REPLICA)
    assert wait_for_row(credentials, new_writer, row)  # the row is kept
    assert datapath.check_tls(credentials, new_writer).status is Status.PASS
    assert datapath.check_plaintext_refused(credentials, new_writer).status is Status.PASS
    assert json.loads(topology.read_text()) == {"local": {
        "decommissioned": [], "engine": {"engine_version": OLD},
        "promotions": [{"region": REGION, "writer": REPLICA}]}}
    promoted = describe(url, REPLICA)
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted
    assert parameter(url, REGION) == parameter(url, DR_REGION) == address(promoted)
    # The DR replica follows the demoted primary: a regional failover would lose the writes made
    # on the new writer, so it is refused (the reconcile rebuilds the DR replica first).
    regional = ops(state_dir, "failover", "--env", "local", "--region-dr", "--force",
                   "--poll", "0.2", "--timeout", "30", topology=topology)
    assert regional.returncode == 3, regional
    assert f"replicates from {PRIMARY}, not from the writer {REPLICA}" in regional.stderr, \
        regional

    # 3. The reconcile: the recorded topology, deployed over the same emulator.
    reconcile(state_dir, topology, tmp_path / "cdk.out.g1", changed="RedundantDb-local-Database",
              retired=(PRIMARY, REGION))
    writer = describe(url, REPLICA)
    assert (writer["DBInstanceIdentifier"], writer["DBInstanceArn"],
            writer["InstanceCreateTime"]) == (before["DBInstanceIdentifier"],
                                              before["DBInstanceArn"],
                                              before["InstanceCreateTime"])  # not replaced
    assert replicas_of(url, REPLICA) == [
        f"arn:aws:rds:{DR_REGION}:{emu.ACCOUNT}:db:{G1_DR}", G1_REPLICA]
    assert describe(url, G1_REPLICA)["ReadReplicaSourceDBInstanceIdentifier"] == REPLICA
    assert describe(url, G1_DR, DR_REGION)["ReadReplicaSourceDBInstanceIdentifier"] == \
        writer["DBInstanceArn"]
    assert parameter(url, REGION) == parameter(url, DR_REGION) == address(writer)
    retired = describe(url, PRIMARY)
    assert retired["DeletionProtection"] is True
    assert not retired["ReadReplicaDBInstanceIdentifiers"]  # its DR replica was replaced
    for identifier, region in ((G1_REPLICA, REGION), (G1_DR, DR_REGION)):
        assert wait_for_row(credentials, member(url, identifier, region), row), identifier

    # 4. The promoted topology upgraded twice, the DR replica rebuilt each time.
    deploy_stage, deployed = stage_deployer(url, topology, tmp_path)
    run = ops(state_dir, "bluegreen", "--target-version", MIDDLE, "--record", *RUNBOOK,
              topology=topology, deploy=deploy_stage)
    assert (run.returncode, run.stderr) == (0, ""), run
    assert len(deployed) == 2, deployed  # the detach, the rebuild
    kept = {m: describe(url, m) for m in (REPLICA, G1_REPLICA)}
    run = ops(state_dir, "upgrade", "--target-version", NEW, "--execute", *RUNBOOK,
              topology=topology, deploy=deploy_stage)
    assert (run.returncode, run.stderr) == (0, ""), run
    assert len(deployed) == 5, deployed  # the detach, the writer with its replica, the rebuild
    assert json.loads(topology.read_text())["local"]["dr_rebuilds"] == [
        {"detached": G1_DR, "engine_version": OLD, "phase": "rebuilt"},
        {"detached": R1, "engine_version": MIDDLE, "phase": "rebuilt"}]
    regions = {REPLICA: REGION, G1_REPLICA: REGION, G1_DR: DR_REGION, R1: DR_REGION,
               R2: DR_REGION}
    after = {m: describe(url, m, region) for m, region in regions.items()}
    assert {m: d["EngineVersion"] for m, d in after.items()} == {
        REPLICA: NEW, G1_REPLICA: NEW, R2: NEW, G1_DR: OLD, R1: MIDDLE}
    for identifier in (REPLICA, G1_REPLICA):  # upgraded in place, nothing replaced
        assert (after[identifier]["DBInstanceArn"], after[identifier]["InstanceCreateTime"]) == (
            kept[identifier]["DBInstanceArn"], kept[identifier]["InstanceCreateTime"])
    for identifier in (G1_DR, R1):  # the detached DR replicas: kept, standalone, protected
        assert (after[identifier].get("ReadReplicaSourceDBInstanceIdentifier"),
                after[identifier]["DeletionProtection"]) == (None, True)
    assert after[R2]["ReadReplicaSourceDBInstanceIdentifier"] == after[REPLICA]["DBInstanceArn"]
    verified(state_dir, topology)
    for identifier, region in ((REPLICA, REGION), (R2, DR_REGION)):
        assert wait_for_row(credentials, member(url, identifier, region), row), identifier

    # 5. Regional failover to the rebuilt DR replica, recorded, then reconciled.
    dr_before = describe(url, R2, DR_REGION)
    failover = ops(state_dir, "failover", "--env", "local", "--region-dr", "--force",
                   "--poll", "0.2", "--timeout", "30", "--record", topology=topology)
    assert failover.returncode == 0, failover
    # The DR replica's ReplicaLag, measured on its server: the estimate is known.
    assert re.search(rf"RPO: +up to \d+ s of writes made in {REGION} may be lost",
                     failover.stdout), failover
    document = secret_document(url)
    assert (document["host"], document["port"]) == (dr_before["Endpoint"]["Address"],
                                                    dr_before["Endpoint"]["Port"])
    out = reconcile(state_dir, topology, tmp_path / "cdk.out.g2",
                    changed="RedundantDb-local-DrReplica", retired=(REPLICA, REGION))
    assert "RedundantDb-local-Foundation: not deployed yet" in out
    writer = describe(url, R2, DR_REGION)
    assert (writer["DBInstanceArn"], writer["InstanceCreateTime"]) == (
        dr_before["DBInstanceArn"], dr_before["InstanceCreateTime"])  # not replaced
    assert replicas_of(url, R2, DR_REGION) == [
        f"arn:aws:rds:{REGION}:{emu.ACCOUNT}:db:{G2_DR}", G2_REPLICA]
    assert parameter(url, DR_REGION) == parameter(url, REGION) == address(writer)
    verified(state_dir, topology)


def reconcile(state_dir: Path, topology: Path, outdir: Path, *, changed: str,
              retired: tuple[str, str]) -> str:
    """Deploy the recorded topology over the emulator of `state_dir` (`make deploy
    --no-verify`); returns its output."""
    deploy = make_deploy_direct(synthesize(topology, outdir), state_dir=state_dir,
                                topology=topology)
    assert "reusing the running emulator" in deploy
    assert "python -m ops reconcile --env local" in deploy, deploy
    assert "already bootstrapped" in deploy
    assert f"{changed}: deployed, template changed: updated in place" in deploy, deploy
    assert re.search(rf"^  (retired)? +{retired[0]} \({retired[1]}\): outside the stacks, "
                     r"kept \(deletion protection on, fenced\); decommission: aws rds "
                     r"modify-db-instance", deploy, re.MULTILINE), deploy
    return deploy


def verified(state_dir: Path, topology: Path) -> None:
    """`ops verify`: every check passes, with no warning, the data path on the real servers
    among them (the writer refuses plaintext, every replica reads the canary and reports its
    measured lag)."""
    verify = ops(state_dir, "verify", "--env", "local", topology=topology)
    assert verify.returncode == 0, verify
    all_passed(verify)
    for check in ("connects with the secret over TLS", "refuses a connection without TLS",
                  "reads the canary within", "replication lag"):
        assert re.search(rf"^PASS  rds local-postgres-\S+: {check}", verify.stdout,
                         re.MULTILINE), verify
