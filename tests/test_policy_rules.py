"""Each Redundancy rule in the style of cdk-nag's own tests: a compliant case, numbered
non-compliant cases and a not-applicable case, on hand-written resources (no synth needed)."""

from __future__ import annotations

from typing import Any

import pytest

from cloud_assembly import link_stacks
from cloud_assembly.template import Resource
from policy.model import Compliance, PolicySettings, Rule, StackView
from policy.rules import ALL_RULES, RULE_IDS, backups, credentials, disaster_recovery
from policy.rules import encryption, network, redundancy, retention

C, N, NA = Compliance.COMPLIANT, Compliance.NON_COMPLIANT, Compliance.NOT_APPLICABLE
KEY = {"Fn::GetAtt": ["Key", "Arn"]}
SECRET_REF = {"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "Secret"},
                                 ":SecretString:password::}}"]]}


def res(logical_id: str, type_: str, deletion: str | None = None, **props: Any) -> Resource:
    return Resource(logical_id, type_, props, deletion, deletion, path=f"S/{logical_id}")


def primary(**overrides: Any) -> Resource:
    props: dict[str, Any] = dict(
        StorageEncrypted=True, KmsKeyId=KEY, BackupRetentionPeriod=14, DeletionProtection=True,
        PubliclyAccessible=False, MasterUserPassword=SECRET_REF,
        DBSubnetGroupName={"Ref": "SubnetGroup"}, DBParameterGroupName={"Ref": "Params"})
    deletion = overrides.pop("deletion", "Snapshot")
    props.update(overrides)
    props = {k: v for k, v in props.items() if v is not None}
    return res("Primary", "AWS::RDS::DBInstance", deletion, **props)


def replica(**overrides: Any) -> Resource:
    props = dict(SourceDBInstanceIdentifier={"Fn::Join": [":", ["arn", {"Ref": "Primary"}]]},
                 DeletionProtection=True, PubliclyAccessible=False,
                 DBSubnetGroupName={"Ref": "SubnetGroup"}, DBParameterGroupName={"Ref": "Params"})
    props.update(overrides)
    return res("Replica", "AWS::RDS::DBInstance", "Snapshot", **props)


def support(**replace: Resource | None) -> dict[str, Resource]:
    """Everything a compliant primary relies on; `replace` swaps or (None) removes entries."""
    items = {
        "Key": res("Key", "AWS::KMS::Key", "Retain", EnableKeyRotation=True),
        "Secret": res("Secret", "AWS::SecretsManager::Secret", "Retain", KmsKeyId=KEY),
        "Attachment": res("Attachment", "AWS::SecretsManager::SecretTargetAttachment",
                          SecretId={"Ref": "Secret"}, TargetId={"Ref": "Primary"}),
        "Rotation": res("Rotation", "AWS::SecretsManager::RotationSchedule",
                        SecretId={"Ref": "Attachment"},
                        HostedRotationLambda={"RotationType": "MySQLSingleUser"}),
        "Plan": res("Plan", "AWS::Backup::BackupPlan",
                    BackupPlan={"BackupPlanRule": [{"RuleName": "Daily"}]}),
        "Selection": res("Selection", "AWS::Backup::BackupSelection",
                         BackupPlanId={"Fn::GetAtt": ["Plan", "BackupPlanId"]},
                         BackupSelection={"Resources": [{"Fn::Join": ["", [
                             "arn:aws:rds:db:", {"Ref": "Primary"}]]}]}),
        "Params": res("Params", "AWS::RDS::DBParameterGroup", Family="mysql8.0",
                      Parameters={"require_secure_transport": "ON"}),
        "SubnetGroup": res("SubnetGroup", "AWS::RDS::DBSubnetGroup",
                           SubnetIds=[{"Ref": "Subnet"}]),
        "Subnet": res("Subnet", "AWS::EC2::Subnet", MapPublicIpOnLaunch=False),
        "Table": res("Table", "AWS::EC2::RouteTable"),
        "Assoc": res("Assoc", "AWS::EC2::SubnetRouteTableAssociation",
                     SubnetId={"Ref": "Subnet"}, RouteTableId={"Ref": "Table"}),
    }
    for name, value in replace.items():
        if value is None:
            items.pop(name, None)
        else:
            items[name] = value
    return items


