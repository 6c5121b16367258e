"""The data-loss guard: each way of losing a stateful resource is caught, harmless changes are not.

The cases mutate deep copies of the committed snapshots (equal to the current synthesis, as
tests/test_snapshots.py holds them) or hand-written templates: no synth, so `make mutation`
runs them for every mutant of review/guard.py. The committed state, real re-syntheses and
declared promotions are in tests/test_data_loss_guard_synthesized.py.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import config
from cloud_assembly import engines, rds
from config.naming import APP_NAME
from review import snapshots
from review.allowlist import AllowEntry, AllowListError, judge, parse, stale_entries
from review.guard import (
    ABSENT,
    LOGICAL_ID,
    DeclaredPromotion,
    Finding,
    canonical,
    find_data_loss,
    find_upgrade_problems,
    show,
)
from review.normalize import normalize
from review.snapshots import load_baseline
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
def normalized() -> dict[str, Template]:
    """{stack: normalized template} of every environment (read-only: copy before mutating):
    the snapshots in the working tree, which tests/test_snapshots.py holds equal to the current
    synthesis, so the guard's own cases need no synth."""
    return {stack: normalize(json.loads(snapshots.snapshot_path(stack=stack).read_text()))
            for stack in snapshots.snapshotted_stacks(prefix=f"{APP_NAME}-", ref=None)}


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


def test_an_engine_change_replaces_the_database(normalized: dict[str, Template]) -> None:
    [finding] = guard(normalized, PROD_DB, lambda t: primary(t)["Properties"].update(
        Engine="mariadb"))
    assert (finding.property, finding.old, finding.new) == ("Engine", "mysql", "mariadb")
    assert finding.blocking and finding.consequence == REPLACES_PROD_PRIMARY


#: What replacing prod's primary costs (retained on replacement, a fixed identifier).
REPLACES_PROD_PRIMARY = ("replaces the database: CloudFormation creates a new, empty instance; "
                         "the old one is orphaned outside the stack with its data (and a fixed "
                         "DBInstanceIdentifier makes the create fail)")


def _one(logical_id: str, type_: str, deletion: str = "Snapshot", **props: Any) -> Template:
    return {"Resources": {logical_id: {"Type": type_, "Properties": props,
                                       "DeletionPolicy": deletion,
                                       "UpdateReplacePolicy": deletion}}}


def _renamed(old: Template, logical_id: str, **props: Any) -> Template:
    [resource] = copy.deepcopy(old)["Resources"].values()
    resource["Properties"] = {**resource["Properties"], **props}
    return {"Resources": {logical_id: resource}}


DB = "AWS::RDS::DBInstance"
VAULT = "AWS::Backup::BackupVault"
KEY_ARN = {"Fn::GetAtt": ["Key", "Arn"]}


