"""The data-loss guard: each way of losing a stateful resource is caught, harmless changes are not,
and the committed state passes (with every allow-list entry still meaning something).

Most cases mutate deep copies of the session's templates: a dict edit costs microseconds, a
re-synthesis tens of milliseconds. Two cases re-synthesize for real, to prove the guard sees what
a code or config change actually produces (a renamed construct, a new master username).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import config
from app import synthesize
from cloud_assembly import rds
from config.naming import APP_NAME
from constructs_lib import redundant_database
from review.allowlist import AllowEntry, AllowListError, judge, load, parse, stale_entries
from review.guard import ABSENT, LOGICAL_ID, Finding, find_data_loss
from review.normalize import normalize
from review import snapshots
from review.snapshots import ALLOWLIST_PATH, SNAPSHOT_ROOT, load_baseline
from review.stateful import STATEFUL_TYPES

Template = dict[str, Any]
DEV_DB = "RedundantDb-dev-Database"
PROD_DB = "RedundantDb-prod-Database"
DEV, PROD = config.load("dev"), config.load("prod")
#: A master user name no environment uses, so the mutation is a change whatever the config says.
NEW_USER = "renamed_admin"


def _logical_id(template: Template, type_: str, contains: str) -> str:
    matches = [lid for lid, res in template["Resources"].items()
               if res["Type"] == type_ and contains in lid]
    assert len(matches) == 1, f"expected one {type_} with {contains!r} in its id, got {matches}"
    return matches[0]


@pytest.fixture(scope="module")
def normalized(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    """{stack: normalized template} of every environment (read-only: copy before mutating).

    The session's gated templates; if the policy gate refuses them, an ungated synthesis. A
    renamed construct breaks the gate (acknowledgments name construct paths) before the guard
    could say which database that replaces; this keeps the guard's message in `make test`.
    """
    try:
        templates = request.getfixturevalue("templates")
    except Exception as error:  # noqa: BLE001 - whatever the gate raised, the guard still runs
        warnings.warn(f"policy gate refused the synthesis ({type(error).__name__}); the "
                      "data-loss guard runs on an ungated synthesis", stacklevel=1)
        return {stack.name: normalize(stack.template) for env in config.ENVIRONMENTS
                for stack in synthesize(env, tmp_path_factory.mktemp(f"ungated-{env}"),
                                        gate=False).stacks}
    return {stack: normalize(t) for stacks in templates.values() for stack, t in stacks.items()}


def guard(normalized: dict[str, Template], stack: str,
          mutate: Callable[[Template], None]) -> list[Finding]:
    new = copy.deepcopy(normalized[stack])
    mutate(new)
    return find_data_loss(stack=stack, old=normalized[stack], new=new)


def primary(t: Template) -> dict[str, Any]:
    return t["Resources"][_logical_id(t, "AWS::RDS::DBInstance", "Primary")]


# --- each data-losing change produces its finding -----------------------------------------------

def rename_primary(t: Template) -> None:
    old = _logical_id(t, "AWS::RDS::DBInstance", "Primary")
    t["Resources"]["DatabaseWriterInstance0123ABCD"] = t["Resources"].pop(old)


def change_kms_key(t: Template) -> None:
    primary(t)["Properties"]["KmsKeyId"] = {"Fn::GetAtt": ["OtherKey1234", "Arn"]}


def change_master_username(t: Template) -> None:
    """What `master_username` in the config changes: the generated secret's template."""
    secret = t["Resources"][_logical_id(t, "AWS::SecretsManager::Secret", "Credentials")]
    secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"] = json.dumps(
        {"username": NEW_USER})


def change_literal_master_username(t: Template) -> None:
    primary(t)["Properties"]["MasterUsername"] = NEW_USER


def weaken_deletion_policy(t: Template) -> None:
    primary(t)["DeletionPolicy"] = "Delete"


def weaken_update_replace_policy(t: Template) -> None:
    primary(t)["UpdateReplacePolicy"] = "Snapshot"