def stack(*resources: Resource, retention_days: int = 14) -> StackView:
    view = StackView("S", {r.logical_id: r for r in resources},
                     settings=PolicySettings("test", retention_days))
    link_stacks([view])
    return view


def check(rule: Rule, target: Resource, *others: Resource, retention_days: int = 14) -> tuple:
    view = stack(target, *others, retention_days=retention_days)
    result = rule.evaluate(target, view)
    return result.compliance, result.detail


def full(target: Resource, with_replica: bool = True, **replace: Resource | None) -> list:
    items = list(support(**replace).values())
    return items + ([replica()] if with_replica and target.logical_id != "Replica" else [])


def test_pack_lists_exact_rule_ids() -> None:
    assert RULE_IDS == (
        "Redundancy-BackupRetention", "Redundancy-BackupPlan",
        "Redundancy-StorageEncryptedCMK", "Redundancy-ReplicaSourceEncrypted",
        "Redundancy-DrReplicaEncrypted", "Redundancy-KeyRotation", "Redundancy-SecretEncryptedCMK",
        "Redundancy-PrimaryHasReplica",
        "Redundancy-DeletionProtection", "Redundancy-DatabaseDeletionPolicy",
        "Redundancy-KeyAndSecretRetained",
        "Redundancy-NoPlaintextPassword", "Redundancy-SecretRotation",
        "Redundancy-NotPublic", "Redundancy-IsolatedSubnets", "Redundancy-TlsEnforced",
        "Redundancy-NoWorldIngress", "Redundancy-ExplicitEgress",
        "Redundancy-CrossRegionBackupCopy", "Redundancy-AutomatedBackupReplication",
    )


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_every_rule_is_explained(rule: Rule) -> None:
    assert rule.id.startswith("Redundancy-")
    assert rule.info.endswith(".") and len(rule.info) > 30
    assert len(rule.explanation) > 80


NOT_APPLICABLE_TO = res("Bucket", "AWS::S3::Bucket")