@pytest.mark.parametrize(("old", "new", "successor", "consequence"), [
    # The same literal name under a new logical id: the database is replaced
    (_one("Db1", DB, DBInstanceIdentifier="db-a", Engine="mysql"),
     _renamed(_one("Db1", DB, DBInstanceIdentifier="db-a", Engine="mysql"), "Db2",
              AllocatedStorage="100"), "Db2",
     "replaces the database and deletes its automated backups: CloudFormation creates a new, "
     "empty instance; the old one is deleted after a final snapshot (a changed construct id or "
     "path changes the logical id)"),
    # One named database removed, another one added: a removal, not a rename
    (_one("Db1", DB, DBInstanceIdentifier="db-a", Engine="mysql"),
     _renamed(_one("Db1", DB, DBInstanceIdentifier="db-a", Engine="mysql"), "Db2",
              DBInstanceIdentifier="db-b"), None,
     "deletes the database after a final snapshot; everything written after that snapshot and "
     "its automated backups are lost"),
    # No literal name: the same properties under a new logical id are the same resource
    (_one("Vault1", VAULT, "Retain", EncryptionKeyArn=KEY_ARN),
     _renamed(_one("Vault1", VAULT, "Retain", EncryptionKeyArn=KEY_ARN), "Vault2"), "Vault2",
     "replaces the backup vault: new recovery points go to a new, empty vault; the old backup "
     "vault is orphaned outside the stack (a changed construct id or path changes the logical "
     "id)"),
    # ... and other properties make it another resource
    (_one("Vault1", VAULT, "Retain", EncryptionKeyArn=KEY_ARN),
     _renamed(_one("Vault1", VAULT, "Retain", EncryptionKeyArn=KEY_ARN), "Vault2",
              EncryptionKeyArn={"Fn::GetAtt": ["Key2", "Arn"]}), None,
     "removes the backup vault from the stack: it is orphaned (kept, but no longer managed, "
     "and its alarms, backups and rotation go with the stack)"),
    # A resource of another type is never the successor
    (_one("Vault1", VAULT, "Delete", EncryptionKeyArn=KEY_ARN),
     {"Resources": {"Vault2": {"Type": "AWS::Backup::BackupPlan",
                               "Properties": {"EncryptionKeyArn": KEY_ARN}}}}, None,
     "deletes the backup vault and its data (DeletionPolicy Delete)"),
    # ... found past a resource of another type added first
    (_one("Vault1", VAULT, "Retain", EncryptionKeyArn=KEY_ARN),
     {"Resources": {"Plan": {"Type": "AWS::Backup::BackupPlan", "Properties": {}},
                    **_renamed(_one("Vault1", VAULT, "Retain", EncryptionKeyArn=KEY_ARN),
                               "Vault2")["Resources"]}}, "Vault2",
     "replaces the backup vault: new recovery points go to a new, empty vault; the old backup "
     "vault is orphaned outside the stack (a changed construct id or path changes the logical "
     "id)"),
    # No properties on either side: the same resource
    ({"Resources": {"Vault1": {"Type": VAULT}}}, {"Resources": {"Vault2": {"Type": VAULT}}},
     "Vault2", "replaces the backup vault: new recovery points go to a new, empty vault; the old "
               "backup vault is deleted (a changed construct id or path changes the logical id)"),
    ({"Resources": {"Db": {"Type": DB}}}, {"Resources": {}}, None,
     "deletes the database and its data (DeletionPolicy Delete)"),
], ids=["same name", "another name", "no name, same properties", "no name, other properties",
        "another type", "past another type", "no properties", "no properties, removed"])
def test_a_new_logical_id_is_a_rename_only_for_the_same_resource(
        old: Template, new: Template, successor: str | None, consequence: str) -> None:
    [finding] = find_data_loss(stack="S", old=old, new=new)
    [old_id] = old["Resources"]
    assert (finding.property, finding.old, finding.new) == (LOGICAL_ID, old_id, successor)
    assert finding.blocking and finding.consequence == consequence


# --- a declared promotion, on hand-written templates ------------------------------------------

SOURCE_REF = {"Fn::GetAtt": ["DatabasePrimaryInstanceBFD6CC54", "DBInstanceArn"]}


def _db(identifier: str, policy: str = "Retain", **props: Any) -> dict[str, Any]:
    return {"Type": DB, "DeletionPolicy": policy, "UpdateReplacePolicy": policy,
            "Properties": {"DBInstanceIdentifier": identifier, "Engine": "mysql", **props}}


def _kept(type_: str, policy: str = "Retain", **props: Any) -> dict[str, Any]:
    return {"Type": type_, "DeletionPolicy": policy, "UpdateReplacePolicy": policy,
            "Properties": props}


#: Generation 0: the primary, two replicas of it (with their log groups) and the secret.
GENERATION_0: Template = {"Resources": {
    "DatabasePrimaryInstanceBFD6CC54": _db("db-primary"),
    "DatabaseReplica1InstanceA1B2C3D4": _db("db-replica-1",
                                            SourceDBInstanceIdentifier=SOURCE_REF),
    "DatabaseReplica2InstanceE5F6A7B8": _db("db-replica-2",
                                            SourceDBInstanceIdentifier=SOURCE_REF),
    "DatabaseReplica2LogGroupserror0C0FFEE0": _kept("AWS::Logs::LogGroup", "Delete"),
    "DatabaseReplica20C0FFEE1": _kept("AWS::Logs::LogGroup"),
    "DatabaseReplica20LogGroup0C0FFEE2": _kept("AWS::Logs::LogGroup"),
    "DatabaseCredentials0C0FFEE3": _kept("AWS::SecretsManager::Secret"),
}}
#: Generation 1: replica 1 promoted in place, the primary retired, replica 2 replaced, the
#: secret moved to the writer's region.
GENERATION_1: Template = {"Resources": {
    "DatabaseReplica1InstanceA1B2C3D4": _db("db-replica-1"),
    "DatabaseG1Replica1Instance9F8E7D6C": _db("db-g1-replica-1", SourceDBInstanceIdentifier={
        "Fn::GetAtt": ["DatabaseReplica1InstanceA1B2C3D4", "DBInstanceArn"]}),
    "DatabaseReplica20LogGroup0C0FFEE2": _kept("AWS::Logs::LogGroup"),
}}
DECLARED = DeclaredPromotion(
    writer="db-replica-1", retired="db-primary",
    replaced={"S": ("DatabaseReplica2",), "Other": ("DatabaseReplica20",)},
    moved={"S": ("DatabaseCredentials",)})
