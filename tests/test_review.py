"""The review report (`make review`): every section tells the truth about the templates, the
Mermaid diagram holds the topology, the change section marks data loss, and the command's exit
status follows the guard.

The command is run in-process with `app.synthesize` swapped for the session's cloud assemblies,
so the suite pays for no extra synthesis.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

import app
import config
from cloud_assembly import CloudAssembly, rds
from review import __main__ as cli
from review.allowlist import AllowEntry
from review.facts import DEPLOY_TIME_REGION, Environment, Section, describe
from review.guard import LOGICAL_ID
from review.normalize import normalize
from review.pipeline import review_environment
from review.report import Review, render
from review.snapshots import Baseline

Template = dict[str, Any]
ENVS = tuple(config.ENVIRONMENTS)
REASON = "dev holds only seed data; agreed with the DBA on call"


def _same_as_current(templates: dict[str, Template]) -> Baseline:
    return Baseline(source="test baseline",
                    templates={stack: normalize(t) for stack, t in templates.items()})


def _primary_id(template: Template) -> str:
    return next(lid for lid, res in template["Resources"].items()
                if res["Type"] == "AWS::RDS::DBInstance" and "Primary" in lid)


def _rename_primary(template: Template) -> None:
    resources = template["Resources"]
    resources["DatabaseWriterInstanceFFFF0000"] = resources.pop(_primary_id(template))


def _renamed_primary(templates: dict[str, Template], stack: str) -> dict[str, Template]:
    changed = copy.deepcopy(templates)
    _rename_primary(changed[stack])
    return changed


@pytest.fixture(scope="module")
def regions(cdk_out: dict[str, Path]) -> dict[str, dict[str, str | None]]:
    """{env: {stack: region}}, from the session's cloud assemblies."""
    return {env: CloudAssembly.load(cdk_out[env]).regions for env in ENVS}


@pytest.fixture(scope="module")
def clean_reviews(templates: dict[str, dict[str, Template]],
                  regions: dict[str, dict[str, str | None]]) -> dict[str, Review]:
    return {env: review_environment(env=env, templates=templates[env], regions=regions[env],
                                    baseline=_same_as_current(templates[env]), entries=())
            for env in ENVS}


def _expected_instances(cfg: config.DatabaseConfig) -> list[tuple[str, str, str, str]]:
    """(role, identifier, class, region) of every instance the config asks for."""
    region = cfg.region or DEPLOY_TIME_REGION
    rows = [("primary", cfg.instance_identifier("primary"), cfg.instance_class, region)]
    rows += [("replica", cfg.instance_identifier(f"replica-{n}"), cfg.replica_instance_class,
              region) for n in range(1, cfg.replica_count + 1)]
    if cfg.dr_region:
        rows.append(("replica", cfg.instance_identifier("dr-replica"),
                     cfg.replica_instance_class, cfg.dr_region))
    return rows


@pytest.mark.parametrize("env", ENVS)
def test_topology_lists_primary_and_replicas_with_class_region_and_placement(
        clean_reviews: dict[str, Review], env: str) -> None:
    cfg = config.load(env)
    instances = clean_reviews[env].environment.instances
    assert [(i.role, i.identifier, i.instance_class, i.region)
            for i in instances] == _expected_instances(cfg)
    for inst in instances:
        assert inst.multi_az is cfg.multi_az
        zones = cfg.dr_availability_zones if inst.region == cfg.dr_region else (
            cfg.availability_zones)
        assert all(az in inst.placement for az in zones)
    assert all(i.source == cfg.instance_identifier("primary") for i in instances[1:])