CASES: list[tuple[Rule, Resource, list[Resource], int, Compliance, str]] = [
    # (rule, target, other resources, min retention, expected, detail fragment)
    (backups.BACKUP_RETENTION, primary(), [], 14, C, ""),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod=0), [], 14, N, "0 disables"),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod=1), [], 14, N, "need >= 14"),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod=None), [], 7, N, "not set"),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod=8), [], 1, C, ""),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod=6), [], 1, N, "need >= 7"),
    (backups.BACKUP_RETENTION, replica(), [], 14, NA, ""),
    (backups.BACKUP_PLAN, primary(), full(primary()), 14, C, ""),
    (backups.BACKUP_PLAN, primary(), full(primary(), Selection=None), 14, N, "no AWS::Backup"),
    (backups.BACKUP_PLAN, primary(), full(primary(), Plan=res(
        "Plan", "AWS::Backup::BackupPlan", BackupPlan={"BackupPlanRule": []})), 14, N, ""),
    (backups.BACKUP_PLAN, replica(), [], 14, NA, ""),
    (encryption.STORAGE_ENCRYPTED_CMK, primary(), full(primary()), 14, C, ""),
    (encryption.STORAGE_ENCRYPTED_CMK, primary(StorageEncrypted=False), full(primary()), 14, N,
     "StorageEncrypted=False"),
    (encryption.STORAGE_ENCRYPTED_CMK, primary(KmsKeyId="alias/aws/rds"), full(primary()), 14,
     N, "'alias/aws/rds', not a customer-managed key"),
    (encryption.STORAGE_ENCRYPTED_CMK, primary(KmsKeyId=None), full(primary()), 14, N,
     "AWS-managed key"),
    # CloudFormation reads the string "true" as the boolean true
    (encryption.STORAGE_ENCRYPTED_CMK, primary(StorageEncrypted="true"), full(primary()), 14, C,
     ""),
    (encryption.STORAGE_ENCRYPTED_CMK, primary(StorageEncrypted="false"), full(primary()), 14, N,
     "StorageEncrypted='false'"),
    (encryption.STORAGE_ENCRYPTED_CMK, replica(), [], 14, NA, ""),
    (encryption.REPLICA_SOURCE_ENCRYPTED, replica(), [primary(), *support().values()], 14, C,
     ""),
    (encryption.REPLICA_SOURCE_ENCRYPTED, replica(),
     [primary(StorageEncrypted=False), *support().values()], 14, N, "source Primary"),
    (encryption.REPLICA_SOURCE_ENCRYPTED, replica(StorageEncrypted=False),
     [primary(), *support().values()], 14, N, "false on the replica"),
    (encryption.REPLICA_SOURCE_ENCRYPTED, replica(SourceDBInstanceIdentifier="arn:x:db:other"),
     [], 14, N, "not in this app"),
    (encryption.REPLICA_SOURCE_ENCRYPTED, primary(), [], 14, NA, ""),
    (encryption.KEY_ROTATION, support()["Key"], [], 14, C, ""),
    (encryption.KEY_ROTATION, res("Key", "AWS::KMS::Key", "Retain", EnableKeyRotation=False),
     [], 14, N, "EnableKeyRotation=False"),
    (encryption.KEY_ROTATION, res("Key", "AWS::KMS::Key", "Retain", EnableKeyRotation=True,
                                  Enabled=False), [], 14, N, "disabled"),
    (encryption.KEY_ROTATION, res("Key", "AWS::KMS::Key", "Retain", EnableKeyRotation=True,
                                  Enabled="False"), [], 14, N, "disabled"),
    (encryption.KEY_ROTATION, res("Key", "AWS::KMS::Key", KeySpec="RSA_2048"), [], 14, NA, ""),
    (encryption.SECRET_ENCRYPTED_CMK, support()["Secret"], [support()["Key"]], 14, C, ""),
    (encryption.SECRET_ENCRYPTED_CMK, res("Secret", "AWS::SecretsManager::Secret"), [], 14, N,
     "aws/secretsmanager"),
    (encryption.SECRET_ENCRYPTED_CMK, res("Secret", "AWS::SecretsManager::Secret",
                                          KmsKeyId="alias/aws/secretsmanager"), [], 14, N,
     "not a customer-managed key"),
    (redundancy.PRIMARY_HAS_REPLICA, primary(), [replica()], 14, C, ""),
    (redundancy.PRIMARY_HAS_REPLICA, primary(), [], 14, N, "SourceDBInstanceIdentifier"),
    (redundancy.PRIMARY_HAS_REPLICA, replica(), [primary()], 14, NA, ""),
    (retention.DELETION_PROTECTION, primary(), [], 14, C, ""),
    (retention.DELETION_PROTECTION, primary(DeletionProtection=False), [], 14, N, "False"),
    (retention.DELETION_PROTECTION, replica(DeletionProtection=None), [], 14, N, "None"),
    (retention.DATABASE_POLICIES, primary(), [], 14, C, ""),
    (retention.DATABASE_POLICIES, primary(deletion="Retain"), [], 14, C, ""),
    (retention.DATABASE_POLICIES, primary(deletion="Delete"), [], 14, N, "DeletionPolicy=Delete"),
    (retention.DATABASE_POLICIES, primary(deletion=None), [], 14, N, "Delete (default)"),
    (retention.KEY_AND_SECRET_RETAINED, support()["Key"], [], 14, C, ""),
    (retention.KEY_AND_SECRET_RETAINED, res("Key", "AWS::KMS::Key", "Delete"), [], 14, N,
     "must be Retain"),
    (retention.KEY_AND_SECRET_RETAINED, res("Secret", "AWS::SecretsManager::Secret"), [], 14, N,
     "Delete (default)"),
    (credentials.NO_PLAINTEXT_PASSWORD, primary(), [], 14, C, ""),
    (credentials.NO_PLAINTEXT_PASSWORD, replica(), [], 14, C, ""),
    (credentials.NO_PLAINTEXT_PASSWORD, primary(MasterUserPassword="hunter2hunter2"), [], 14, N,
     "literal or computed"),
    (credentials.NO_PLAINTEXT_PASSWORD, primary(MasterUserPassword=None), [], 14, N,
     "no MasterUserPassword"),
    (credentials.NO_PLAINTEXT_PASSWORD, primary(MasterUserPassword=None,
                                                DBSnapshotIdentifier="snap"), [], 14, NA, ""),
    (credentials.SECRET_ROTATION, support()["Secret"], list(support(Secret=None).values()), 14,
     C, ""),
    (credentials.SECRET_ROTATION, support()["Secret"],
     list(support(Secret=None, Rotation=None).values()), 14, N, "no AWS::SecretsManager"),
    (credentials.SECRET_ROTATION, support()["Secret"], list(support(Secret=None, Rotation=res(
        "Rotation", "AWS::SecretsManager::RotationSchedule",
        SecretId={"Ref": "Attachment"})).values()), 14, N, "no rotation function"),
    (network.NOT_PUBLIC, primary(), [], 14, C, ""),
    (network.NOT_PUBLIC, primary(PubliclyAccessible=True), [], 14, N, "PubliclyAccessible=true"),
    (network.NOT_PUBLIC, primary(PubliclyAccessible=None), [], 14, N, "not set"),
    (network.ISOLATED_SUBNETS, primary(), full(primary()), 14, C, ""),
    (network.ISOLATED_SUBNETS, primary(), full(primary(), Route=res(
        "Route", "AWS::EC2::Route", RouteTableId={"Ref": "Table"},
        DestinationCidrBlock="0.0.0.0/0", GatewayId={"Ref": "Igw"})), 14, N,
     "routes 0.0.0.0/0 out of the VPC"),
    (network.ISOLATED_SUBNETS, primary(), full(primary(), Subnet=res(
        "Subnet", "AWS::EC2::Subnet", MapPublicIpOnLaunch=True)), 14, N, "public IPs"),
    (network.ISOLATED_SUBNETS, primary(DBSubnetGroupName="default"), [], 14, N,
     "not name a DB subnet group"),
    (network.TLS_ENFORCED, primary(), full(primary()), 14, C, ""),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="postgres16",
        Parameters={"rds.force_ssl": "1"})), 14, C, ""),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="mysql8.0",
        Parameters={"require_secure_transport": "OFF"})), 14, N, "require_secure_transport=OFF"),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="postgres16", Parameters={})), 14, N,
     "rds.force_ssl=unset; must be 1"),
    # RDS reads the TLS parameter's value ignoring case
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="postgres16",
        Parameters={"rds.force_ssl": "ON"})), 14, C, ""),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="mariadb10.11",
        Parameters={"require_secure_transport": "1"})), 14, C, ""),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="mariadb10.11",
        Parameters={"rds.force_ssl": "1"})), 14, N, "require_secure_transport=unset; must be ON"),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="sqlserver-ee-16.00",
        Parameters={"require_secure_transport": "ON"})), 14, N,
     "Family='sqlserver-ee-16.00', of no engine whose TLS parameter is known (mysql, mariadb, "
     "postgres)"),
    (network.TLS_ENFORCED, primary(DBParameterGroupName="default.mysql8.0"), [], 14, N,
     "default group"),
    (network.NO_WORLD_INGRESS, res("Sg", "AWS::EC2::SecurityGroup", SecurityGroupIngress=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/16"}]), [], 14,
     C, ""),
    (network.NO_WORLD_INGRESS, res("Sg", "AWS::EC2::SecurityGroup", SecurityGroupIngress=[
        {"IpProtocol": "tcp", "FromPort": 3307, "ToPort": 3307, "CidrIp": "0.0.0.0/0"}]), [], 14,
     N, "tcp 3307-3307 from 0.0.0.0/0"),
    (network.NO_WORLD_INGRESS, res("In", "AWS::EC2::SecurityGroupIngress", IpProtocol="-1",
                                   CidrIpv6="::/0"), [], 14, N, "from ::/0"),
    (network.NO_WORLD_INGRESS, res("In", "AWS::EC2::SecurityGroupIngress", IpProtocol="tcp",
                                   SourceSecurityGroupId={"Ref": "Sg"}), [], 14, C, ""),
    (network.EXPLICIT_EGRESS, res("Sg", "AWS::EC2::SecurityGroup", SecurityGroupEgress=[
        {"IpProtocol": "tcp", "FromPort": 3307, "ToPort": 3307,
         "DestinationSecurityGroupId": {"Ref": "Db"}}]), [], 14, C, ""),
    (network.EXPLICIT_EGRESS, res("Sg", "AWS::EC2::SecurityGroup"), [], 14, N,
     "default allow-all egress"),
    (network.EXPLICIT_EGRESS, res("Sg", "AWS::EC2::SecurityGroup", SecurityGroupEgress=[]), [],
     14, N, "no inline SecurityGroupEgress"),
]


