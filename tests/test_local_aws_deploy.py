"""Pieces of `make deploy` that decide things: what the emulator already holds, what it skipped,
which environment the tools get. (The whole pipeline runs in test_e2e_local.py.)"""

from __future__ import annotations

import io
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cloud_assembly import CloudAssembly, StackArtifact
from config.naming import DEPLOYED_ENVIRONMENT_PARAMETER
from config.topology import TOPOLOGY_FILE_VARIABLE
from local_aws import emulator as emu
from local_aws import fidelity
from local_aws.deploy import (
    BackgroundTool,
    DeployError,
    Deployment,
    DeployOptions,
    DeployResult,
    Progress,
    _deployed_state,
    offline_tool_environment,
    promoted,
    tool_environment,
)
from local_aws.report import emulation_limits, skipped_by_type, skipped_resources

# moto warns about each resource type it skips: the "without the extension" halves expect that.
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse .* not supported:UserWarning")

TOPIC = {"Type": "AWS::SNS::Topic", "Properties": {}}
ALARM = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
    "MetricName": "CPUUtilization", "Namespace": "AWS/RDS", "Statistic": "Average",
    "Period": 300, "EvaluationPeriods": 3, "Threshold": 80,
    "ComparisonOperator": "GreaterThanThreshold", "AlarmActions": [{"Ref": "Topic"}]}}


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    previously = fidelity.uninstall()
    with mock_aws():
        yield boto3.client("cloudformation", region_name="us-east-1")
    if previously:
        fidelity.install(only=previously)


MakeStack = Callable[[str, dict[str, Any]], StackArtifact]


@pytest.fixture
def stack(tmp_path: Path) -> MakeStack:
    """A stack of the emulator's account and region holding `resources`, as a manifest lists it."""
    numbers = itertools.count()

    def make(name: str, resources: dict[str, Any]) -> StackArtifact:
        template_file = tmp_path / f"{name}-{next(numbers)}.template.json"
        template_file.write_text(json.dumps({"Resources": resources}))
        return StackArtifact(artifact_id=name, path=name, name=name, account=emu.ACCOUNT,
                             region="us-east-1", template_file=template_file, dependencies=())
    return make


def test_deployed_state_tells_absent_same_changed_and_broken(cloudformation: Any,
                                                             stack: MakeStack) -> None:
    same, changed = stack("Same", {"Topic": TOPIC}), stack("Changed", {"Topic": TOPIC})
    for s in (same, changed):
        cloudformation.create_stack(StackName=s.name, TemplateBody=json.dumps(s.template))
    tagged_key = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {}, "Tags": [
        {"Key": "k", "Value": "v"}]}}
    broken = stack("Broken", {"Key": tagged_key})
    for name in ("Broken", "CDKToolkit"):  # plain moto dies half-way: CREATE_IN_PROGRESS stays
        with pytest.raises(KeyError):
            cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(broken.template))
    changed_now = stack("Changed", {"Topic": TOPIC, "Other": TOPIC})

    state = _deployed_state(cloudformation, [same, changed_now, broken, stack("New", {})])

    assert state == {
        "CDKToolkit (us-east-1)": "CDKToolkit in us-east-1 is CREATE_IN_PROGRESS (a failed or "
                                  "interrupted bootstrap)",
        "Same": "same",
        "Changed": "changed",
        "Broken": "Broken is CREATE_IN_PROGRESS (a failed or interrupted deploy)",
        "New": "absent",
    }


def test_skipped_resources_names_what_the_emulator_did_not_create(cloudformation: Any,
                                                                  stack: MakeStack) -> None:
    deployed = stack("Db", {"Topic": TOPIC, "Cpu": ALARM, "Lag": ALARM})
    cloudformation.create_stack(StackName="Db", TemplateBody=json.dumps(deployed.template))

    skipped = skipped_resources(cloudformation, deployed)

    assert [(s.resource_type, s.logical_id) for s in skipped] == [
        ("AWS::CloudWatch::Alarm", "Cpu"), ("AWS::CloudWatch::Alarm", "Lag")]
    assert list(skipped_by_type(skipped)) == ["AWS::CloudWatch::Alarm"]