REPLACED = "a replica of db-primary replaced by a replica of db-replica-1 (RDS cannot re-parent " \
           "a replica): "


def _findings(old: Template, new: Template, declared: DeclaredPromotion | None = DECLARED
              ) -> list[tuple[str, str, Any, Any, bool, str]]:
    return [(f.resource, f.property, f.old, f.new, f.blocking, f.consequence)
            for f in find_data_loss(stack="S", old=old, new=new, declared=declared)]


def test_a_declared_promotion_loses_nothing() -> None:
    [retired, promotion, *_] = find_data_loss(stack="S", old=GENERATION_0, new=GENERATION_1,
                                              declared=DECLARED)
    assert retired.message().startswith(
        "S: database db-primary (AWS::RDS::DBInstance DatabasePrimaryInstanceBFD6CC54): "
        "LogicalId \"DatabasePrimaryInstanceBFD6CC54\" -> (absent): retires db-primary")
    assert promotion.message().startswith(
        "S: database db-replica-1 (AWS::RDS::DBInstance DatabaseReplica1InstanceA1B2C3D4): "
        "SourceDBInstanceIdentifier {")
    [note, *_] = find_data_loss(stack="S", old=GENERATION_0, new=GENERATION_1,
                                declared=dataclasses.replace(DECLARED, decommission="rm -rf"))
    assert note.consequence.endswith("until it is decommissioned: rm -rf")
    assert _findings(GENERATION_0, GENERATION_1) == [
        ("DatabasePrimaryInstanceBFD6CC54", LOGICAL_ID, "DatabasePrimaryInstanceBFD6CC54", None,
         False, "retires db-primary, the former writer: CloudFormation keeps it outside the "
                "stack (DeletionPolicy Retain, deletion protection on), fenced, for forensics "
                "until it is decommissioned"),
        ("DatabaseReplica1InstanceA1B2C3D4", rds.SOURCE, SOURCE_REF, None, False,
         "the promotion config/topology.json declares: CloudFormation promotes db-replica-1 in "
         "place (a brief interruption, no replacement, its data and automated backups kept); "
         "db-primary is retired (kept outside the stack, deletion protection on); the replicas "
         "of db-primary are replaced by replicas of db-replica-1"),
        ("DatabaseReplica2InstanceE5F6A7B8", LOGICAL_ID, "DatabaseReplica2InstanceE5F6A7B8",
         None, False, REPLACED + "the replica is deleted once its successor exists: it holds "
                                 "only a copy of the former writer's data"),
        ("DatabaseReplica2LogGroupserror0C0FFEE0", LOGICAL_ID,
         "DatabaseReplica2LogGroupserror0C0FFEE0", None, False,
         REPLACED + "the log group goes with its replica (deleted)"),
        ("DatabaseReplica20C0FFEE1", LOGICAL_ID, "DatabaseReplica20C0FFEE1", None, False,
         REPLACED + "the log group goes with its replica (kept outside the stack)"),
        ("DatabaseCredentials0C0FFEE3", LOGICAL_ID, "DatabaseCredentials0C0FFEE3", None, False,
         "moves with the writer to its region: the secret is kept outside this stack "
         "(DeletionPolicy Retain); the writer's stack holds its successor"),
    ]


def test_a_declared_removal_needs_no_properties() -> None:
    old = {"Resources": {"DatabaseReplica2LogGroupsslow0C0FFEE4": {"Type": "AWS::Logs::LogGroup"}}}
    assert _findings(old, {"Resources": {}}) == [
        ("DatabaseReplica2LogGroupsslow0C0FFEE4", LOGICAL_ID,
         "DatabaseReplica2LogGroupsslow0C0FFEE4", None, False,
         REPLACED + "the log group goes with its replica (deleted)")]


def _changed(template: Template, logical_id: str, **changes: Any) -> Template:
    changed = copy.deepcopy(template)
    changed["Resources"][logical_id].update(changes)
    return changed