def remove_replica(t: Template) -> None:
    del t["Resources"][_logical_id(t, "AWS::RDS::DBInstance", "Replica1")]


def change_instance_identifier(t: Template) -> None:
    primary(t)["Properties"]["DBInstanceIdentifier"] = "renamed-writer"


def unencrypt(t: Template) -> None:
    primary(t)["Properties"]["StorageEncrypted"] = False


def upgrade_major(t: Template) -> None:
    primary(t)["Properties"]["EngineVersion"] = "8.4.3"


def change_pi_key(t: Template) -> None:
    primary(t)["Properties"]["PerformanceInsightsKMSKeyId"] = {"Fn::GetAtt": ["K2", "Arn"]}


def pin_availability_zone(t: Template) -> None:
    primary(t)["Properties"]["AvailabilityZone"] = "eu-west-1b"


def re_source_replica(t: Template) -> None:
    replica = t["Resources"][_logical_id(t, "AWS::RDS::DBInstance", "Replica1")]
    replica["Properties"]["SourceDBInstanceIdentifier"] = "arn:aws:rds:eu-west-1:1:db:other"


def rename_log_group(t: Template) -> None:
    group = t["Resources"][_logical_id(t, "AWS::Logs::LogGroup", "PrimaryLogGroupserror")]
    group["Properties"]["LogGroupName"] = "/aws/rds/instance/renamed/error"


def rename_secret(t: Template) -> None:
    secret = t["Resources"][_logical_id(t, "AWS::SecretsManager::Secret", "Credentials")]
    secret["Properties"]["Name"] = "prod/db/master"


def change_vault_key(t: Template) -> None:
    vault = t["Resources"][_logical_id(t, "AWS::Backup::BackupVault", "Vault")]
    vault["Properties"]["EncryptionKeyArn"] = {"Fn::GetAtt": ["K2", "Arn"]}


def rename_subnet_group(t: Template) -> None:
    group = t["Resources"][_logical_id(t, "AWS::RDS::DBSubnetGroup", "PrimaryInstance")]
    group["Properties"]["DBSubnetGroupName"] = "prod-db"


def change_key_spec(t: Template) -> None:
    t["Resources"]["Key9BCD29C7"]["Properties"]["KeySpec"] = "RSA_2048"