@pytest.mark.parametrize("env", ENVS)
def test_report_states_the_facts_a_reviewer_checks(clean_reviews: dict[str, Review],
                                                   env: str) -> None:
    cfg = config.load(env)
    text = render(clean_reviews[env])
    for title in ("Topology", "Encryption", "Backups", "Deletion protection and policies",
                  "Credentials and rotation", "Network exposure", "TLS in transit", "Alarms",
                  "Changes against the test baseline"):
        assert f"### {title}" in text
    primary = cfg.instance_identifier("primary")
    tls = "rds.force_ssl=1" if cfg.engine == "postgres" else "require_secure_transport=1"
    assert f"| {primary} | {tls} | rds-ca-rsa2048-g1 |" in text
    assert f"| {primary} | automated (RDS) | {cfg.backup_retention_days} days | " \
           f"{cfg.backup_window} | kept |" in text
    assert f"KMS key alias/{cfg.resource_prefix}-database" in text
    assert f"DB storage: {primary}" in text
    assert f"| {cfg.master_username} | generated" in text
    assert f"rate({cfg.secret_rotation_days} days)" in text
    assert f"| {primary} | no | {cfg.port} | security group DatabaseClientsSecurityGroup |" in text
    assert "internet route none" in text and "internet route **" not in text
    assert f"> {cfg.alarms.cpu_percent} for 15 min" in text
    assert ("termination protection (from the config, not the template): "
            f"{'ON' if cfg.termination_protection else 'off'}") in text
    assert "**Data-loss guard: PASSED" in text and "No resource changes." in text
    assert "NOT encrypted" not in text and "not enforced" not in text


@pytest.mark.parametrize("env", ENVS)
def test_mermaid_diagram_shows_regions_keys_secret_and_each_replication(
        clean_reviews: dict[str, Review], env: str) -> None:
    cfg = config.load(env)
    text = render(clean_reviews[env])
    [diagram] = re.findall(r"```mermaid\n(.*?)```", text, flags=re.S)
    assert diagram.startswith("flowchart LR")
    lines = [line.strip() for line in diagram.splitlines()]
    assert sum(line.startswith("subgraph ") for line in lines) == lines.count("end")
    assert diagram.count('-- "async replication" -->') == cfg.replica_count
    assert diagram.count('-- "cross-region async replication" -->') == (1 if cfg.dr_region else 0)
    assert f"alias/{cfg.resource_prefix}-database" in diagram
    assert "Secret DatabaseCredentialsSecret" in diagram and '"backups: Daily, Monthly"' in diagram
    assert diagram.count('"master credentials"') == diagram.count('"encrypts"') - (
        1 if cfg.dr_region else 0) == 1
    for region in filter(None, (cfg.region or DEPLOY_TIME_REGION, cfg.dr_region)):
        assert f'["Region {region}"]' in diagram
    assert '"' not in "".join(re.findall(r'\["(.*?)"\]', diagram)), "quotes break Mermaid labels"


def test_terminal_rendering_leaves_out_the_diagram(clean_reviews: dict[str, Review]) -> None:
    text = render(clean_reviews["prod"], diagram=False)
    assert "```mermaid" not in text and "### Topology" in text


def test_a_renamed_primary_fails_the_review_and_names_the_database(
        templates: dict[str, dict[str, Template]],
        regions: dict[str, dict[str, str | None]]) -> None:
    stack = "RedundantDb-dev-Database"
    review = review_environment(env="dev", templates=_renamed_primary(templates["dev"], stack),
                                regions=regions["dev"], baseline=_same_as_current(templates["dev"]), entries=())
    assert not review.passed
    text = render(review)
    assert "**Data-loss guard: FAILED" in text
    assert f"database {config.load('dev').instance_identifier('primary')}" in text
    assert "replaces the database" in text
    assert f"| {stack} | {_primary_id(templates['dev'][stack])} | AWS::RDS::DBInstance | " \
           "removed | - | **DATA LOSS** (LogicalId)" in text
    assert "| added |" in text and "[[allow]]" in text


def test_an_allowed_replacement_passes_and_shows_the_reason(
        templates: dict[str, dict[str, Template]],
        regions: dict[str, dict[str, str | None]]) -> None:
    stack = "RedundantDb-dev-Database"
    entry = AllowEntry(stack=stack, resource=_primary_id(templates["dev"][stack]),
                       property=LOGICAL_ID, to="DatabaseWriterInstanceFFFF0000", reason=REASON)
    review = review_environment(env="dev", templates=_renamed_primary(templates["dev"], stack),
                                regions=regions["dev"],
                                baseline=_same_as_current(templates["dev"]), entries=(entry,))
    assert review.passed, [f.message() for f in review.verdict.blocking]
    assert f"allowed data loss (LogicalId): {REASON}" in render(review)