def test_emulation_limits_are_reported_for_the_types_in_use(stack: MakeStack) -> None:
    everything = {e.resource_type: e.limit for e in fidelity.EXTENSIONS
                  if e.resource_type and e.limit}
    assert len(everything) >= 3
    rotation = {"Type": "AWS::SecretsManager::RotationSchedule", "Properties": {}}
    limits = emulation_limits([stack("Db", {"Rotation": rotation, "Topic": TOPIC})], everything)
    assert list(limits) == ["AWS::SecretsManager::RotationSchedule"]
    assert "no rotation function" in limits["AWS::SecretsManager::RotationSchedule"]


def test_emulation_limits_of_a_property_apply_only_when_a_template_sets_it(
        stack: MakeStack) -> None:
    limits = {"AWS::Backup::BackupPlan.CopyActions": "nothing is copied",
              "AWS::RDS::DBInstance.AutomaticBackupReplicationRegion": "not replicated",
              "AWS::RDS::DBInstance.SourceRegion": "nothing replicated"}
    plan = {"Type": "AWS::Backup::BackupPlan", "Properties": {"BackupPlan": {
        "BackupPlanRule": [{"RuleName": "Daily", "CopyActions": [
            {"DestinationBackupVaultArn": "arn:aws:backup:us-west-2:1:backup-vault:dr"}]}]}}}
    primary = {"Type": "AWS::RDS::DBInstance", "Properties": {
        "AutomaticBackupReplicationRegion": "us-west-2"}}
    assert emulation_limits([stack("Db", {"Plan": plan, "Primary": primary})], limits) == {
        "AWS::Backup::BackupPlan.CopyActions": "nothing is copied",
        "AWS::RDS::DBInstance.AutomaticBackupReplicationRegion": "not replicated"}
    assert emulation_limits([stack("Db", {"Primary": {**primary, "Properties": {}}})],
                            limits) == {}


def test_the_emulator_reports_the_cross_region_limits() -> None:
    """What `make deploy` lists for env local's DR stacks comes from the extensions."""
    limits: dict[str, str] = {}
    for extension in fidelity.EXTENSIONS:
        limits.update(extension.property_limits)
    assert {"AWS::Backup::BackupPlan.CopyActions", "AWS::RDS::DBInstance.SourceRegion",
            "AWS::RDS::DBInstance.AutomaticBackupReplicationRegion"} <= set(limits)


