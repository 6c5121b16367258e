"""End to end on the embedded local AWS: a major engine upgrade of env `local` (MySQL 8.0 ->
8.4, with its same-region replica and its cross-region DR replica) carried out by `python -m ops
upgrade --execute`, then verified.

1. Deploy env local at MySQL 8.0.43 (with the Extended Support opt-in 8.0 needs now), on an
   emulator of the test's own (its own state dir).
2. `ops upgrade --target-version 8.4.10 --execute`: stage 1 records the replicas' version in
   the test's topology file and deploys it (the emulator upgrades both replicas, the
   cross-region one too, and replaces their parameter and option groups with ones of the new
   family); stage 2 records the writer's version and deploys it. Each stage's assembly is
   synthesized in this process through the policy gate (warm: about a second).
3. `ops verify`: every check passes; every instance runs 8.4.10, none was replaced (same ARN and
   creation time), every member's parameter group is of the mysql8.4 family.

Every assembly is deployed as `cdk bootstrap` and `cdk deploy --all --method=direct` deploy it
(`deploy_direct`: the bootstrap's version parameter, the file assets in the bootstrap bucket,
then a CreateStack or UpdateStack of each stack whose template changed, in dependency order),
without the CDK CLI's Node start-up (seconds per command: the bootstrap of both regions and the
first deploy would triple the test's time). `make upgrade` runs the emulator's whole deploy
(`python -m local_aws.deploy`) per stage. Not marked `e2e` (which runs first): after the
session's synth its worker's CDK is warm, and the first synth here costs a second, not ten.
"""

from __future__ import annotations

import dataclasses
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
from config import ENVIRONMENTS
from config.schema import ExtendedSupport
from config.topology import TOPOLOGY_FILE_VARIABLE
from local_aws import emulator as emu
from ops.errors import OpsError

REGION, DR_REGION = "us-east-1", "us-west-2"
OLD, NEW = "8.0.43", "8.4.10"
MEMBERS = {"local-mysql-primary": REGION, "local-mysql-replica-1": REGION,
           "local-mysql-dr-replica": DR_REGION}


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


def test_major_upgrade_of_local_with_the_runbook(emulator: emu.Emulator, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from app import synthesize
    from ops.cli import main

    monkeypatch.setenv(TOPOLOGY_FILE_VARIABLE, str(tmp_path / "topology.json"))
    monkeypatch.setitem(ENVIRONMENTS, "local", dataclasses.replace(
        ENVIRONMENTS["local"], engine_version=OLD, extended_support=ExtendedSupport(
            reason="The application is certified on MySQL 8.0 until its next release")))
    assembly = synthesize("local", tmp_path / "cdk.out.old").directory
    publish(assembly, emulator.endpoint_url, {REGION, DR_REGION})
    assert len(deploy_direct(assembly, emulator.endpoint_url)) == 5
    before = {m: describe(emulator.endpoint_url, m) for m in MEMBERS}
    assert {d["EngineVersion"] for d in before.values()} == {OLD}

    deployed: list[tuple[str, list[str]]] = []

    def deploy_stage(stage: Any) -> None:
        assembly = synthesize("local", tmp_path / f"cdk.out.stage{stage.number}").directory
        deployed.append((stage.declaration(),
                         deploy_direct(assembly, emulator.endpoint_url)))

    out, err = io.StringIO(), io.StringIO()
    code = main(["upgrade", "--env", "local", "--target-version", NEW, "--execute",
                 "--poll", "0.1", "--timeout", "60"], out=out, err=err, deploy=deploy_stage)
    assert (code, err.getvalue()) == (0, ""), out.getvalue() + err.getvalue()
    stacks = ["RedundantDb-local-Database", "RedundantDb-local-DrReplica"]
    assert deployed == [
        (f"engine_version={OLD!r}, replica_engine_version={NEW!r}", stacks),
        (f"engine_version={NEW!r}, replica_engine_version=None (the writer's)", stacks[:1])]

    after = {m: describe(emulator.endpoint_url, m) for m in MEMBERS}
    assert {d["EngineVersion"] for d in after.values()} == {NEW}
    for member, description in after.items():  # upgraded in place, nothing replaced
        assert (description["DBInstanceArn"], description["InstanceCreateTime"]) == (
            before[member]["DBInstanceArn"], before[member]["InstanceCreateTime"])
    for member, description in after.items():  # the new family's groups, moved in the modify
        group = description["DBParameterGroups"][0]["DBParameterGroupName"]
        rds = client("rds", emulator.endpoint_url, MEMBERS[member])
        assert rds.describe_db_parameter_groups(DBParameterGroupName=group)[
            "DBParameterGroups"][0]["DBParameterGroupFamily"] == "mysql8.4"

    out = io.StringIO()
    assert main(["verify", "--env", "local"], out=out) == 0, out.getvalue()
    summary = out.getvalue().strip().splitlines()[-1]
    assert summary.endswith("passed, 0 failed, 0 warnings, 0 skipped"), out.getvalue()
