"""End to end on the embedded local AWS: env `local` (PostgreSQL, real servers, a same-region
replica and a cross-region DR replica) upgraded twice with its DR replica rebuilt each time: a
minor version through an RDS blue/green deployment (`python -m ops bluegreen`), then a major
version in place (`python -m ops upgrade`), then verified. One emulator, its own state dir.

1. Deploy env local at PostgreSQL 17.8 (an engine record in the test's topology file) and
   write a row on the writer.
2. `ops bluegreen --target-version 17.9 --record`: the DR replica is detached (recorded,
   deployed: promoted in place), the green writer (a standby of the blue one) and its replica
   are switched over, then the DR replica is rebuilt of the new writer (`...-dr-replica-r1`).
3. `ops upgrade --target-version 18.3 --execute`: detach `-r1`, the writer with its replica
   (RDS carries the same-region replica along), rebuild `-r2` of the upgraded writer.
4. `ops verify`: every check passes, the data path included; every live member runs 18.3; the
   writer and its replica kept their ARNs and creation times through the in-place upgrade; the
   detached DR replicas are kept on their versions, retired; the row is on the writer and on
   the new DR replica.

Every assembly is deployed as `cdk bootstrap` and `cdk deploy --all --method=direct` deploy it
(`deploy_direct`: the bootstrap's version parameter, the file assets in the bootstrap bucket,
then a CreateStack or UpdateStack of each stack whose template changed, in dependency order),
without the CDK CLI's Node start-up (seconds per command). `make upgrade` and `make bluegreen`
run the emulator's whole deploy (`python -m local_aws.deploy`) per stage. Not marked `e2e`
(which runs first): after the session's synth its worker's CDK is warm.
"""

from __future__ import annotations

import functools
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cloud_assembly import CloudAssembly
from config.topology import TOPOLOGY_FILE_VARIABLE, EngineRecord, Topology, write
from local_aws import emulator as emu
from ops import datapath
from ops.errors import OpsError
from ops.writer import Endpoint

REGION, DR_REGION = "us-east-1", "us-west-2"
OLD, MIDDLE, NEW = "17.8", "17.9", "18.3"
PRIMARY, REPLICA, DR = ("local-postgres-primary", "local-postgres-replica-1",
                        "local-postgres-dr-replica")
R1, R2 = f"{DR}-r1", f"{DR}-r2"
MEMBERS = {PRIMARY: REGION, REPLICA: REGION, DR: DR_REGION, R1: DR_REGION, R2: DR_REGION}


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[emu.Emulator]:
    state = tmp_path / "local-aws"
    running, _ = emu.start(state_dir=state)
    for name, value in emu.aws_environment(running, region=REGION).items():
        monkeypatch.setenv(name, value)
    yield running
    emu.stop(state_dir=state)


_SESSION = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


@functools.cache
def client(service: str, endpoint: str, region: str) -> Any:
    """One client per service, emulator and region (a client costs a service model's load)."""
    return _SESSION.client(service, endpoint_url=endpoint,  # type: ignore[call-overload]
                           region_name=region)


def publish(assembly: Path, endpoint: str, regions: set[str]) -> None:
    """What `cdk bootstrap` leaves that the templates need (the version parameter, the assets
    bucket) and what `cdk deploy` publishes: the zipped file assets."""
    for region in regions:
        client("ssm", endpoint, region).put_parameter(
            Name="/cdk-bootstrap/hnb659fds/version", Value="30", Type="String", Overwrite=True)
    for manifest in assembly.glob("*.assets.json"):
        for asset in json.loads(manifest.read_text())["files"].values():
            source = asset["source"]
            if source.get("packaging") != "zip":
                continue
            archive = shutil.make_archive(str(assembly / f"{source['path']}-zip"), "zip",
                                          assembly / source["path"])
            for destination in asset["destinations"].values():
                s3 = client("s3", endpoint, destination["region"])
                bucket = destination["bucketName"]
                if destination["region"] == "us-east-1":
                    s3.create_bucket(Bucket=bucket)
                else:
                    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={
                        "LocationConstraint": destination["region"]})
                s3.upload_file(archive, bucket, destination["objectKey"])