def test_tool_environment_reaches_only_the_emulator(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://169.254.170.2/creds")
    env = tool_environment(emu.Emulator(pid=1, port=4566, state_dir=tmp_path), region="us-east-1")
    assert not {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} & set(env)
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_ENDPOINT_URL"] == "http://localhost:4566"
    assert env["PATH"].startswith(str(Path(__file__).resolve().parent.parent / ".venv" / "bin"))


def test_the_synth_before_the_emulator_listens_reaches_nothing(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    env = offline_tool_environment(state_dir=tmp_path, region="us-east-1")
    assert "AWS_PROFILE" not in env and env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_ENDPOINT_URL"] == f"http://localhost:{emu.CLOSED_PORT}"
    assert env["AWS_CONFIG_FILE"] == str(tmp_path / "no-aws-config")


def test_a_background_tool_echoes_its_output_in_its_step_and_keeps_its_exit_code() -> None:
    out = io.StringIO()
    progress = Progress(out)
    tool = BackgroundTool([sys.executable, "-c", "print('refused: Redundancy-X'); exit(3)"],
                          env=dict(os.environ))
    with progress.step("Synthesize"):
        assert tool.finish(progress) == 3
    assert "      | refused: Redundancy-X\n" in out.getvalue()
    assert tool.seconds > 0


def test_a_cancelled_background_tool_is_stopped() -> None:
    tool = BackgroundTool([sys.executable, "-c", "import time; time.sleep(60)"],
                          env=dict(os.environ))
    tool.cancel()
    assert tool.process.returncode is not None


@pytest.mark.parametrize(("env", "message"), [
    ("dev", "targets account None region None; the local emulator is account 123456789012"),
    ("nope", "unknown env 'nope'"),
])
def test_fails_deploy_of_an_env_the_emulator_cannot_host(env: str, message: str,
                                                         tmp_path: Path) -> None:
    with pytest.raises(DeployError, match=message):
        Deployment(DeployOptions(env=env, state_dir=tmp_path), out=None)  # type: ignore[arg-type]


def _deployment(tmp_path: Path, artifacts: dict[str, Any] | None = None) -> Deployment:
    """A deployment of env local whose emulator never runs; with `artifacts`, `tmp_path` holds
    a cloud assembly of them (each stack's template empty)."""
    if artifacts is not None:
        (tmp_path / "Other.template.json").write_text(json.dumps({"Resources": {}}))
        (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    deployment = Deployment(DeployOptions(state_dir=tmp_path), out=io.StringIO())
    deployment._result = DeployResult(emulator=emu.Emulator(pid=1, port=1, state_dir=tmp_path))
    return deployment


def test_fails_to_deploy_a_directory_that_is_no_cloud_assembly(tmp_path: Path) -> None:
    with pytest.raises(DeployError, match=r"not a cloud assembly \(no manifest\.json\); "
                                          "synthesize first"):
        _deployment(tmp_path).reconcile_state(tmp_path)


def test_fails_to_deploy_an_assembly_without_stacks(tmp_path: Path) -> None:
    deployment = _deployment(tmp_path, {"Tree": {"type": "cdk:tree",
                                                 "properties": {"file": "tree.json"}}})
    with pytest.raises(DeployError, match=r"manifest\.json lists no CloudFormation stack"):
        deployment.reconcile_state(tmp_path)


def test_a_failed_step_says_whether_the_emulator_died(tmp_path: Path) -> None:
    deployment = Deployment(DeployOptions(state_dir=tmp_path), out=sys.stdout)
    gone = emu.Emulator(pid=2**22 + 1, port=1, state_dir=tmp_path)  # beyond pid_max: no process
    deployment._result = DeployResult(emulator=gone)
    message = str(deployment._fail("cdk deploy failed"))
    assert "the emulator (pid 4194305, http://localhost:1) stopped while it ran" in message
    assert "Run `make deploy` again: it starts a fresh emulator" in message


@pytest.mark.parametrize("environment", [
    f"aws://{emu.ACCOUNT}/eu-west-1", "aws://210987654321/us-east-1",
    "aws://unknown-account/unknown-region"])
def test_fails_a_stack_outside_the_envs_regions(environment: str, tmp_path: Path) -> None:
    """Env local spans us-east-1 and its DR region us-west-2 on the one emulator; any other
    target (an environment-agnostic stack included) is refused before anything is deployed."""
    deployment = _deployment(tmp_path, {"Other": {
        "type": "aws:cloudformation:stack", "environment": environment,
        "properties": {"templateFile": "Other.template.json"}}})
    with pytest.raises(DeployError, match=(
            f"stack Other targets {environment}; the emulator hosts env local as "
            f"aws://{emu.ACCOUNT}/us-east-1 and aws://{emu.ACCOUNT}/us-west-2")):
        deployment.reconcile_state(tmp_path)


def test_a_refused_synth_stops_the_deploy(tmp_path: Path) -> None:
    deployment = Deployment(DeployOptions(state_dir=tmp_path), out=io.StringIO())
    refused = BackgroundTool([sys.executable, "-c", "exit(1)"], env=dict(os.environ))
    with pytest.raises(DeployError, match="cdk synth failed .*nothing was deployed"):
        deployment.synthesize(refused)


def test_the_emulator_and_the_review_read_assemblies_only_through_cloud_assembly() -> None:
    """One manifest reader (`cloud_assembly.manifest`), so the deploy and the review cannot
    read a stack's account, region or template differently from the gate."""
    root = Path(__file__).resolve().parent.parent
    readers = [path.relative_to(root).as_posix()
               for package in ("local_aws", "review") for path in (root / package).rglob("*.py")
               if "manifest.json" in path.read_text(encoding="utf-8")]
    assert readers == []


def _promoted_assembly(tmp_path: Path) -> Path:
    """A cloud assembly of env local's stacks whose templates carry the parameter of a promoted
    topology (stacks.require_deployed_environment)."""
    stacks = {}
    for name, region in (("RedundantDb-local-Network", "us-east-1"),
                         ("RedundantDb-local-Database", "us-east-1")):
        (tmp_path / f"{name}.template.json").write_text(json.dumps({
            "Parameters": {DEPLOYED_ENVIRONMENT_PARAMETER: {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/local-postgres/writer-endpoint"}}, "Resources": {}}))
        stacks[name] = {"type": "aws:cloudformation:stack",
                        "environment": f"aws://{emu.ACCOUNT}/{region}",
                        "properties": {"templateFile": f"{name}.template.json",
                                       "stackName": name}}
    (tmp_path / "manifest.json").write_text(json.dumps({"artifacts": stacks}))
    return tmp_path


def test_a_promoted_topology_is_recognized_by_its_templates(tmp_path: Path) -> None:
    assembly = CloudAssembly.load(_promoted_assembly(tmp_path))
    assert promoted(assembly.stacks)
    (tmp_path / "RedundantDb-local-Network.template.json").write_text('{"Resources": {}}')
    (tmp_path / "RedundantDb-local-Database.template.json").write_text('{"Resources": {}}')
    assert not promoted(CloudAssembly.load(tmp_path).stacks)


def test_fails_a_promoted_topology_over_an_emulator_without_the_env(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused before anything is bootstrapped or deployed, with what to do."""
    topology = tmp_path / "topology.json"
    topology.write_text(json.dumps({"local": {"promotions": [
        {"writer": "local-postgres-replica-1", "region": "us-east-1"}]}}))
    monkeypatch.setenv(TOPOLOGY_FILE_VARIABLE, str(topology))
    deployment = _deployment(tmp_path / "state")
    with pytest.raises(DeployError) as error:
        deployment.prepare_reconcile({"RedundantDb-local-Database": "absent"})
    assert str(error.value) == (
        "env local declares a promoted topology (config/topology.json: env local: generation "
        "1: local-postgres-replica-1 in us-east-1 is the writer; local-postgres-primary retired), "
        "which deploys only over the environment it was promoted in, and the emulator holds no "
        "deployment of it (RedundantDb-local-Database is not deployed). `make destroy` returns "
        "env local to its original topology; then `make deploy`.")


def test_the_ops_steps_run_in_process_with_clients_of_the_emulator_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make deploy`'s reconcile and verify: `python -m ops` in the deploy's process, every
    client bound to the emulator's endpoint; the output echoed under the step; a failure is a
    DeployError with the step's hint."""
    import ops.cli

    calls: list[tuple[list[str], Any]] = []

    def fake_main(argv: list[str], *, out: io.StringIO, err: io.StringIO, factory: Any) -> int:
        calls.append((argv, factory("us-west-2", True)))
        print("FAIL  rds local-postgres-primary: encrypted", file=out)
        print("1 checks: 0 passed, 1 failed, 0 warnings, 0 skipped", file=err)
        return 1

    monkeypatch.setattr(ops.cli, "main", fake_main)
    monkeypatch.setattr(emu.Emulator, "is_alive", lambda self: True)
    deployment = _deployment(tmp_path)
    with pytest.raises(DeployError) as error:
        deployment.verify()
    [(argv, clients)] = calls
    assert argv == ["verify", "--env", "local"]
    url = deployment.emulator.endpoint_url
    assert {(name, client.meta.endpoint_url, client.meta.region_name)
            for name, client in vars(clients).items() if name != "region"} == {
        (name, url, "us-west-2") for name in ("cloudformation", "rds", "kms", "secretsmanager",
                                              "ssm", "cloudwatch", "sts", "backup")}
    assert "verification failed: a live resource differs from what the stacks promise " \
           "(output above)" in str(error.value)
    assert "`make verify` checks again" in str(error.value)
    shown = deployment.progress.out.getvalue()  # type: ignore[attr-defined]
    assert "      | FAIL  rds local-postgres-primary: encrypted\n" in shown
    assert "      | 1 checks: 0 passed, 1 failed, 0 warnings, 0 skipped\n" in shown


@pytest.mark.parametrize("writer", ["db-a.local:5433", "db-b.local:5440"])
def test_the_summary_says_when_the_writer_endpoint_is_not_the_stacks_writer(
        tmp_path: Path, writer: str) -> None:
    from local_aws.deploy import DeployResult, print_summary

    result = DeployResult(
        emulator=emu.Emulator(pid=1, port=1, state_dir=tmp_path), writer=writer,
        outputs={"RedundantDb-local-Database": {
            "PrimaryIdentifier": "local-postgres-primary", "PrimaryEndpoint": "db-a.local",
            "Port": "5433", "WriterEndpointParameter": "/local-postgres/writer-endpoint"}})
    out = io.StringIO()

    print_summary(result, out=out, state_dir=tmp_path, seconds=1.0)

    note = ("the writer endpoint names db-b.local:5440, the stack's outputs db-a.local:5433: a "
            "failover or switchover since the stack's last update (`make verify` says whether "
            "config/topology.json declares it)")
    assert (note in out.getvalue()) is (writer != "db-a.local:5433"), out.getvalue()