def test_a_stale_allow_entry_fails_the_review(
        templates: dict[str, dict[str, Template]],
        regions: dict[str, dict[str, str | None]]) -> None:
    entry = AllowEntry(stack="RedundantDb-dev-Database", resource="Gone", property="KmsKeyId",
                       to="x", reason=REASON)
    review = review_environment(env="dev", templates=templates["dev"], regions=regions["dev"],
                                baseline=_same_as_current(templates["dev"]), entries=(entry,))
    assert review.verdict.passed and not review.passed
    assert "Stale allow-list entries" in render(review)


def test_a_stack_the_app_no_longer_builds_loses_its_data(
        templates: dict[str, dict[str, Template]],
        regions: dict[str, dict[str, str | None]]) -> None:
    """E.g. DR switched off: its snapshot is still in the baseline, its stack is gone."""
    baseline = _same_as_current(templates["dev"])
    gone = "RedundantDb-dev-Retired"
    baseline.templates[gone] = normalize(templates["dev"]["RedundantDb-dev-Database"])
    review = review_environment(env="dev", templates=templates["dev"], regions=regions["dev"],
                                baseline=baseline, entries=())
    lost = {(f.stack, f.resource_type) for f in review.verdict.blocking}
    assert (gone, "AWS::RDS::DBInstance") in lost and (gone, "AWS::KMS::Key") in lost
    assert all(c.action == "removed" for c in review.changes if c.stack == gone)


# --- the command -------------------------------------------------------------------------------

@pytest.fixture
def offline_synth(monkeypatch: pytest.MonkeyPatch,
                  cdk_out: dict[str, Path]) -> dict[str, CloudAssembly]:
    """`app.synthesize` returns the session's cloud assembly of the env, read anew: tests may
    edit its templates or replace it."""
    served = {env: CloudAssembly.load(cdk_out[env]) for env in ENVS}
    monkeypatch.setattr(app, "synthesize", lambda env, outdir, **_: served[env])
    return served


def test_command_writes_one_report_per_environment_and_exits_0(
        offline_synth: dict[str, CloudAssembly], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "ALLOWLIST_PATH", tmp_path / "none.toml")
    assert cli.main(["--out", str(tmp_path), "--baseline", "worktree"]) == cli.EXIT_OK
    out = capsys.readouterr()
    assert sorted(p.name for p in tmp_path.glob("*.md")) == sorted(f"{e}.md" for e in ENVS)
    assert "```mermaid" in (tmp_path / "prod.md").read_text()
    assert "```mermaid" not in out.out and "## Environment `prod`" in out.out
    assert "prod: data-loss guard PASSED" in out.err


def test_command_exits_1_when_the_guard_fires(
        offline_synth: dict[str, CloudAssembly], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "ALLOWLIST_PATH", tmp_path / "none.toml")
    _rename_primary(offline_synth["prod"].stack("RedundantDb-prod-Database").template)
    status = cli.main(["--out", str(tmp_path), "--baseline", "worktree", "--env", "prod",
                       "--quiet"])
    assert status == cli.EXIT_DATA_LOSS
    assert "the data-loss guard fired for prod" in capsys.readouterr().err
    primary = config.load("prod").instance_identifier("primary")
    assert f"database {primary}" in (tmp_path / "prod.md").read_text()