def _without(template: Template, *logical_ids: str) -> Template:
    return {"Resources": {k: v for k, v in template["Resources"].items()
                          if k not in logical_ids}}


@pytest.mark.parametrize(("old", "new", "declared", "blocking"), [
    # The retired writer deployed with a policy that deletes it
    (_changed(GENERATION_0, "DatabasePrimaryInstanceBFD6CC54", DeletionPolicy="Snapshot"),
     GENERATION_1, DECLARED, [("DatabasePrimaryInstanceBFD6CC54", LOGICAL_ID,
                               "deletes the database after a final snapshot; everything written "
                               "after that snapshot and its automated backups are lost")]),
    # The secret that moves with the writer, deployed with a deleting policy
    (_changed(GENERATION_0, "DatabaseCredentials0C0FFEE3", DeletionPolicy="Delete"),
     GENERATION_1, DECLARED, [("DatabaseCredentials0C0FFEE3", LOGICAL_ID,
                               "deletes the secret and its data (DeletionPolicy Delete)")]),
    # Another identifier promoted than the one declared
    (GENERATION_0, GENERATION_1, dataclasses.replace(DECLARED, writer="db-replica-2"),
     [("DatabaseReplica1InstanceA1B2C3D4", rds.SOURCE,
       "promotes a read replica that config/topology.json does not declare the writer: "
       "CloudFormation would make it a second writer that stops replicating (no replacement); "
       "declare the promotion after the failover that made it the writer, or keep its source")]),
    # No declaration: everything the promotion removes blocks
    (GENERATION_0, GENERATION_1, None, [
        ("DatabasePrimaryInstanceBFD6CC54", LOGICAL_ID, "removes the database from the stack: "
         "it is orphaned (kept, but no longer managed, and its alarms, backups and rotation go "
         "with the stack)"),
        ("DatabaseReplica1InstanceA1B2C3D4", rds.SOURCE, "promotes a read replica that "
         "config/topology.json does not declare the writer: CloudFormation would make it a "
         "second writer that stops replicating (no replacement); declare the promotion after "
         "the failover that made it the writer, or keep its source"),
        ("DatabaseReplica2InstanceE5F6A7B8", LOGICAL_ID, "deletes the read replica whatever its "
         "DeletionPolicy (CloudFormation ignores it on a replica; deletion protection makes the "
         "delete fail and leaves it outside the stack): a reader of the writer is lost"),
        ("DatabaseReplica2LogGroupserror0C0FFEE0", LOGICAL_ID,
         "deletes the log group and its data (DeletionPolicy Delete)"),
        ("DatabaseReplica20C0FFEE1", LOGICAL_ID, "removes the log group from the stack: it is "
         "orphaned (kept, but no longer managed, and its alarms, backups and rotation go with "
         "the stack)"),
        ("DatabaseCredentials0C0FFEE3", LOGICAL_ID, "removes the secret from the stack: it is "
         "orphaned (kept, but no longer managed, and its alarms, backups and rotation go with "
         "the stack)")]),
    # A resource whose id only starts like a replaced construct's (Replica20, Replica2) is not its
    (GENERATION_0, _without(GENERATION_1, "DatabaseReplica20LogGroup0C0FFEE2"), DECLARED,
     [("DatabaseReplica20LogGroup0C0FFEE2", LOGICAL_ID, "removes the log group from the stack: "
       "it is orphaned (kept, but no longer managed, and its alarms, backups and rotation go "
       "with the stack)")]),
    # Nothing declared as moved from this stack
    (GENERATION_0, GENERATION_1, dataclasses.replace(DECLARED, moved={}),
     [("DatabaseCredentials0C0FFEE3", LOGICAL_ID, "removes the secret from the stack: it is "
       "orphaned (kept, but no longer managed, and its alarms, backups and rotation go with the "
       "stack)")]),
    # A resource of a replaced construct that stays, as another type, is no declared removal
    (GENERATION_0, {"Resources": {**GENERATION_1["Resources"],
                                  "DatabaseReplica2LogGroupserror0C0FFEE0": _kept(VAULT)}},
     DECLARED, [("DatabaseReplica2LogGroupserror0C0FFEE0", LOGICAL_ID,
                 "deletes the log group and its data (DeletionPolicy Delete)")]),
    # A retired writer that was still a replica in the old template: deleted whatever its policy
    (_changed(GENERATION_0, "DatabasePrimaryInstanceBFD6CC54", Properties={
        "DBInstanceIdentifier": "db-primary", "SourceDBInstanceIdentifier": "arn:x"}),
     GENERATION_1, DECLARED, [("DatabasePrimaryInstanceBFD6CC54", LOGICAL_ID,
                               "deletes the read replica whatever its DeletionPolicy "
                               "(CloudFormation ignores it on a replica; deletion protection "
                               "makes the delete fail and leaves it outside the stack): a "
                               "reader of the writer is lost")]),
], ids=["retired writer not retained", "moved secret not retained", "another writer",
        "undeclared", "a prefix is not a construct", "nothing moved", "type changed",
        "retired replica"])