DATA_LOSS = [
    # (case, stack, mutation, property, old, new, words in the consequence)
    ("rename-primary-construct", PROD_DB, rename_primary, LOGICAL_ID, "DatabasePrimaryInstance",
     "DatabaseWriterInstance0123ABCD", "replaces the database"),
    ("kms-key-id", PROD_DB, change_kms_key, "KmsKeyId", {"Fn::GetAtt": ["Key9BCD29C7", "Arn"]},
     {"Fn::GetAtt": ["OtherKey1234", "Arn"]}, "replaces the database"),
    ("master-username-via-secret", PROD_DB, change_master_username, "MasterUsername",
     PROD.master_username, NEW_USER, "replaces the database"),
    ("master-username-literal", PROD_DB, change_literal_master_username, "MasterUsername",
     PROD.master_username, NEW_USER, "replaces the database"),
    ("deletion-policy-retain-to-delete", PROD_DB, weaken_deletion_policy, "DeletionPolicy",
     "Retain", "Delete", "deleted without a snapshot instead of retained"),
    ("update-replace-policy-retain-to-snapshot", PROD_DB, weaken_update_replace_policy,
     "UpdateReplacePolicy", "Retain", "Snapshot", "deleted after a final snapshot"),
    ("remove-replica-retained", PROD_DB, remove_replica, LOGICAL_ID, "DatabaseReplica1Instance",
     None, "CloudFormation ignores it on a replica"),
    ("remove-replica-whatever-its-policy", DEV_DB, remove_replica, LOGICAL_ID,
     "DatabaseReplica1Instance", None, "deletes the read replica whatever its DeletionPolicy"),
    ("instance-identifier", PROD_DB, change_instance_identifier, "DBInstanceIdentifier",
     PROD.instance_identifier("primary"), "renamed-writer", "replaces the database"),
    ("storage-encrypted", PROD_DB, unencrypt, "StorageEncrypted", True, False,
     "replaces the database"),
    ("engine-major-version", PROD_DB, upgrade_major, "EngineVersion", "8.0.43", "8.4.3",
     "major version 8.0 -> 8.4"),
    ("performance-insights-key", PROD_DB, change_pi_key, "PerformanceInsightsKMSKeyId",
     {"Fn::GetAtt": ["Key9BCD29C7", "Arn"]}, {"Fn::GetAtt": ["K2", "Arn"]},
     "replaces the database"),
    ("availability-zone", PROD_DB, pin_availability_zone, "AvailabilityZone", None, "eu-west-1b",
     "can replace the database"),
    ("replica-source", PROD_DB, re_source_replica, "SourceDBInstanceIdentifier", ...,
     "arn:aws:rds:eu-west-1:1:db:other", "re-created from its new source"),
    ("log-group-name", PROD_DB, rename_log_group, "LogGroupName", ..., ...,
     "replaces the log group"),
    ("secret-name", PROD_DB, rename_secret, "Name", None, "prod/db/master", "replaces the secret"),
    ("vault-key", PROD_DB, change_vault_key, "EncryptionKeyArn", ..., ...,
     "replaces the backup vault"),
    ("subnet-group-name", PROD_DB, rename_subnet_group, "DBSubnetGroupName", None, "prod-db",
     "replaces the DB subnet group"),
    ("kms-key-spec", PROD_DB, change_key_spec, "KeySpec", None, "RSA_2048", "replaces the KMS key"),
]


@pytest.mark.parametrize(("stack", "mutate", "prop", "old", "new", "consequence"),
                         [case[1:] for case in DATA_LOSS], ids=[case[0] for case in DATA_LOSS])
def test_data_loss_is_found(normalized: dict[str, Template], stack: str,
                            mutate: Callable[[Template], None], prop: str, old: Any, new: Any,
                            consequence: str) -> None:
    findings = guard(normalized, stack, mutate)
    assert len(findings) == 1, "\n".join(f.message() for f in findings)
    finding = findings[0]
    assert finding.blocking
    assert finding.property == prop
    if old is not ...:
        assert (finding.old.startswith(old) if prop == LOGICAL_ID else finding.old == old)
    if new is not ...:
        assert finding.new == new
    assert consequence in finding.consequence
    message = finding.message()
    assert stack in message and finding.resource in message and prop in message
    assert consequence in message


def test_the_message_names_the_database_old_and_new_values_and_the_consequence(
        normalized: dict[str, Template]) -> None:
    [finding] = guard(normalized, DEV_DB, change_master_username)
    assert finding.message() == (
        f"RedundantDb-dev-Database: database {DEV.instance_identifier('primary')} "
        "(AWS::RDS::DBInstance DatabasePrimaryInstanceBFD6CC54): MasterUsername "
        f'"{DEV.master_username}" -> "{NEW_USER}": replaces the '
        "database: CloudFormation creates a new, empty instance; the old one is deleted after a "
        "final snapshot; its automated backups are kept only until their retention ends")


def test_without_kept_backups_the_consequence_says_they_are_deleted(
        normalized: dict[str, Template]) -> None:
    old = copy.deepcopy(normalized[DEV_DB])
    del primary(old)["Properties"]["DeleteAutomatedBackups"]
    new = copy.deepcopy(old)
    change_literal_master_username(new)
    [finding] = find_data_loss(stack=DEV_DB, old=old, new=new)
    assert "replaces the database and deletes its automated backups" in finding.message()


