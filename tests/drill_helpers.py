"""What the end-to-end drill (tests/test_e2e_local.py) runs its commands with and reads the
emulator through: the command lines' entry points in this process, the deploy of an assembly
through the CloudFormation API as `cdk deploy --method=direct` does it, one boto3 client per
service and region, and the data path on the members' real PostgreSQL servers."""

from __future__ import annotations

import functools
import io
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cloud_assembly import CloudAssembly
from config.environments import ENVIRONMENTS
from config.topology import TOPOLOGY_FILE_VARIABLE
from local_aws import emulator as emu
from local_aws.deploy import Deployment, DeployOptions, boto3_session, emulator_client
from ops import datapath
from ops.aws import Clients, make_clients
from ops.errors import OpsError
from ops.upgrade import Stage
from ops.writer import Endpoint

REGION, DR_REGION = "us-east-1", "us-west-2"
DATABASE_STACK = "RedundantDb-local-Database"
PARAMETER = "/local-postgres/writer-endpoint"


@dataclass(frozen=True)
class Ran:
    """What a command line gave: its exit code and its output."""

    returncode: int
    stdout: str
    stderr: str = ""

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@contextmanager
def command_environment(topology: Path, aws: dict[str, str] | None = None) -> Iterator[None]:
    """This process's environment as a command line gets it, for the time of one command: the
    declared-topology file it reads and records into and, with `aws`, only those AWS variables
    (what `python -m local_aws run` gives)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(TOPOLOGY_FILE_VARIABLE, str(topology))
        if aws is not None:
            for name in [n for n in os.environ if n.startswith("AWS_")]:
                patch.delenv(name)
            for name, value in aws.items():
                patch.setenv(name, value)
        yield


def make_deploy(*args: str, topology: Path) -> Ran:
    """`python -m local_aws.deploy *args` (`make deploy`), through the CDK CLI."""
    from local_aws.deploy import main

    out = io.StringIO()
    with command_environment(topology):
        code = main(list(args), out=out)
    return Ran(code, out.getvalue())


class DirectDeployment(Deployment):
    """`make deploy` whose stacks are deployed through the CloudFormation API as `cdk deploy
    --method=direct` deploys them (`deploy_direct`), without the CLI's Node start (~5 s of CPU
    a deploy); every other step is `make deploy`'s own."""

    def deploy_stacks(self, assembly: Path) -> None:
        with self.progress.step("deploy the changed stacks (CreateStack/UpdateStack, as cdk "
                                "deploy --method=direct)"):
            deploy_direct(assembly, self.emulator.endpoint_url)


def make_deploy_direct(assembly: Path, *, state_dir: Path, topology: Path) -> str:
    """`make deploy --assembly ASSEMBLY --no-verify` over the running emulator, its stacks
    deployed by `deploy_direct`; its output (a failed step raises its `DeployError`)."""
    out = io.StringIO()
    with command_environment(topology):
        DirectDeployment(DeployOptions(state_dir=state_dir, assembly=assembly, verify=False),
                         out=out).run()
    return out.getvalue()


def synthesize(topology: Path, outdir: Path) -> Path:
    """Env local's cloud assembly of the topology declared in `topology`, through the gate."""
    from app import synthesize

    with command_environment(topology):
        return synthesize("local", outdir).directory


def ops(state_dir: Path, *args: str, topology: Path, deploy: Any = None) -> Ran:
    """`python -m ops *args` against the emulator of `state_dir`, with the AWS environment
    `python -m local_aws run` gives it (what `make failover`/`make verify` do); `deploy`: what
    deploys an upgrade's stage."""
    from ops.cli import main

    emulator = emu.status(state_dir=state_dir)
    assert emulator is not None
    out, err = io.StringIO(), io.StringIO()
    with command_environment(topology, emu.aws_environment(emulator, region=REGION)):
        code = main(list(args), out=out, err=err, deploy=deploy,
                    factory=functools.partial(_ops_clients, emulator.endpoint_url))
    return Ran(code, out.getvalue(), err.getvalue())


@functools.cache
def _ops_clients(endpoint: str, region: str, probe: bool) -> Clients:
    """The runbooks' clients of a region (`ops.aws.make_clients`: ordinary or probe), made
    once for the drill's every command: a command line makes them once per process, and a
    session of its own parses the service models again (~0.5 s of CPU a command). Made while
    `command_environment` points AWS_ENDPOINT_URL at the emulator `endpoint`."""
    clients = make_clients(boto3_session(), region=region, probe=probe)
    assert clients.rds.meta.endpoint_url == endpoint, clients.rds.meta.endpoint_url
    return clients