def test_a_declared_promotion_allows_only_what_it_declares(
        old: Template, new: Template, declared: DeclaredPromotion | None,
        blocking: list[tuple[str, str, str]]) -> None:
    found = _findings(old, new, declared)
    assert [(r, p, c) for r, p, _, _, b, c in found if b] == blocking
    for resource, prop, before, after, _, _ in found:  # each names what it was and becomes
        if prop == rds.SOURCE:
            assert (before, after) == (SOURCE_REF, None)
        else:
            assert (prop, before, after) == (LOGICAL_ID, resource, None)


@pytest.mark.parametrize(("change", "finding"), [
    ({"EngineVersion": "8.4.3"}, None),  # an engine upgrade: judged across the stacks below
    ({"EngineVersion": "8.0.44"}, None),
    ({"Engine": None}, None),  # a replica names no engine
    ({"StorageType": "io2"}, ("StorageType", "gp3", "io2",
     "can replace the database (CloudFormation does for some storage type changes); if it "
     "does: CloudFormation creates a new, empty instance; the old one is orphaned outside the "
     "stack with its data (and a fixed DBInstanceIdentifier makes the create fail)")),
    ({"AvailabilityZone": "eu-west-1a"}, ("AvailabilityZone", None, "eu-west-1a",
     "can replace the database (CloudFormation does for moving a Single-AZ instance to another "
     "AZ); if it does: CloudFormation creates a new, empty instance; the old one is orphaned "
     "outside the stack with its data (and a fixed DBInstanceIdentifier makes the create "
     "fail)")),
    ({"PerformanceInsightsKMSKeyId": None}, ("PerformanceInsightsKMSKeyId", KEY_ARN, None,
     "replaces the database: CloudFormation creates a new, empty instance; the old one is "
     "orphaned outside the stack with its data (and a fixed DBInstanceIdentifier makes the "
     "create fail) (the Performance Insights key cannot change once set)")),
], ids=["major", "minor", "no engine", "storage type", "availability zone", "pi key removed"])
def test_a_conditionally_create_only_property(change: dict[str, Any],
                                              finding: tuple[str, Any, Any, str] | None) -> None:
    props = {"EngineVersion": "8.0.43", "StorageType": "gp3",
             "PerformanceInsightsKMSKeyId": KEY_ARN}
    old = {"Resources": {"Db": _db("db", **props)}}
    new = {"Resources": {"Db": _db("db", **{k: v for k, v in (props | change).items()
                                           if v is not None})}}
    if change.get("Engine", "mysql") is None:
        del new["Resources"]["Db"]["Properties"]["Engine"]
        new["Resources"]["Db"]["Properties"]["EngineVersion"] = "8.4.3"
    found = [(f.property, f.old, f.new, f.consequence)
             for f in find_data_loss(stack="S", old=old, new=new)]
    assert found == ([finding] if finding else [])


@pytest.mark.parametrize(("attribute", "when"), [
    ("DeletionPolicy", "the stack is deleted or the resource removed"),
    ("UpdateReplacePolicy", "it is replaced"),
])
def test_a_weakened_policy_says_when_and_what_is_lost(attribute: str, when: str) -> None:
    old = {"Resources": {"Db": _db("db")}}
    new = _changed(old, "Db", **{attribute: "Snapshot"})
    [finding] = find_data_loss(stack="S", old=old, new=new)
    assert (finding.property, finding.old, finding.new) == (attribute, "Retain", "Snapshot")
    assert finding.consequence == (f"weakens the protection of the database: when {when}, it is "
                                   "deleted after a final snapshot instead of retained")