@pytest.mark.parametrize(
    ("rule", "target", "others", "days", "expected", "detail"), CASES,
    ids=[f"{c[0].id}-{n}-{c[4].value}" for n, c in enumerate(CASES)])
def test_rule(rule: Rule, target: Resource, others: list[Resource], days: int,
              expected: Compliance, detail: str) -> None:
    others = [o for o in others if o.logical_id != target.logical_id]
    compliance, text = check(rule, target, *others, retention_days=days)
    assert compliance is expected, text
    assert detail in text


# --- disaster recovery: two stacks in two regions --------------------------------------------

DR_ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":rds:eu-west-1:",
                            {"Ref": "AWS::AccountId"}, ":db:prod-mysql-primary"]]}


def dr_app(replica_props: dict[str, Any], *, key_region: str = "eu-central-1",
           dr_region: str | None = "eu-central-1", plan: dict | None = None,
           primary_props: dict[str, Any] | None = None) -> tuple[StackView, StackView]:
    """A primary-region stack and a DR-region stack; returns (primary view, DR view)."""
    settings = PolicySettings("prod", 14, dr_region)
    p = primary(DBInstanceIdentifier="prod-mysql-primary", **(primary_props or {}))
    home_resources = [p, *support().values()]
    if plan is not None:
        home_resources = [r for r in home_resources if r.logical_id != "Plan"]
        home_resources.append(res("Plan", "AWS::Backup::BackupPlan", BackupPlan=plan))
    home = StackView("Home", {r.logical_id: r for r in home_resources}, settings=settings,
                     region="eu-west-1")
    dr_key = res("DrKey", "AWS::KMS::Key", "Retain", EnableKeyRotation=True)
    dr_resources = [res("DrReplica", "AWS::RDS::DBInstance", "Snapshot",
                        **{"SourceDBInstanceIdentifier": DR_ARN, **replica_props})]
    dr = StackView("Dr", {r.logical_id: r for r in dr_resources}, settings=settings,
                   region="eu-central-1")
    keys = StackView("Keys", {"DrKey": dr_key}, settings=settings, region=key_region,
                     outputs={"KeyArn": {"Value": {"Fn::GetAtt": ["DrKey", "Arn"]}}})
    link_stacks([home, dr, keys])
    return home, dr