@pytest.mark.parametrize("kept", [False, "false", "False"])
def test_automated_backups_kept_as_cloudformation_reads_the_boolean(
        normalized: dict[str, Template], kept: Any) -> None:
    """`DeleteAutomatedBackups: "false"` keeps them, as `false` does (`cloud_assembly.truthy`)."""
    old = copy.deepcopy(normalized[DEV_DB])
    primary(old)["Properties"]["DeleteAutomatedBackups"] = kept
    new = copy.deepcopy(old)
    change_literal_master_username(new)
    [finding] = find_data_loss(stack=DEV_DB, old=old, new=new)
    assert "its automated backups are kept only until their retention ends" in finding.message()


def test_the_database_create_only_properties_are_the_rds_facts() -> None:
    """One list for the guard, the gate and the constructs: `cloud_assembly.rds`."""
    assert STATEFUL_TYPES[rds.DB_INSTANCE].create_only is rds.CREATE_ONLY


def test_a_removed_stack_loses_every_stateful_resource(normalized: dict[str, Template]) -> None:
    findings = find_data_loss(stack=PROD_DB, old=normalized[PROD_DB], new=None)
    instances = [f for f in findings if f.resource_type == "AWS::RDS::DBInstance"]
    assert len(instances) == 3 and all(f.property == LOGICAL_ID for f in instances)


def test_a_new_stack_has_nothing_to_lose(normalized: dict[str, Template]) -> None:
    assert find_data_loss(stack=PROD_DB, old=None, new=normalized[PROD_DB]) == []


def test_fails_on_a_promotion_the_config_does_not_declare(
        normalized: dict[str, Template]) -> None:
    def promote(t: Template) -> None:
        replica = t["Resources"][_logical_id(t, "AWS::RDS::DBInstance", "Replica1")]
        del replica["Properties"]["SourceDBInstanceIdentifier"]

    [finding] = guard(normalized, PROD_DB, promote)
    assert finding.blocking and finding.property == "SourceDBInstanceIdentifier"
    assert "promotes a read replica that config/topology.json does not declare" in \
        finding.consequence
    assert not judge(findings=[finding], entries=()).passed


# --- harmless changes pass ---------------------------------------------------------------------

def raise_alarm_threshold(t: Template) -> None:
    t["Resources"][_logical_id(t, "AWS::CloudWatch::Alarm", "PrimaryCpu")]["Properties"][
        "Threshold"] = 95


def retag_everything(t: Template) -> None:
    for resource in t["Resources"].values():
        tags = resource.get("Properties", {}).get("Tags", [])
        for tag in tags if isinstance(tags, list) else ():
            if tag["Key"] == "project":
                tag["Value"] = "Renamed"


def grow_storage(t: Template) -> None:
    primary(t)["Properties"]["AllocatedStorage"] = "200"
    primary(t)["Properties"]["DBInstanceClass"] = "db.r6g.2xlarge"


def strengthen_policy(t: Template) -> None:
    lid = _logical_id(t, "AWS::RDS::DBInstance", "Primary")
    t["Resources"][lid]["DeletionPolicy"] = t["Resources"][lid]["UpdateReplacePolicy"] = "Retain"


def rename_security_group(t: Template) -> None:
    old = _logical_id(t, "AWS::EC2::SecurityGroup", "Clients")
    t["Resources"]["DatabaseAppClientsSecurityGroup99"] = t["Resources"].pop(old)


def minor_upgrade(t: Template) -> None:
    primary(t)["Properties"]["EngineVersion"] = "16.6"


@pytest.mark.parametrize("mutate", [raise_alarm_threshold, retag_everything, grow_storage,
                                    strengthen_policy, rename_security_group, minor_upgrade])
def test_harmless_change_passes(normalized: dict[str, Template],
                                mutate: Callable[[Template], None]) -> None:
    findings = guard(normalized, DEV_DB, mutate)
    assert findings == [], "\n".join(f.message() for f in findings)


# --- real re-synthesis -------------------------------------------------------------------------