def test_a_template_without_resources_or_properties_loses_nothing() -> None:
    assert find_data_loss(stack="S", old={}, new={}) == []
    bare = {"Resources": {"Db": {"Type": DB}}}
    assert find_data_loss(stack="S", old=bare, new=copy.deepcopy(bare)) == []


def test_a_new_source_names_both_sources() -> None:
    old = {"Resources": {"Db": _db("db", SourceDBInstanceIdentifier="arn:a")}}
    [finding] = find_data_loss(stack="S", old=old, new=_changed(old, "Db", Properties={
        "DBInstanceIdentifier": "db", "Engine": "mysql", "SourceDBInstanceIdentifier": "arn:b"}))
    assert (finding.property, finding.old, finding.new) == (rds.SOURCE, "arn:a", "arn:b")


def test_a_pi_key_set_for_the_first_time_replaces_nothing() -> None:
    old = {"Resources": {"Db": _db("db")}}
    new = {"Resources": {"Db": _db("db", PerformanceInsightsKMSKeyId=KEY_ARN)}}
    assert find_data_loss(stack="S", old=old, new=new) == []


@pytest.mark.parametrize(("value", "toml"), [
    (True, "true"), (False, "false"), (3, "3"), ("x", '"x"'), ([1, "a"], '[1, "a"]'),
    ({"Ref": "K", "B": [False]}, '{ "Ref" = "K", "B" = [false] }'),
])
def test_a_suggested_entry_writes_the_new_value_as_toml(value: Any, toml: str) -> None:
    finding = Finding(stack="S", resource="R", resource_type=DB, label="database R",
                      property="P", old=None, new=value, consequence="c")
    assert finding.allow_entry_toml().splitlines()[4] == f"to = {toml}"


def test_a_value_with_no_toml_form_is_refused() -> None:
    finding = Finding(stack="S", resource="R", resource_type=DB, label="database R",
                      property="P", old=None, new=None, consequence="c")
    with pytest.raises(TypeError, match=r"^no TOML form for \(1\+2j\)$"):
        dataclasses.replace(finding, new=1 + 2j).allow_entry_toml()