KEY_OUT = {"Fn::GetStackOutput": {"StackName": "Keys", "OutputName": "KeyArn"}}
COPY = [{"DestinationBackupVaultArn": {"Fn::GetStackOutput": {
    "StackName": "Keys", "Region": "eu-central-1", "OutputName": "VaultArn"}}}]
DR_REPLICATION = {"AutomaticBackupReplicationRegion": "eu-central-1",
                  "AutomaticBackupReplicationKmsKeyId": {"Fn::GetStackOutput": {
                      "StackName": "Keys", "Region": "eu-central-1", "OutputName": "KeyArn"}}}

DR_CASES: list[tuple[Rule, str, dict, dict, Compliance, str]] = [
    # (rule, which resource, dr_app kwargs, unused, expected, detail)
    (encryption.DR_REPLICA_ENCRYPTED, "DrReplica",
     dict(replica_props={"SourceRegion": "eu-west-1", "KmsKeyId": KEY_OUT}), {}, C, ""),
    (encryption.DR_REPLICA_ENCRYPTED, "DrReplica",
     dict(replica_props={"KmsKeyId": KEY_OUT}), {}, N, "SourceRegion is not set"),
    (encryption.DR_REPLICA_ENCRYPTED, "DrReplica",
     dict(replica_props={"SourceRegion": "eu-west-1"}), {}, N, "KmsKeyId is not set"),
    (encryption.DR_REPLICA_ENCRYPTED, "DrReplica",
     dict(replica_props={"SourceRegion": "eu-west-1", "KmsKeyId": KEY_OUT},
          key_region="eu-west-1"), {}, N, "of region eu-west-1; the replica is in eu-central-1"),
    (encryption.DR_REPLICA_ENCRYPTED, "Primary",
     dict(replica_props={}), {}, NA, ""),
    (encryption.REPLICA_SOURCE_ENCRYPTED, "DrReplica",
     dict(replica_props={"SourceRegion": "eu-west-1", "KmsKeyId": KEY_OUT}), {}, C, ""),
    (encryption.REPLICA_SOURCE_ENCRYPTED, "DrReplica",
     dict(replica_props={"SourceRegion": "eu-west-1", "KmsKeyId": KEY_OUT},
          primary_props={"StorageEncrypted": False}), {}, N, "is not encrypted"),
    (disaster_recovery.CROSS_REGION_BACKUP_COPY, "Plan",
     dict(replica_props={}, plan={"BackupPlanRule": [{"RuleName": "Daily",
                                                      "CopyActions": COPY}]}), {}, C, ""),
    (disaster_recovery.CROSS_REGION_BACKUP_COPY, "Plan",
     dict(replica_props={}, plan={"BackupPlanRule": [{"RuleName": "Daily",
                                                      "CopyActions": COPY},
                                                     {"RuleName": "Monthly"}]}), {}, N,
     "rule 'Monthly' copies no recovery point"),
    (disaster_recovery.CROSS_REGION_BACKUP_COPY, "Plan",
     dict(replica_props={}, dr_region=None,
          plan={"BackupPlanRule": [{"RuleName": "Daily"}]}), {}, NA, ""),
    (disaster_recovery.AUTOMATED_BACKUP_REPLICATION, "Primary",
     dict(replica_props={}, primary_props=DR_REPLICATION), {}, C, ""),
    (disaster_recovery.AUTOMATED_BACKUP_REPLICATION, "Primary",
     dict(replica_props={}), {}, N, "AutomaticBackupReplicationRegion=None"),
    (disaster_recovery.AUTOMATED_BACKUP_REPLICATION, "Primary",
     dict(replica_props={}, primary_props={**DR_REPLICATION,
                                           "AutomaticBackupReplicationKmsKeyId": "alias/x"}),
     {}, N, "not a key of the DR region"),
    (disaster_recovery.AUTOMATED_BACKUP_REPLICATION, "Primary",
     dict(replica_props={}, dr_region=None), {}, NA, ""),
]