def test_command_reviews_without_the_gate_when_the_gate_refuses(
        cdk_out: dict[str, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A renamed construct breaks acknowledgments by path; the data-loss verdict still shows."""
    def synthesize(env: str, outdir: Path, *, gate: bool = True) -> CloudAssembly:
        if gate:
            raise ValueError("acknowledgment path 'X/Database/Primary': no construct 'Primary'")
        return CloudAssembly.load(cdk_out[env])

    monkeypatch.setattr(app, "synthesize", synthesize)
    monkeypatch.setattr(cli, "ALLOWLIST_PATH", tmp_path / "none.toml")
    status = cli.main(["--out", str(tmp_path), "--baseline", "worktree", "--env", "dev",
                       "--quiet"])
    assert status == cli.EXIT_ERROR
    assert "the policy gate refused dev" in capsys.readouterr().err
    report = (tmp_path / "dev.md").read_text()
    assert "**Policy gate: REFUSED the synthesis** (ValueError: acknowledgment path" in report
    assert "**Data-loss guard: PASSED" in report


def test_command_exits_2_on_a_malformed_allow_list(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "allow.toml"
    broken.write_text("[[allow]]\nstack = 'S'\n")
    monkeypatch.setattr(cli, "ALLOWLIST_PATH", broken)
    assert cli.main(["--out", str(tmp_path)]) == cli.EXIT_ERROR
    assert "missing" in capsys.readouterr().err


def test_command_exits_2_on_an_unknown_baseline_revision(
        offline_synth: dict[str, CloudAssembly], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["--out", str(tmp_path), "--env", "dev", "--baseline", "no-such-ref-42"])
    assert status == cli.EXIT_ERROR
    assert "no-such-ref-42" in capsys.readouterr().err


def test_a_change_resolved_through_the_secret_is_listed_on_the_database(
        templates: dict[str, dict[str, Template]],
        regions: dict[str, dict[str, str | None]]) -> None:
    """The username lives in the secret; the damage is to the database, so the table says so."""
    stack = "RedundantDb-prod-Database"
    changed = copy.deepcopy(templates["prod"])
    secret = next(res for res in changed[stack]["Resources"].values()
                  if res["Type"] == "AWS::SecretsManager::Secret")
    secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"] = (
        '{"username":"renamed_admin"}')
    review = review_environment(env="prod", templates=changed, regions=regions["prod"],
                                baseline=_same_as_current(templates["prod"]), entries=())
    text = render(review)
    assert not review.passed
    assert (f"| {stack} | {_primary_id(templates['prod'][stack])} | AWS::RDS::DBInstance | "
            "modified | MasterUsername (resolved through a reference) | **DATA LOSS**") in text


def test_command_reads_each_stacks_region_from_the_cloud_assembly(
        offline_synth: dict[str, CloudAssembly], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Regions come from the synthesized assembly's manifest, not from rebuilding the app."""
    monkeypatch.setattr(cli, "ALLOWLIST_PATH", tmp_path / "none.toml")
    dev = offline_synth["dev"]
    offline_synth["dev"] = dataclasses.replace(dev, stacks=tuple(
        dataclasses.replace(stack, region="ap-south-1") for stack in dev.stacks))
    assert cli.main(["--out", str(tmp_path), "--baseline", "worktree", "--env", "dev",
                     "--quiet"]) == cli.EXIT_OK
    primary = config.load("dev").instance_identifier("primary")
    assert f"| primary | {primary} | ap-south-1 |" in (tmp_path / "dev.md").read_text()


# --- the facts read templates as cloud_assembly does (one reader for the gate and the review) ---

KEY = {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}}
KEY_EXPORT = {"KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]},
                         "Export": {"Name": "Keys-KeyArn"}}}


def _instance(identifier: str, **properties: Any) -> Template:
    return {"Type": rds.DB_INSTANCE,
            "Properties": {"DBInstanceIdentifier": identifier, **properties}}


def _describe(templates: dict[str, Template]) -> Environment:
    return describe(name="test", account=None, termination_protection=False,
                    templates=templates, regions={})


def _section(environment: Environment, title: str) -> Section:
    return next(s for s in environment.sections if s.title == title)


@pytest.mark.parametrize(("db_stack", "key"), [
    ("Keys", {"Fn::GetAtt": ["Key", "Arn"]}),
    ("Keys", {"Fn::GetAtt": "Key.Arn"}),  # the short form
    ("Db", {"Fn::ImportValue": "Keys-KeyArn"}),  # another stack's export
    ("Db", {"Fn::GetStackOutput": {"StackName": "Keys", "OutputName": "KeyArn"}}),
], ids=["getatt", "getatt-short-form", "import-value", "stack-output"])
def test_the_key_of_a_database_is_found_through_every_kind_of_reference(
        db_stack: str, key: Any) -> None:
    templates: dict[str, Template] = {"Keys": {"Resources": {"Key": KEY}, "Outputs": KEY_EXPORT},
                                      "Db": {"Resources": {}}}
    templates[db_stack]["Resources"]["Primary"] = _instance(
        "app-primary", StorageEncrypted=True, KmsKeyId=key)
    environment = _describe(templates)
    [row] = _section(environment, "Encryption").rows
    assert row[-1] == "DB storage: app-primary"
    assert [(e.source, e.label) for e in environment.edges] == [("Keys_Key", "encrypts")]