def test_values_compare_and_show_whatever_their_key_order() -> None:
    old = {"Resources": {"Db": _db("db", KmsKeyId={"Fn::GetAtt": ["Key", "Arn"]},
                                   Tags=[{"Key": "a", "Value": "1"}])}}
    reordered = {"Resources": {"Db": _db("db", KmsKeyId={"Fn::GetAtt": ["Key", "Arn"]},
                                         Tags=[{"Value": "1", "Key": "a"}])}}
    assert find_data_loss(stack="S", old=old, new=reordered) == []
    assert canonical({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    assert show({"b": 1, "a": "x"}) == '{"a": "x", "b": 1}'
    assert (canonical(None), show(None)) == (ABSENT, ABSENT)


def test_a_resource_without_properties_is_labelled_by_its_logical_id() -> None:
    old = {"Resources": {"Vault": {"Type": VAULT}}}
    [finding] = find_data_loss(stack="S", old=old, new={"Resources": {}})
    assert finding.label == "backup vault Vault"
    assert finding.message() == ("S: backup vault Vault (AWS::Backup::BackupVault Vault): "
                                 "LogicalId \"Vault\" -> (absent): deletes the backup vault and "
                                 "its data (DeletionPolicy Delete)")


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
    primary(t)["Properties"]["EngineVersion"] = "17.10"


@pytest.mark.parametrize("mutate", [raise_alarm_threshold, retag_everything, grow_storage,
                                    strengthen_policy, rename_security_group, minor_upgrade])
def test_harmless_change_passes(normalized: dict[str, Template],
                                mutate: Callable[[Template], None]) -> None:
    findings = guard(normalized, DEV_DB, mutate)
    assert findings == [], "\n".join(f.message() for f in findings)


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




# --- engine upgrades, judged across an environment's stacks -----------------------------------

def _environment(normalized: dict[str, Template], env: str) -> dict[str, Template]:
    """{stack: a copy of its template} of one environment's snapshots."""
    return {stack: copy.deepcopy(t) for stack, t in normalized.items()
            if stack.startswith(f"{APP_NAME}-{env}-")}


def _instances(templates: dict[str, Template]) -> dict[str, tuple[Template, dict[str, Any]]]:
    return {body["Properties"]["DBInstanceIdentifier"]: (t, body)
            for t in templates.values() for body in t["Resources"].values()
            if body["Type"] == DB}


def _declare(templates: dict[str, Template], version: str, *members: str,
             family: str | None = None, allow: bool = True) -> dict[str, Template]:
    """`members` (all when none) declare `version`, their parameter groups `family` (default:
    the version's), AllowMajorVersionUpgrade `allow`."""
    for identifier, (template, body) in _instances(templates).items():
        if members and identifier not in members:
            continue
        props = body["Properties"]
        props["EngineVersion"] = version
        props["AllowMajorVersionUpgrade"] = allow
        group = template["Resources"][props["DBParameterGroupName"]["Ref"]]["Properties"]
        engine = "postgres" if "postgres" in group["Family"] else "mysql"
        group["Family"] = family or engines.parameter_group_family(engine, version)
    return templates


def _as_postgres(templates: dict[str, Template], version: str) -> dict[str, Template]:
    """prod's stacks (a writer, two replicas, a cross-region replica) as PostgreSQL."""
    for template, body in _instances(templates).values():
        props = body["Properties"]
        if "Engine" in props:
            props["Engine"] = "postgres"
        template["Resources"][props["DBParameterGroupName"]["Ref"]]["Properties"]["Family"] = \
            "postgres"
    return _declare(templates, version)


def _judged(old: dict[str, Template], new: dict[str, Template]) -> list[tuple[str, bool, str]]:
    """(database, blocking, consequence) of each upgrade finding."""
    return [(f.label.removeprefix("database "), f.blocking, f.consequence)
            for f in find_upgrade_problems(old=old, new=new).findings]


PROD_MEMBERS = ("prod-mysql-primary", "prod-mysql-replica-1", "prod-mysql-replica-2",
                "prod-mysql-dr-replica")


def test_a_writer_upgraded_before_its_replicas_is_refused(
        normalized: dict[str, Template]) -> None:
    old = _environment(normalized, "prod")
    version = _instances(old)["prod-mysql-primary"][1]["Properties"]["EngineVersion"]

    found = _judged(old, _declare(_environment(normalized, "prod"), "8.4.11",
                                  "prod-mysql-primary"))

    assert found == [("prod-mysql-primary", True, (
        "RDS refuses this upgrade (DBUpgradeDependencyFailure: One or more of the DB Instance's "
        "read replicas need to be upgraded: prod-mysql-replica-1, prod-mysql-replica-2, "
        "prod-mysql-dr-replica): the deploy fails at this instance, after what CloudFormation "
        "updated before it; CloudFormation updates a writer before its replicas (they reference "
        "it): declare the replicas' version first, in a deploy of its own "
        "(replica_engine_version), then the writer's; `python -m ops upgrade` plans and carries "
        "out both stages"))]
    assert version != "8.4.11"


def test_writer_and_replicas_upgraded_in_one_deploy_are_refused_at_the_writer(
        normalized: dict[str, Template]) -> None:
    found = _judged(_environment(normalized, "prod"),
                    _declare(_environment(normalized, "prod"), "8.4.11"))
    # CloudFormation stops at the writer, rolls its stack back and deploys nothing after it.
    assert [(member, blocking) for member, blocking, _ in found] == [("prod-mysql-primary", True)]


def test_each_stage_of_a_mysql_upgrade_passes_and_says_what_it_does(
        normalized: dict[str, Template]) -> None:
    before = _environment(normalized, "prod")
    stage1 = _declare(_environment(normalized, "prod"), "8.4.11", *PROD_MEMBERS[1:])
    stage2 = _declare(copy.deepcopy(stage1), "8.4.11")

    first, second = _judged(before, stage1), _judged(stage1, stage2)

    assert [(m, b) for m, b, _ in first] == [(m, False) for m in PROD_MEMBERS[1:]]
    assert first[0][2].startswith("upgraded in place: replica prod-mysql-replica-1: mysql "
                                  "8.4.10 -> 8.4.11: minor version upgrade; downtime: the writer "
                                  "keeps serving; this replica serves no reads")
    assert [(m, b) for m, b, _ in second] == [("prod-mysql-primary", False)]
    assert "downtime: writes and reads stop" in second[0][2]
    review = find_upgrade_problems(old=before, new=stage1)
    assert [line.split(":")[0] for line in review.lines] == [
        "replica prod-mysql-replica-1", "replica prod-mysql-replica-2",
        "cross-region replica prod-mysql-dr-replica"]  # the DR replica's stack last


def test_a_downgrade_is_refused(normalized: dict[str, Template]) -> None:
    found = _judged(_environment(normalized, "prod"),
                    _declare(_environment(normalized, "prod"), "8.4.9"))
    assert {blocking for _, blocking, _ in found} == {True}
    assert found[0][2].startswith("RDS refuses this upgrade (InvalidParameterCombination: "
                                  "Cannot upgrade mysql from 8.4.10 to 8.4.9)")
    assert found[0][2].endswith("an engine version cannot go back: the only way to an older "
                                "version is a restore from a snapshot")


def test_a_postgres_major_upgrade_carries_its_same_region_replica(
        normalized: dict[str, Template]) -> None:
    found = _judged(_environment(normalized, "dev"),
                    _declare(_environment(normalized, "dev"), "18.3"))
    assert found == [
        ("dev-postgres-primary", False, (
            "upgraded in place: writer dev-postgres-primary: postgres 17.9 -> 18.3: major "
            "version upgrade (AllowMajorVersionUpgrade, parameter group postgres17 -> "
            "postgres18); downtime: writes and reads stop: the instance is unavailable until "
            "RDS has upgraded it, typically a few minutes (a Multi-AZ standby is upgraded at "
            "the same time, so Multi-AZ does not shorten it; a major version also runs "
            "pre-upgrade checks and takes a snapshot before and after, longer with many "
            "tables) (RDS user guide, 'Upgrading a DB instance engine version' and 'Upgrades "
            "of the RDS for PostgreSQL DB engine')")),
        ("dev-postgres-replica-1", False, "upgraded in place: replica dev-postgres-replica-1: "
                                          "postgres 17.9 -> 18.3: upgraded by RDS with its "
                                          "writer dev-postgres-primary")]


@pytest.mark.parametrize(("declare", "refused", "message"), [
    (lambda t: _declare(t, "18.3", family="postgres17"), "dev-postgres-primary",
     "InvalidParameterCombination: The parameter group DatabasePrimaryParameterGroup"),
    (lambda t: _declare(t, "18.3", allow=False), "dev-postgres-primary",
     "InvalidParameterCombination: The AllowMajorVersionUpgrade flag must be present when "
     "upgrading to a new major version."),
    (lambda t: _declare(t, "18.3", "dev-postgres-replica-1"), "dev-postgres-replica-1",
     "InvalidParameterCombination: dev-postgres-replica-1 is a read replica: RDS upgrades a "
     "postgres read replica to a new major version only with its source"),
], ids=["old family", "no AllowMajorVersionUpgrade", "replica alone"])
def test_a_postgres_major_upgrade_rds_refuses(normalized: dict[str, Template], declare: Any,
                                             refused: str, message: str) -> None:
    found = _judged(_environment(normalized, "dev"), declare(_environment(normalized, "dev")))
    blocking = [(member, consequence) for member, blocked, consequence in found if blocked]
    assert [member for member, _ in blocking] == [refused]
    assert blocking[0][1].startswith(f"RDS refuses this upgrade ({message}")


@pytest.mark.parametrize("dr_declares", ["18.3", "17.9"])
def test_a_postgres_major_upgrade_cannot_carry_the_cross_region_replica(
        normalized: dict[str, Template], dr_declares: str) -> None:
    old = _as_postgres(_environment(normalized, "prod"), "17.9")
    new = _declare(_as_postgres(_environment(normalized, "prod"), "17.9"), "18.3",
                   *PROD_MEMBERS[:3])
    _declare(new, dr_declares, "prod-mysql-dr-replica")

    found = _judged(old, new)

    dr = [(blocking, consequence) for member, blocking, consequence in found
          if member == "prod-mysql-dr-replica"]
    assert dr[0] == (True, (
        "RDS does not upgrade a cross-Region read replica with its postgres source: "
        "prod-mysql-dr-replica stays on 17.9 and stops replicating from a writer of a newer "
        "major version (the DR copy goes stale, nothing says so); the RDS user guide recreates "
        "it from the upgraded writer: declare a DR rebuild (`python -m ops upgrade` detaches "
        "the DR replica first and rebuilds it after the writer), or upgrade within the major "
        "version"))
    if dr_declares == "18.3":  # and its own update is refused
        assert dr[1][0] is True and "is a read replica" in dr[1][1]
    assert [m for m, blocking, _ in found if blocking and m != "prod-mysql-dr-replica"] == []