@pytest.mark.parametrize(("rule", "which", "kwargs", "unused", "expected", "detail"), DR_CASES,
                         ids=[f"{c[0].id}-{n}-{c[4].value}" for n, c in enumerate(DR_CASES)])
def test_disaster_recovery_rule(rule: Rule, which: str, kwargs: dict, unused: dict,
                                expected: Compliance, detail: str) -> None:
    home, dr = dr_app(**kwargs)
    view = dr if which == "DrReplica" else home
    result = rule.evaluate(view.resources[which], view)
    assert result.compliance is expected, result.detail
    assert detail in result.detail


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_every_rule_has_all_three_outcomes_in_the_cases(rule: Rule) -> None:
    outcomes = {c[4] for c in CASES if c[0] is rule} | {c[4] for c in DR_CASES if c[0] is rule}
    assert {C, N} <= outcomes
    assert NA in outcomes or rule.evaluate(NOT_APPLICABLE_TO, stack()).compliance is NA


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_other_resource_types_are_not_applicable(rule: Rule) -> None:
    assert rule.evaluate(NOT_APPLICABLE_TO, stack()).compliance is NA


def test_password_value_never_in_the_finding() -> None:
    _, detail = check(credentials.NO_PLAINTEXT_PASSWORD, primary(MasterUserPassword="s3cr3t!"))
    assert "s3cr3t" not in detail