def _synth_dev(tmp_path: Path) -> Template:
    """The dev database template through the app's own path, without the policy gate: its
    acknowledgments name construct paths, which a rename changes on purpose."""
    return normalize(synthesize("dev", tmp_path, gate=False).stack(DEV_DB).template)


@pytest.fixture
def renamed_primary(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Build the primary under the construct id 'Writer' instead of 'Primary'."""
    original = redundant_database.PrimaryDatabase

    def renamed(scope: Any, construct_id: str, **kwargs: Any) -> Any:
        return original(scope, "Writer" if construct_id == "Primary" else construct_id, **kwargs)

    monkeypatch.setattr(redundant_database, "PrimaryDatabase", renamed)
    yield


@pytest.mark.usefixtures("renamed_primary")
def test_renaming_the_primary_construct_for_real_is_found(
        normalized: dict[str, Template], tmp_path: Path) -> None:
    new = _synth_dev(tmp_path)
    findings = find_data_loss(stack=DEV_DB, old=normalized[DEV_DB], new=new)
    by_label = {(f.label, f.property): f for f in findings}
    renamed = by_label[(f"database {DEV.instance_identifier('primary')}", LOGICAL_ID)]
    assert renamed.new.startswith("DatabaseWriterInstance")
    assert "replaces the database" in renamed.message()
    # The replica follows its source: a new primary means a re-created replica.
    assert (f"database {DEV.instance_identifier('replica-1')}",
            "SourceDBInstanceIdentifier") in by_label
    # The primary's log groups and subnet group are replaced with it.
    assert {f.resource_type for f in findings} >= {"AWS::Logs::LogGroup", "AWS::RDS::DBSubnetGroup"}


def test_changing_the_master_username_in_config_for_real_is_found(
        normalized: dict[str, Template], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(config.ENVIRONMENTS, "dev", dataclasses.replace(
        config.ENVIRONMENTS["dev"], master_username=NEW_USER))
    new = _synth_dev(tmp_path)
    findings = find_data_loss(stack=DEV_DB, old=normalized[DEV_DB], new=new)
    assert [(f.label, f.property, f.old, f.new) for f in findings] == [
        (f"database {DEV.instance_identifier('primary')}", "MasterUsername", DEV.master_username,
         NEW_USER)]


# --- the allow-list ----------------------------------------------------------------------------

REASON = "dev is rebuilt from seed data every night; agreed with the DBA"


def _entry(finding: Finding, **overrides: Any) -> AllowEntry:
    fields = dict(stack=finding.stack, resource=finding.resource, property=finding.property,
                  to=ABSENT if finding.new is None else finding.new, reason=REASON)
    return AllowEntry(**(fields | overrides))


def test_an_allow_entry_allows_exactly_its_transition(normalized: dict[str, Template]) -> None:
    [finding] = guard(normalized, DEV_DB, change_master_username)
    assert judge(findings=[finding], entries=[_entry(finding)]).passed
    other_value = judge(findings=[finding], entries=[_entry(finding, to="someoneelse")])
    other_resource = judge(findings=[finding], entries=[_entry(finding, resource="Other")])
    assert other_value.blocking == other_resource.blocking == (finding,)


def test_an_allow_entry_for_a_removal_uses_the_absent_marker(
        normalized: dict[str, Template]) -> None:
    [finding] = guard(normalized, DEV_DB, remove_replica)
    assert 'to = "(absent)"' in finding.allow_entry_toml()
    assert judge(findings=[finding], entries=[_entry(finding)]).passed


def test_the_suggested_entry_parses_once_a_reason_is_written(
        normalized: dict[str, Template]) -> None:
    [finding] = guard(normalized, PROD_DB, change_kms_key)
    text = finding.allow_entry_toml().replace(
        "<why losing this data is intended, and who checked>", REASON)
    [entry] = parse(text, source="suggestion")
    assert entry.allows(finding)


def test_an_entry_stays_valid_after_the_snapshot_update(normalized: dict[str, Template]) -> None:
    """After `make snapshot-update` no finding is pending, but the entry holds, so it is kept."""
    [finding] = guard(normalized, DEV_DB, change_master_username)
    updated = copy.deepcopy(normalized[DEV_DB])
    change_master_username(updated)
    entry = _entry(finding)
    assert stale_entries(entries=[entry], findings=[], templates={DEV_DB: updated}) == ()
    assert stale_entries(entries=[entry], findings=[],
                         templates={DEV_DB: normalized[DEV_DB]}) == (entry,)


@pytest.mark.parametrize(("text", "error"), [
    ("[[allow]]\nstack = 'S'\nresource = 'R'\nproperty = 'P'\nto = 'x'\n", "missing ['reason']"),
    ("[[allow]]\nstack = 'S'\nresource = 'R'\nproperty = 'P'\nto = 'x'\nreason = 'TODO later'\n",
     "not a placeholder"),
    ("[[allow]]\nstack = 'S'\nresource = 'R'\nproperty = 'P'\nto = 'x'\nreason = 'ok'\n",
     "at least 20 characters"),
    (f"[[allow]]\nstack = ''\nresource = 'R'\nproperty = 'P'\nto = 'x'\nreason = '{REASON}'\n",
     "stack=''"),
    (f"[[allow]]\nstack = 'S'\nresource = 'R'\nproperty = 'P'\nto = 1\nreason = '{REASON}'\n"
     "owner = 'me'\n", "unknown ['owner']"),
    ("[allow]\nstack = 'S'\n", "entries are [[allow]] tables"),
    ("allow = [", "not valid TOML"),
])
def test_fails_on_a_malformed_allow_list(text: str, error: str) -> None:
    with pytest.raises(AllowListError, match=None) as raised:
        parse(text, source="allow.toml")
    assert error in str(raised.value) and "allow.toml" in str(raised.value)


# --- the baseline ------------------------------------------------------------------------------

def test_the_worktree_baseline_includes_snapshots_of_stacks_no_longer_built(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "SNAPSHOT_DIR", tmp_path)
    for stack in ("RedundantDb-x-Kept", "RedundantDb-x-Retired", "RedundantDb-xy-Other"):
        snapshots.snapshot_path(stack=stack).write_text('{"Resources": {}}')
    (tmp_path / "notes.txt").write_text("not a snapshot")
    baseline = load_baseline(stacks=["RedundantDb-x-Kept", "RedundantDb-x-New"], ref="worktree",
                             stack_prefix="RedundantDb-x-")
    assert baseline.templates == {"RedundantDb-x-Kept": {"Resources": {}},
                                  "RedundantDb-x-New": None,
                                  "RedundantDb-x-Retired": {"Resources": {}}}


def test_the_default_baseline_is_the_committed_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make snapshot-update` rewrites files on disk; the guard still compares with git."""
    monkeypatch.delenv(snapshots.BASELINE_ENV, raising=False)
    stacks = sorted(snapshots.snapshotted_stacks(prefix=f"{APP_NAME}-", ref="HEAD"))
    if not stacks:
        pytest.skip("no snapshot committed yet")
    baseline = load_baseline(stacks=stacks[:1])
    assert baseline.source.startswith("snapshots committed at HEAD")
    assert baseline.templates[stacks[0]] is not None


def test_fails_on_an_unknown_baseline_revision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(snapshots.BASELINE_ENV, "no-such-revision-42")
    with pytest.raises(snapshots.BaselineError, match="REVIEW_BASELINE='no-such-revision-42'"):
        load_baseline(stacks=[DEV_DB])


# --- the committed state -----------------------------------------------------------------------

def test_current_synthesis_loses_no_data_against_the_committed_snapshots(
        normalized: dict[str, Template]) -> None:
    """The acceptance gate: a rename or a create-only change fails `make test` here, by name."""
    baseline = load_baseline(stacks=normalized, stack_prefix=f"{APP_NAME}-")
    findings = [f for stack, old in baseline.templates.items()
                for f in find_data_loss(stack=stack, old=old, new=normalized.get(stack))]
    verdict = judge(findings=findings, entries=load(ALLOWLIST_PATH))
    assert verdict.passed, (
        f"the data-loss guard fired against the {baseline.source}:\n"
        + "\n".join(f"- {f.message()}" for f in verdict.blocking)
        + f"\nIf intended, add a reviewed entry to {ALLOWLIST_PATH}, e.g.:\n\n"
        + "\n\n".join(f.allow_entry_toml() for f in verdict.blocking))


def test_the_allow_list_lives_outside_syrupys_directory() -> None:
    """syrupy reports unknown files under __snapshots__ as unused and deletes them on update."""
    assert SNAPSHOT_ROOT not in ALLOWLIST_PATH.parents


def test_every_allow_list_entry_still_means_something(normalized: dict[str, Template]) -> None:
    entries = load(ALLOWLIST_PATH)
    baseline = load_baseline(stacks=normalized, stack_prefix=f"{APP_NAME}-")
    findings = [f for stack, old in baseline.templates.items()
                for f in find_data_loss(stack=stack, old=old, new=normalized.get(stack))]
    stale = stale_entries(entries=entries, findings=findings, templates=normalized)
    assert not stale, (f"{ALLOWLIST_PATH}: these entries allow no pending change and do not hold "
                       "in the current synthesis; delete or correct them:\n"
                       + "\n".join(f"- {e.describe()}" for e in stale))
    unknown = {e.stack for e in entries} - set(normalized)
    assert not unknown, f"{ALLOWLIST_PATH}: entries name stacks that do not exist: {unknown}"


# --- a promotion declared in config/topology.json ------------------------------------------------

def _generations(env: str, writer: str, region: str | None,
                 tmp_path: Path) -> tuple[config.DatabaseConfig, dict[str, Template],
                                          dict[str, Template], dict[str, str | None]]:
    """(config of the promoted topology, templates before, after, regions), as `make review`
    compares them: the previous generation synthesized with the same code."""
    import os

    from config.topology import TOPOLOGY_FILE_VARIABLE

    topology = tmp_path / "topology.json"
    entry = {"writer": writer, **({"region": region} if region else {})}
    before = os.environ[TOPOLOGY_FILE_VARIABLE]
    try:
        os.environ[TOPOLOGY_FILE_VARIABLE] = str(tmp_path / "none.json")
        old = synthesize(env, tmp_path / "old", gate=False)
        topology.write_text(json.dumps({env: {"promotions": [entry]}}))
        os.environ[TOPOLOGY_FILE_VARIABLE] = str(topology)
        new = synthesize(env, tmp_path / "new", gate=False)
        cfg = config.load(env)
    finally:
        os.environ[TOPOLOGY_FILE_VARIABLE] = before
    return (cfg, {s.name: normalize(s.template) for s in old.stacks},
            {s.name: normalize(s.template) for s in new.stacks}, new.regions)


@pytest.fixture(scope="module")
def promoted_prod(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    return _generations("prod", "prod-mysql-replica-2", "eu-west-1",
                        tmp_path_factory.mktemp("promoted-prod"))


def _declared_findings(generations: tuple[Any, ...]) -> list[Finding]:
    from review.pipeline import declared_promotion

    cfg, old, new, _ = generations
    declared = declared_promotion(cfg.layout)
    return [f for stack in sorted(set(old) | set(new))
            for f in find_data_loss(stack=stack, old=old.get(stack), new=new.get(stack),
                                    declared=declared)]


def test_a_declared_promotion_is_an_in_place_promotion_and_nothing_is_lost(
        promoted_prod: tuple[Any, ...]) -> None:
    findings = _declared_findings(promoted_prod)
    assert [f for f in findings if f.blocking] == []
    [promotion] = [f for f in findings if f.property == rds.SOURCE]
    assert promotion.label == "database prod-mysql-replica-2"
    assert promotion.consequence.startswith(
        "the promotion config/topology.json declares: CloudFormation promotes "
        "prod-mysql-replica-2 in place (a brief interruption, no replacement, its data and "
        "automated backups kept); prod-mysql-primary is retired (kept outside the stack, "
        "deletion protection on); the replicas of prod-mysql-primary are replaced by replicas "
        "of prod-mysql-replica-2")
    removed = {f.label: f.consequence for f in findings if f.property == LOGICAL_ID}
    assert removed["database prod-mysql-primary"].startswith("retires prod-mysql-primary")
    for replaced in ("database prod-mysql-replica-1", "database prod-mysql-dr-replica"):
        assert removed[replaced].startswith("a replica of prod-mysql-primary replaced by a "
                                            "replica of prod-mysql-replica-2"), replaced
    assert len([f for f in findings if f.resource_type == rds.DB_INSTANCE]) == 4


@pytest.mark.parametrize(("mutate", "prop"), [
    (lambda props: props.update(StorageEncrypted=True), "StorageEncrypted"),
    (lambda props: props.update(MasterUsername="dbadmin"), "MasterUsername"),
    (lambda props: props.update(DBInstanceIdentifier="prod-mysql-writer"),
     "DBInstanceIdentifier"),
])
def test_fails_on_what_would_replace_the_promoted_writer(
        promoted_prod: tuple[Any, ...], mutate: Callable[[dict[str, Any]], None],
        prop: str) -> None:
    cfg, old, new, regions = promoted_prod
    new = copy.deepcopy(new)
    writer = next(r for r in new[PROD_DB]["Resources"].values()
                  if r["Properties"].get("DBInstanceIdentifier") == "prod-mysql-replica-2")
    mutate(writer["Properties"])
    blocking = [(f.property, f.consequence.split(":")[0])
                for f in _declared_findings((cfg, old, new, regions)) if f.blocking]
    assert blocking[0] == (prop, "replaces the database")
    # Renamed, it is no longer the writer the config declares: its promotion blocks too.
    assert blocking[1:] == ([(rds.SOURCE, "promotes a read replica that config/topology.json "
                                          "does not declare the writer")]
                            if prop == "DBInstanceIdentifier" else [])


def test_fails_when_the_retired_writer_was_deployed_with_a_deleting_policy(
        promoted_prod: tuple[Any, ...]) -> None:
    cfg, old, new, regions = promoted_prod
    old = copy.deepcopy(old)
    primary(old[PROD_DB])["DeletionPolicy"] = "Snapshot"
    blocking = [f for f in _declared_findings((cfg, old, new, regions)) if f.blocking]
    assert [(f.label, f.property) for f in blocking] == [("database prod-mysql-primary",
                                                          LOGICAL_ID)]
    assert "deletes the database after a final snapshot" in blocking[0].consequence


def test_review_report_shows_one_promotion_and_no_replacement(
        promoted_prod: tuple[Any, ...]) -> None:
    from review.pipeline import declared_promotion, review_environment
    from review.report import render
    from review.snapshots import Baseline

    cfg, old, new, regions = promoted_prod
    review = review_environment(
        env="prod", templates=new, regions=regions,
        baseline=Baseline(source="generation 0", templates=old), entries=(),
        declared=declared_promotion(cfg.layout), promotion=cfg.layout.change)
    assert review.passed
    text = render(review, diagram=False)
    assert "**Data-loss guard: PASSED" in text
    assert ("**Declared promotion** (config/topology.json): env prod: generation 1: "
            "prod-mysql-replica-2 in eu-west-1 is the writer; prod-mysql-primary retired") in text
    assert text.count("CloudFormation promotes prod-mysql-replica-2 in place") == 1
    assert "DATA LOSS" not in text and "replaces the database" not in text