def stage_deployer(endpoint: str, topology: Path, workdir: Path) -> tuple[Any, list[list[str]]]:
    """An upgrade runbook's `deploy`: each stage's recorded config synthesized (through the
    gate) and deployed by `deploy_direct`; and the list of the stacks each deploy changed."""
    deployed: list[list[str]] = []

    def deploy(stage: Stage) -> None:
        assembly = synthesize(topology, workdir / f"cdk.out.stage{len(deployed)}")
        deployed.append(deploy_direct(assembly, endpoint))

    return deploy, deployed


def all_passed(verify: Ran) -> None:
    """Every check of `ops verify` passed, with no warning and nothing skipped."""
    summary = verify.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"(\d+) checks: \1 passed, 0 failed, 0 warnings, 0 skipped", summary), \
        str(verify)


# --- the emulator through boto3 ------------------------------------------------------------
#: One client per service, emulator and region, of `make deploy`'s one session (a client of a
#: session of its own would parse its service model again).
client = emulator_client


def publish(assembly: Path, endpoint: str) -> None:
    """What `cdk deploy` publishes before it deploys: the zipped file assets, into the
    bootstrap buckets."""
    for manifest in assembly.glob("*.assets.json"):
        for asset in json.loads(manifest.read_text())["files"].values():
            source = asset["source"]
            if source.get("packaging") != "zip":
                continue
            archive = shutil.make_archive(str(assembly / f"{source['path']}-zip"), "zip",
                                          assembly / source["path"])
            for destination in asset["destinations"].values():
                client("s3", endpoint, destination["region"]).upload_file(
                    archive, destination["bucketName"], destination["objectKey"])


def deploy_direct(assembly: Path, endpoint: str) -> list[str]:
    """An assembly deployed as `cdk deploy --all --method=direct` deploys it over a
    bootstrapped emulator: its file assets published, then a CreateStack, or an UpdateStack
    (the parameters it has kept, a new one at its default), of each stack whose template
    changed, in dependency order; the names of the stacks created or updated."""
    publish(assembly, endpoint)
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
            previous = {p["ParameterKey"] for p in cloudformation.describe_stacks(
                StackName=stack.name)["Stacks"][0].get("Parameters", [])}
            cloudformation.update_stack(  # a new parameter takes its default
                StackName=stack.name, TemplateBody=body,
                Parameters=[{"ParameterKey": key, "UsePreviousValue": True}
                            for key in stack.template.get("Parameters", {}) if key in previous])
        status = cloudformation.describe_stacks(StackName=stack.name)["Stacks"][0]["StackStatus"]
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            raise OpsError(f"{stack.name}: {status}")
        changed.append(stack.name)
    return changed


def describe(endpoint: str, identifier: str, region: str = REGION) -> dict[str, Any]:
    rds = client("rds", endpoint, region)
    return dict(rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0])


def replicas_of(endpoint: str, identifier: str, region: str = REGION) -> list[str]:
    return sorted(describe(endpoint, identifier, region)["ReadReplicaDBInstanceIdentifiers"])


def parameter(endpoint: str, region: str) -> str:
    return str(client("ssm", endpoint, region).get_parameter(
        Name=PARAMETER)["Parameter"]["Value"])


def address(instance: dict[str, Any]) -> str:
    return f"{instance['Endpoint']['Address']}:{instance['Endpoint']['Port']}"


def secret_arn(endpoint: str) -> str:
    outputs = client("cloudformation", endpoint, REGION).describe_stacks(
        StackName=DATABASE_STACK)["Stacks"][0]["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "SecretArn")


def secret_document(endpoint: str) -> dict[str, Any]:
    return dict(json.loads(client("secretsmanager", endpoint, REGION).get_secret_value(
        SecretId=secret_arn(endpoint))["SecretString"]))


# --- the data path on the real servers ------------------------------------------------------
def read_credentials(endpoint: str) -> datapath.Credentials:
    """The credentials secret's user and password, as the runbooks read them."""
    return datapath.read_credentials(client("secretsmanager", endpoint, REGION),
                                     secret_arn(endpoint),
                                     database=ENVIRONMENTS["local"].database_name)


def member(endpoint: str, identifier: str, region: str = REGION) -> datapath.Member:
    found = describe(endpoint, identifier, region)["Endpoint"]
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