@pytest.mark.parametrize("source", [
    {"Fn::ImportValue": "Db-PrimaryArn"},  # CDK's strong reference to another stack
    {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":rds:eu-west-1:",
                       {"Ref": "AWS::AccountId"}, ":db:app-primary"]]},
    "arn:aws:rds:eu-west-1:123456789012:db:app-primary",
], ids=["import-value", "joined-arn", "literal-arn"])
def test_a_replicas_source_is_read_through_any_reference_or_arn(source: Any) -> None:
    arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":rds:eu-west-1:",
                             {"Ref": "AWS::AccountId"}, ":db:", {"Ref": "Primary"}]]}
    environment = _describe({
        "Db": {"Resources": {"Primary": _instance("app-primary", StorageEncrypted=True)},
               "Outputs": {"PrimaryArn": {"Value": arn, "Export": {"Name": "Db-PrimaryArn"}}}},
        "Replicas": {"Resources": {"Replica": _instance(
            "app-replica", SourceDBInstanceIdentifier=source)}},
    })
    assert [(i.role, i.identifier, i.source) for i in environment.instances] == [
        ("primary", "app-primary", None), ("replica", "app-replica", "app-primary")]
    assert [e.label for e in environment.edges] == ["async replication"]


def test_a_null_source_is_no_replica() -> None:
    """The review and the guard read "is a replica" alike (`cloud_assembly.rds.is_replica`)."""
    environment = _describe({"Db": {"Resources": {"Primary": _instance(
        "app-primary", StorageEncrypted=True, SourceDBInstanceIdentifier=None)}}})
    assert [i.role for i in environment.instances] == ["primary"]
    assert _section(environment, "Backups").rows[0][2] == "RDS default (1 day)"


@pytest.mark.parametrize(("value", "encrypted"), [
    (True, True), ("true", True), ("True", True), (False, False), ("false", False),
    (None, False)])
def test_storage_encryption_reads_the_boolean_as_cloudformation_does(
        value: Any, encrypted: bool) -> None:
    """The gate passes `StorageEncrypted: "true"`; the review agrees (`cloud_assembly.truthy`)."""
    properties = {} if value is None else {"StorageEncrypted": value}
    environment = _describe({"Db": {"Resources": {"Primary": _instance("app-primary",
                                                                        **properties)}}})
    notes = _section(environment, "Encryption").notes
    assert ("**app-primary: storage NOT encrypted.**" in notes) is not encrypted


@pytest.mark.parametrize(("family", "parameters", "required_by"), [
    ("mysql8.0", {"require_secure_transport": "ON"}, "require_secure_transport=ON"),
    ("mysql8.0", {"require_secure_transport": "1"}, "require_secure_transport=1"),
    ("mariadb10.11", {"require_secure_transport": "on"}, "require_secure_transport=on"),
    ("postgres16", {"rds.force_ssl": "1"}, "rds.force_ssl=1"),
    ("postgres16", {"rds.force_ssl": "0"}, "**not enforced**"),
    ("postgres16", {"require_secure_transport": "ON"}, "**not enforced**"),  # a MySQL parameter
    ("mysql8.0", {}, "**not enforced**"),
    ("oracle-ee-19", {"require_secure_transport": "ON"}, "**not enforced**"),
])
def test_tls_is_read_with_the_parameter_of_the_groups_engine_family(
        family: str, parameters: dict[str, str], required_by: str) -> None:
    environment = _describe({"Db": {"Resources": {
        "Params": {"Type": "AWS::RDS::DBParameterGroup",
                   "Properties": {"Family": family, "Parameters": parameters}},
        "Primary": _instance("app-primary", StorageEncrypted=True,
                             DBParameterGroupName={"Ref": "Params"})}}})
    assert _section(environment, "TLS in transit").rows == (
        ("app-primary", required_by, "RDS default"),)


def test_an_environment_agnostic_stack_deploys_to_the_deploy_time_region() -> None:
    environment = _describe({"Db": {"Resources": {"Primary": _instance(
        "app-primary", StorageEncrypted=True)}}})
    assert [i.region for i in environment.instances] == [DEPLOY_TIME_REGION]