def deploy_direct(assembly: Path, endpoint: str) -> list[str]:
    """An assembly deployed as `cdk deploy --all --method=direct` deploys it: a CreateStack, or
    an UpdateStack (parameters kept), of each stack whose template changed, in dependency
    order; the names of the stacks created or updated."""
    stacks = {s.artifact_id: s for s in CloudAssembly.load(assembly).stacks}
    order: list[str] = []

    def visit(artifact: str) -> None:
        if artifact not in order:
            for dependency in stacks[artifact].dependencies:
                visit(dependency)
            order.append(artifact)

    for artifact in stacks:
        visit(artifact)
    changed = []
    for stack in (stacks[a] for a in order):
        cloudformation = client("cloudformation", endpoint, stack.region or REGION)
        names = [s["StackName"] for s in cloudformation.list_stacks()["StackSummaries"]
                 if s["StackStatus"] != "DELETE_COMPLETE"]
        body = json.dumps(stack.template)
        if stack.name not in names:
            cloudformation.create_stack(StackName=stack.name, TemplateBody=body)
        else:
            deployed = cloudformation.get_template(StackName=stack.name)["TemplateBody"]
            if (deployed if isinstance(deployed, dict) else json.loads(deployed)) == \
                    stack.template:
                continue
            cloudformation.update_stack(
                StackName=stack.name, TemplateBody=body,
                Parameters=[{"ParameterKey": key, "UsePreviousValue": True}
                            for key in stack.template.get("Parameters", {})])
        status = cloudformation.describe_stacks(StackName=stack.name)["Stacks"][0]["StackStatus"]
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise OpsError(f"{stack.name}: {status}")
        changed.append(stack.name)
    return changed


def describe(endpoint: str, identifier: str) -> dict[str, Any]:
    rds = client("rds", endpoint, MEMBERS[identifier])
    return dict(rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0])


def session(endpoint: str, identifier: str) -> Any:
    """A TLS session on `identifier` with the credentials secret's user."""
    outputs = client("cloudformation", endpoint, REGION).describe_stacks(
        StackName="RedundantDb-local-Database")["Stacks"][0]["Outputs"]
    secret = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "SecretArn")
    credentials = datapath.read_credentials(client("secretsmanager", endpoint, REGION), secret,
                                            database="app", engine="postgres")
    address = describe(endpoint, identifier)["Endpoint"]
    return datapath.connect(credentials, Endpoint(host=address["Address"],
                                                  port=int(address["Port"])))


def run(*argv: str, deploy: Any) -> str:
    from ops.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main([*argv, "--env", "local", "--poll", "0.1", "--timeout", "60"], out=out,
                err=err, deploy=deploy)
    assert (code, err.getvalue()) == (0, ""), out.getvalue() + err.getvalue()
    return out.getvalue()


def test_bluegreen_then_major_upgrade_of_local_with_the_dr_rebuild(
        emulator: emu.Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import synthesize
    from ops.cli import main

    url = emulator.endpoint_url
    topology = tmp_path / "topology.json"
    monkeypatch.setenv(TOPOLOGY_FILE_VARIABLE, str(topology))
    write("local", Topology(engine=EngineRecord(engine_version=OLD)), path=topology)
    assembly = synthesize("local", tmp_path / "cdk.out.old").directory
    publish(assembly, url, {REGION, DR_REGION})
    assert len(deploy_direct(assembly, url)) == 5
    with session(url, PRIMARY) as writer:
        writer.execute("CREATE TABLE drill (i int PRIMARY KEY); INSERT INTO drill VALUES (7)")

    deployed: list[list[str]] = []

    def deploy_stage(stage: Any) -> None:
        assembly = synthesize("local", tmp_path / f"cdk.out.{len(deployed)}").directory
        deployed.append(deploy_direct(assembly, url))

    run("bluegreen", "--target-version", MIDDLE, "--record", deploy=deploy_stage)
    assert len(deployed) == 2  # the detach, the rebuild
    kept = {m: describe(url, m) for m in (PRIMARY, REPLICA)}

    run("upgrade", "--target-version", NEW, "--execute", deploy=deploy_stage)
    assert len(deployed) == 5  # the detach, the writer with its replica, the rebuild

    assert json.loads(topology.read_text())["local"]["dr_rebuilds"] == [
        {"detached": DR, "engine_version": OLD, "phase": "rebuilt"},
        {"detached": R1, "engine_version": MIDDLE, "phase": "rebuilt"}]
    after = {m: describe(url, m) for m in MEMBERS}
    assert {m: d["EngineVersion"] for m, d in after.items()} == {
        PRIMARY: NEW, REPLICA: NEW, R2: NEW, DR: OLD, R1: MIDDLE}
    for member in (PRIMARY, REPLICA):  # upgraded in place, nothing replaced
        assert (after[member]["DBInstanceArn"], after[member]["InstanceCreateTime"]) == (
            kept[member]["DBInstanceArn"], kept[member]["InstanceCreateTime"])
    for member in (DR, R1):  # the detached DR replicas: kept, standalone, protected
        assert (after[member].get("ReadReplicaSourceDBInstanceIdentifier"),
                after[member]["DeletionProtection"]) == (None, True)
    assert after[R2]["ReadReplicaSourceDBInstanceIdentifier"] == after[PRIMARY]["DBInstanceArn"]

    out = io.StringIO()
    assert main(["verify", "--env", "local"], out=out) == 0, out.getvalue()
    summary = out.getvalue().strip().splitlines()[-1]
    assert summary.endswith("passed, 0 failed, 0 warnings, 0 skipped"), out.getvalue()
    for member in (PRIMARY, R2):
        with session(url, member) as reader:
            assert reader.execute("SELECT i FROM drill").fetchall() == [(7,)]
