"""Each Redundancy rule in the style of cdk-nag's own tests: a compliant case, numbered
non-compliant cases and a not-applicable case, on hand-written resources (no synth needed)."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from cloud_assembly import engines, link_stacks
from cloud_assembly.template import Resource
from policy.model import AlarmPromise, Compliance, InstancePromise, PolicySettings, Rule, StackView
from policy.rules import (
    ALL_RULES,
    RULE_IDS,
    backups,
    configured,
    credentials,
    disaster_recovery,
    encryption,
    escape_hatch,
    lifecycle,
    network,
    redundancy,
    retention,
)

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
        "Redundancy-InstanceAsConfigured", "Redundancy-LogRetentionAsConfigured",
        "Redundancy-RotationAsConfigured", "Redundancy-AlarmAsConfigured",
        "Redundancy-EngineInStandardSupport",
        "Redundancy-TemplateMatchesConstructs",
    )


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_every_rule_is_explained(rule: Rule) -> None:
    assert rule.id.startswith("Redundancy-")
    assert rule.info.endswith(".") and len(rule.info) > 30
    assert len(rule.explanation) > 80


NOT_APPLICABLE_TO = res("Bucket", "AWS::S3::Bucket")

CASES: list[tuple[Rule, Resource, list[Resource], int, Compliance, str]] = [
    # (rule, target, other resources, min retention, expected, detail)
    (backups.BACKUP_RETENTION, primary(), [], 14, C, ""),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod=0), [], 14, N,
     "BackupRetentionPeriod=0; need >= 14 days (0 disables automated backups)"),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod=1), [], 14, N,
     "BackupRetentionPeriod=1; need >= 14 days"),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod=None), [], 7, N,
     "BackupRetentionPeriod is not set (RDS default 1 day); need >= 7"),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod=8), [], 1, C, ""),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod=6), [], 1, N,
     "BackupRetentionPeriod=6; need >= 7 days"),
    (backups.BACKUP_RETENTION, replica(), [], 14, NA, ""),
    (backups.BACKUP_PLAN, primary(), full(primary()), 14, C, ""),
    (backups.BACKUP_PLAN, primary(), full(primary(), Selection=None), 14, N,
     "no AWS::Backup::BackupSelection of a backup plan with rules selects this instance"),
    (backups.BACKUP_PLAN, primary(), full(primary(), Plan=res(
        "Plan", "AWS::Backup::BackupPlan", BackupPlan={"BackupPlanRule": []})), 14, N,
     "no AWS::Backup::BackupSelection of a backup plan with rules selects this instance"),
    (backups.BACKUP_PLAN, replica(), [], 14, NA, ""),
    (encryption.STORAGE_ENCRYPTED_CMK, primary(), full(primary()), 14, C, ""),
    (encryption.STORAGE_ENCRYPTED_CMK, primary(StorageEncrypted=False), full(primary()), 14, N,
     "StorageEncrypted=False; must be true"),
    (encryption.STORAGE_ENCRYPTED_CMK, primary(KmsKeyId="alias/aws/rds"), full(primary()), 14,
     N, "KmsKeyId is 'alias/aws/rds', not a customer-managed key defined in this app"),
    (encryption.STORAGE_ENCRYPTED_CMK, primary(KmsKeyId=None), full(primary()), 14, N,
     "KmsKeyId is not set: the AWS-managed key aws/rds would be used"),
    # CloudFormation reads the string "true" as the boolean true
    (encryption.STORAGE_ENCRYPTED_CMK, primary(StorageEncrypted="true"), full(primary()), 14, C,
     ""),
    (encryption.STORAGE_ENCRYPTED_CMK, primary(StorageEncrypted="false"), full(primary()), 14, N,
     "StorageEncrypted='false'; must be true"),
    (encryption.STORAGE_ENCRYPTED_CMK, replica(), [], 14, NA, ""),
    (encryption.REPLICA_SOURCE_ENCRYPTED, replica(), [primary(), *support().values()], 14, C,
     ""),
    (encryption.REPLICA_SOURCE_ENCRYPTED, replica(),
     [primary(StorageEncrypted=False), *support().values()], 14, N,
     "source Primary is not encrypted with a customer-managed key"),
    (encryption.REPLICA_SOURCE_ENCRYPTED, replica(StorageEncrypted=False),
     [primary(), *support().values()], 14, N, "StorageEncrypted is false on the replica"),
    (encryption.REPLICA_SOURCE_ENCRYPTED, replica(SourceDBInstanceIdentifier="arn:x:db:other"),
     [], 14, N, "the source instance is not in this app, so its encryption cannot be proven"),
    (encryption.REPLICA_SOURCE_ENCRYPTED, primary(), [], 14, NA, ""),
    (encryption.KEY_ROTATION, support()["Key"], [], 14, C, ""),
    (encryption.KEY_ROTATION, res("Key", "AWS::KMS::Key", "Retain", EnableKeyRotation=False),
     [], 14, N, "EnableKeyRotation=False"),
    (encryption.KEY_ROTATION, res("Key", "AWS::KMS::Key", "Retain", EnableKeyRotation=True,
                                  Enabled=False), [], 14, N,
     "Enabled=false: the key is disabled and everything it protects is unreadable"),
    (encryption.KEY_ROTATION, res("Key", "AWS::KMS::Key", "Retain", EnableKeyRotation=True,
                                  Enabled="False"), [], 14, N,
     "Enabled=false: the key is disabled and everything it protects is unreadable"),
    (encryption.KEY_ROTATION, res("Key", "AWS::KMS::Key", KeySpec="RSA_2048"), [], 14, NA, ""),
    (encryption.SECRET_ENCRYPTED_CMK, support()["Secret"], [support()["Key"]], 14, C, ""),
    (encryption.SECRET_ENCRYPTED_CMK, res("Secret", "AWS::SecretsManager::Secret"), [], 14, N,
     "KmsKeyId is not set: the AWS-managed key aws/secretsmanager would be used"),
    (encryption.SECRET_ENCRYPTED_CMK, res("Secret", "AWS::SecretsManager::Secret",
                                          KmsKeyId="alias/aws/secretsmanager"), [], 14, N,
     "KmsKeyId is 'alias/aws/secretsmanager', not a customer-managed key defined in this app"),
    (redundancy.PRIMARY_HAS_REPLICA, primary(), [replica()], 14, C, ""),
    (redundancy.PRIMARY_HAS_REPLICA, primary(), [], 14, N,
     "no AWS::RDS::DBInstance in this stack has it as SourceDBInstanceIdentifier"),
    (redundancy.PRIMARY_HAS_REPLICA, replica(), [primary()], 14, NA, ""),
    # A replica of another primary is no replica of this one
    (redundancy.PRIMARY_HAS_REPLICA, primary(), [
        replica(SourceDBInstanceIdentifier={"Fn::Join": [":", ["arn", {"Ref": "Other"}]]}),
        res("Other", "AWS::RDS::DBInstance", "Snapshot", StorageEncrypted=True)], 14, N,
     "no AWS::RDS::DBInstance in this stack has it as SourceDBInstanceIdentifier"),
    (retention.DELETION_PROTECTION, primary(), [], 14, C, ""),
    (retention.DELETION_PROTECTION, primary(DeletionProtection=False), [], 14, N,
     "DeletionProtection=False; must be true"),
    (retention.DELETION_PROTECTION, replica(DeletionProtection=None), [], 14, N,
     "DeletionProtection=None; must be true"),
    (retention.DATABASE_POLICIES, primary(), [], 14, C, ""),
    (retention.DATABASE_POLICIES, primary(deletion="Retain"), [], 14, C, ""),
    (retention.DATABASE_POLICIES, primary(deletion="Delete"), [], 14, N,
     "DeletionPolicy=Delete; must be Snapshot or Retain"),
    (retention.DATABASE_POLICIES, primary(deletion=None), [], 14, N,
     "DeletionPolicy=Delete (default); must be Snapshot or Retain"),
    (retention.DATABASE_POLICIES, dataclasses.replace(primary(), update_replace_policy="Delete"),
     [], 14, N, "UpdateReplacePolicy=Delete; must be Snapshot or Retain"),
    # A replica: CloudFormation ignores its DeletionPolicy, applies its UpdateReplacePolicy
    (retention.DATABASE_POLICIES, replica(), [], 14, C, ""),
    (retention.DATABASE_POLICIES, dataclasses.replace(replica(), deletion_policy=None), [], 14,
     C, ""),
    (retention.DATABASE_POLICIES, dataclasses.replace(
        replica(), deletion_policy="Delete", update_replace_policy="Retain"),
     [], 14, C, ""),
    (retention.DATABASE_POLICIES, dataclasses.replace(replica(), update_replace_policy="Delete"),
     [], 14, N, "UpdateReplacePolicy=Delete; must be Snapshot or Retain"),
    (retention.DATABASE_POLICIES, dataclasses.replace(replica(), update_replace_policy=None),
     [], 14, N, "UpdateReplacePolicy=Delete (default); must be Snapshot or Retain"),
    (retention.KEY_AND_SECRET_RETAINED, support()["Key"], [], 14, C, ""),
    (retention.KEY_AND_SECRET_RETAINED, res("Key", "AWS::KMS::Key", "Delete"), [], 14, N,
     "DeletionPolicy=Delete; must be Retain"),
    (retention.KEY_AND_SECRET_RETAINED, res("Secret", "AWS::SecretsManager::Secret"), [], 14, N,
     "DeletionPolicy=Delete (default); must be Retain"),
    (credentials.NO_PLAINTEXT_PASSWORD, primary(), [], 14, C, ""),
    (credentials.NO_PLAINTEXT_PASSWORD, replica(), [], 14, C, ""),
    (credentials.NO_PLAINTEXT_PASSWORD, primary(MasterUserPassword="hunter2hunter2"), [], 14, N,
     
     "MasterUserPassword is a literal or computed value; only a '{{resolve:secretsmanager:...}}' "
     "dynamic reference is allowed"),
    (credentials.NO_PLAINTEXT_PASSWORD, primary(MasterUserPassword=None), [], 14, N,
     "no MasterUserPassword dynamic reference and no managed master password"),
    (credentials.NO_PLAINTEXT_PASSWORD, primary(MasterUserPassword=None,
                                                DBSnapshotIdentifier="snap"), [], 14, NA, ""),
    (credentials.SECRET_ROTATION, support()["Secret"], list(support(Secret=None).values()), 14,
     C, ""),
    (credentials.SECRET_ROTATION, support()["Secret"],
     list(support(Secret=None, Rotation=None).values()), 14, N,
     "no AWS::SecretsManager::RotationSchedule rotates this secret"),
    (credentials.SECRET_ROTATION, support()["Secret"], list(support(Secret=None, Rotation=res(
        "Rotation", "AWS::SecretsManager::RotationSchedule",
        SecretId={"Ref": "Attachment"})).values()), 14, N,
     "rotation schedule Rotation has no rotation function"),
    # Shapes a hand-edited template may have: each one checked, none "cannot be checked"
    (backups.BACKUP_PLAN, primary(), full(primary(), Selection=res(
        "Selection", "AWS::Backup::BackupSelection",
        BackupPlanId={"Fn::GetAtt": ["Plan", "BackupPlanId"]})), 14, N,
     "no AWS::Backup::BackupSelection of a backup plan with rules selects this instance"),
    (backups.BACKUP_PLAN, primary(), full(primary(), Selection=res(
        "Selection", "AWS::Backup::BackupSelection", BackupPlanId="plan-elsewhere",
        BackupSelection={"Resources": [{"Ref": "Primary"}]})), 14, N,
     "no AWS::Backup::BackupSelection of a backup plan with rules selects this instance"),
    (backups.BACKUP_PLAN, primary(), full(primary(), Plan=res("Plan", "AWS::Backup::BackupPlan")),
     14, N, "no AWS::Backup::BackupSelection of a backup plan with rules selects this instance"),
    (credentials.NO_PLAINTEXT_PASSWORD, primary(MasterUserPassword=None,
                                                ManageMasterUserPassword=True), [], 14, C, ""),
    (credentials.SECRET_ROTATION, support()["Secret"], list(support(Secret=None, Rotation=res(
        "Rotation", "AWS::SecretsManager::RotationSchedule", SecretId={"Ref": "Attachment"},
        RotationLambdaARN="arn:aws:lambda:eu-west-1:1:function:rotate")).values()), 14, C, ""),
    (credentials.SECRET_ROTATION, support()["Secret"], list(support(Secret=None, Rotation=res(
        "Rotation", "AWS::SecretsManager::RotationSchedule",
        SecretId="arn:aws:secretsmanager:eu-west-1:1:secret:other",
        HostedRotationLambda={"RotationType": "MySQLSingleUser"})).values()), 14, N,
     "no AWS::SecretsManager::RotationSchedule rotates this secret"),
    # A key reference that names another kind of resource is no key
    (encryption.STORAGE_ENCRYPTED_CMK, primary(KmsKeyId={"Fn::GetAtt": ["Secret", "Arn"]}),
     full(primary()), 14, N,
     "KmsKeyId is a value that is not a key of this app, not a customer-managed key defined in "
     "this app"),
    (encryption.REPLICA_SOURCE_ENCRYPTED, replica(StorageEncrypted=True),
     [primary(), *support().values()], 14, C, ""),
    # A source that is no ARN names no instance (not the one without an identifier)
    (encryption.REPLICA_SOURCE_ENCRYPTED, replica(SourceDBInstanceIdentifier="not-an-arn"),
     [primary()], 14, N,
     "the source instance is not in this app, so its encryption cannot be proven"),
    (encryption.DR_REPLICA_ENCRYPTED, replica(), [primary()], 14, NA, ""),
    (backups.BACKUP_RETENTION, primary(BackupRetentionPeriod={"Ref": "Days"}), [], 14, N,
     "BackupRetentionPeriod={'Ref': 'Days'} is not a literal number of days"),
    (retention.KEY_AND_SECRET_RETAINED, dataclasses.replace(support()["Key"],
                                                            update_replace_policy="Delete"),
     [], 14, N, "UpdateReplacePolicy=Delete; must be Retain"),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="mysql8.0")), 14, N,
     "parameter group Params sets require_secure_transport=unset; must be 1"),
    (network.ISOLATED_SUBNETS, primary(), full(primary(), SubnetGroup=res(
        "SubnetGroup", "AWS::RDS::DBSubnetGroup", SubnetIds=["subnet-1"])), 14, N,
     "subnet group SubnetGroup has no subnet of this app"),
    # Another subnet's association first; the subnet's own table routes out over IPv6
    (network.ISOLATED_SUBNETS, primary(), full(primary(), Assoc=res(
        "Assoc", "AWS::EC2::SubnetRouteTableAssociation", SubnetId={"Ref": "OtherSubnet"},
        RouteTableId={"Ref": "OtherTable"}), OwnAssoc=res(
        "OwnAssoc", "AWS::EC2::SubnetRouteTableAssociation", SubnetId={"Ref": "Subnet"},
        RouteTableId={"Ref": "Table"}), Route=res(
        "Route", "AWS::EC2::Route", RouteTableId={"Ref": "Table"},
        DestinationIpv6CidrBlock="::/0", EgressOnlyInternetGatewayId={"Ref": "Eigw"})), 14, N,
     "subnet Subnet routes ::/0 out of the VPC (Route)"),
    (network.NO_WORLD_INGRESS, res("Sg", "AWS::EC2::SecurityGroup"), [], 14, C, ""),
    (network.NOT_PUBLIC, primary(), [], 14, C, ""),
    (network.NOT_PUBLIC, primary(PubliclyAccessible=True), [], 14, N, "PubliclyAccessible=true"),
    (network.NOT_PUBLIC, primary(PubliclyAccessible=None), [], 14, N,
     "PubliclyAccessible is not set (RDS may default to true in a VPC with an internet gateway); "
     "must be false"),
    (network.ISOLATED_SUBNETS, primary(), full(primary()), 14, C, ""),
    (network.ISOLATED_SUBNETS, primary(), full(primary(), Route=res(
        "Route", "AWS::EC2::Route", RouteTableId={"Ref": "Table"},
        DestinationCidrBlock="0.0.0.0/0", GatewayId={"Ref": "Igw"})), 14, N,
     "subnet Subnet routes 0.0.0.0/0 out of the VPC (Route)"),
    (network.ISOLATED_SUBNETS, primary(), full(primary(), Subnet=res(
        "Subnet", "AWS::EC2::Subnet", MapPublicIpOnLaunch=True)), 14, N,
     "subnet Subnet maps public IPs on launch"),
    # A public route table elsewhere in the stack (a NAT subnet's) does not concern it
    (network.ISOLATED_SUBNETS, primary(), full(primary(), PublicTable=res(
        "PublicTable", "AWS::EC2::RouteTable"), PublicRoute=res(
        "PublicRoute", "AWS::EC2::Route", RouteTableId={"Ref": "PublicTable"},
        DestinationCidrBlock="0.0.0.0/0", GatewayId={"Ref": "Igw"}), PublicAssoc=res(
        "PublicAssoc", "AWS::EC2::SubnetRouteTableAssociation",
        SubnetId={"Ref": "PublicSubnet"}, RouteTableId={"Ref": "PublicTable"}),
        PublicSubnet=res("PublicSubnet", "AWS::EC2::Subnet", MapPublicIpOnLaunch=True)), 14, C,
     ""),
    (network.ISOLATED_SUBNETS, primary(DBSubnetGroupName="default"), [], 14, N,
     "DBSubnetGroupName does not name a DB subnet group of this app"),
    (network.TLS_ENFORCED, primary(), full(primary()), 14, C, ""),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="postgres16",
        Parameters={"rds.force_ssl": "1"})), 14, C, ""),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="mysql8.0",
        Parameters={"require_secure_transport": "OFF"})), 14, N,
     "parameter group Params sets require_secure_transport=OFF; must be 1"),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="postgres16", Parameters={})), 14, N,
     "parameter group Params sets rds.force_ssl=unset; must be 1"),
    # RDS reads the TLS parameter's value ignoring case
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="postgres16",
        Parameters={"rds.force_ssl": "ON"})), 14, C, ""),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="mariadb10.11",
        Parameters={"require_secure_transport": "1"})), 14, C, ""),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="mariadb10.11",
        Parameters={"rds.force_ssl": "1"})), 14, N,
     "parameter group Params sets require_secure_transport=unset; must be 1"),
    (network.TLS_ENFORCED, primary(), full(primary(), Params=res(
        "Params", "AWS::RDS::DBParameterGroup", Family="sqlserver-ee-16.00",
        Parameters={"require_secure_transport": "ON"})), 14, N,
     
     "parameter group Params has Family='sqlserver-ee-16.00', of no engine whose TLS parameter is "
     "known (mysql, mariadb, postgres)"),
    (network.TLS_ENFORCED, primary(DBParameterGroupName="default.mysql8.0"), [], 14, N,
     
     "DBParameterGroupName is 'default.mysql8.0', not a parameter group of this app (the default "
     "group allows plaintext connections)"),
    (network.NO_WORLD_INGRESS, res("Sg", "AWS::EC2::SecurityGroup", SecurityGroupIngress=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/16"}]), [], 14,
     C, ""),
    (network.NO_WORLD_INGRESS, res("Sg", "AWS::EC2::SecurityGroup", SecurityGroupIngress=[
        {"IpProtocol": "tcp", "FromPort": 3307, "ToPort": 3307, "CidrIp": "0.0.0.0/0"}]), [], 14,
     N, "ingress tcp 3307-3307 from 0.0.0.0/0"),
    (network.NO_WORLD_INGRESS, res("In", "AWS::EC2::SecurityGroupIngress", IpProtocol="-1",
                                   CidrIpv6="::/0"), [], 14, N, "ingress -1 all-all from ::/0"),
    (network.NO_WORLD_INGRESS, res("In", "AWS::EC2::SecurityGroupIngress", IpProtocol="tcp",
                                   SourceSecurityGroupId={"Ref": "Sg"}), [], 14, C, ""),
    (network.EXPLICIT_EGRESS, res("Sg", "AWS::EC2::SecurityGroup", SecurityGroupEgress=[
        {"IpProtocol": "tcp", "FromPort": 3307, "ToPort": 3307,
         "DestinationSecurityGroupId": {"Ref": "Db"}}]), [], 14, C, ""),
    (network.EXPLICIT_EGRESS, res("Sg", "AWS::EC2::SecurityGroup"), [], 14, N,
     
     "no inline SecurityGroupEgress: EC2 keeps its default allow-all egress rule (separate "
     "SecurityGroupEgress resources only add to it)"),
    (network.EXPLICIT_EGRESS, res("Sg", "AWS::EC2::SecurityGroup", SecurityGroupEgress=[]), [],
     14, N,
     "no inline SecurityGroupEgress: EC2 keeps its default allow-all egress rule (separate "
     "SecurityGroupEgress resources only add to it)"),
]


@pytest.mark.parametrize(
    ("rule", "target", "others", "days", "expected", "detail"), CASES,
    ids=[f"{c[0].id}-{n}-{c[4].value}" for n, c in enumerate(CASES)])
def test_rule(rule: Rule, target: Resource, others: list[Resource], days: int,
              expected: Compliance, detail: str) -> None:
    others = [o for o in others if o.logical_id != target.logical_id]
    view = stack(target, *others, retention_days=days)
    result = rule.evaluate(target, view)
    assert result.compliance is expected, result.detail
    assert result.detail == detail
    assert result.finding == ""  # the rule reports no granular finding


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
                     outputs={"KeyArn": {"Value": {"Fn::GetAtt": ["DrKey", "Arn"]},
                                         "Export": {"Name": "Keys-KeyArn"}}})
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
     dict(replica_props={"SourceRegion": "eu-west-1", "KmsKeyId": "alias/x"}), {}, N,
     "KmsKeyId is 'alias/x', not a customer-managed key of this app"),
    (disaster_recovery.CROSS_REGION_BACKUP_COPY, "Plan", dict(replica_props={}, plan={}), {}, N,
     "the plan has no rules"),
    (disaster_recovery.CROSS_REGION_BACKUP_COPY, "Plan", dict(replica_props={}, plan={
        "BackupPlanRule": [{"RuleName": "Daily", "CopyActions": [{
            "DestinationBackupVaultArn": "arn:aws:backup:eu-central-1:1:backup-vault:dr"}]}]}),
     {}, C, ""),
    # an export of a stack in the DR region
    (disaster_recovery.CROSS_REGION_BACKUP_COPY, "Plan", dict(replica_props={}, plan={
        "BackupPlanRule": [{"RuleName": "Daily", "CopyActions": [{
            "DestinationBackupVaultArn": {"Fn::ImportValue": "Keys-KeyArn"}}]}]}), {}, C, ""),
    *((disaster_recovery.CROSS_REGION_BACKUP_COPY, "Plan", dict(replica_props={}, plan={
        "BackupPlanRule": [{"RuleName": "Daily", "CopyActions": [copy]}]}), {}, N,
       "rule 'Daily' copies no recovery point to a vault in the DR region eu-central-1")
      for copy in ({"DestinationBackupVaultArn": "arn:aws:backup:eu-west-1:1:backup-vault:v"},
                   {"DestinationBackupVaultArn": {"Fn::GetAtt": ["Key", "Arn"]}}, {})),
    (encryption.DR_REPLICA_ENCRYPTED, "DrReplica",
     dict(replica_props={"SourceRegion": "eu-west-1", "KmsKeyId": KEY_OUT}), {}, C, ""),
    (encryption.DR_REPLICA_ENCRYPTED, "DrReplica",
     dict(replica_props={"KmsKeyId": KEY_OUT}), {}, N,
     "SourceRegion is not set: a replica of an instance in another region must name the source's "
     "region"),
    (encryption.DR_REPLICA_ENCRYPTED, "DrReplica",
     dict(replica_props={"SourceRegion": "eu-west-1"}), {}, N,
     "KmsKeyId is not set: a cross-region replica needs a key of its own region (the source's key "
     "does not exist there)"),
    (encryption.DR_REPLICA_ENCRYPTED, "DrReplica",
     dict(replica_props={"SourceRegion": "eu-west-1", "KmsKeyId": KEY_OUT},
          key_region="eu-west-1"), {}, N,
     "KmsKeyId is key DrKey of region eu-west-1; the replica is in eu-central-1"),
    (encryption.DR_REPLICA_ENCRYPTED, "Primary",
     dict(replica_props={}), {}, NA, ""),
    (encryption.REPLICA_SOURCE_ENCRYPTED, "DrReplica",
     dict(replica_props={"SourceRegion": "eu-west-1", "KmsKeyId": KEY_OUT}), {}, C, ""),
    (encryption.REPLICA_SOURCE_ENCRYPTED, "DrReplica",
     dict(replica_props={"SourceRegion": "eu-west-1", "KmsKeyId": KEY_OUT},
          primary_props={"StorageEncrypted": False}), {}, N,
     "source Primary is not encrypted with a customer-managed key"),
    (disaster_recovery.CROSS_REGION_BACKUP_COPY, "Plan",
     dict(replica_props={}, plan={"BackupPlanRule": [{"RuleName": "Daily",
                                                      "CopyActions": COPY}]}), {}, C, ""),
    (disaster_recovery.CROSS_REGION_BACKUP_COPY, "Plan",
     dict(replica_props={}, plan={"BackupPlanRule": [{"RuleName": "Daily",
                                                      "CopyActions": COPY},
                                                     {"RuleName": "Monthly"}]}), {}, N,
     "rule 'Monthly' copies no recovery point to a vault in the DR region eu-central-1"),
    (disaster_recovery.CROSS_REGION_BACKUP_COPY, "Plan",
     dict(replica_props={}, dr_region=None,
          plan={"BackupPlanRule": [{"RuleName": "Daily"}]}), {}, NA, ""),
    (disaster_recovery.AUTOMATED_BACKUP_REPLICATION, "Primary",
     dict(replica_props={}, primary_props=DR_REPLICATION), {}, C, ""),
    (disaster_recovery.AUTOMATED_BACKUP_REPLICATION, "Primary",
     dict(replica_props={}), {}, N, "AutomaticBackupReplicationRegion=None; must be eu-central-1"),
    (disaster_recovery.AUTOMATED_BACKUP_REPLICATION, "Primary",
     dict(replica_props={}, primary_props={**DR_REPLICATION,
                                           "AutomaticBackupReplicationKmsKeyId": "alias/x"}),
     {}, N, "AutomaticBackupReplicationKmsKeyId is not a key of the DR region"),
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
    assert result.detail == detail


def test_a_plan_without_its_plan_property_has_no_rules() -> None:
    plan = res("Plan", "AWS::Backup::BackupPlan")
    view = StackView("S", {"Plan": plan}, settings=PolicySettings("prod", 14, "eu-central-1"))
    link_stacks([view])
    result = disaster_recovery.CROSS_REGION_BACKUP_COPY.evaluate(plan, view)
    assert (result.compliance, result.detail) == (N, "the plan has no rules")


# --- engine lifecycle: the support window of each instance's version ---------------------------

TODAY = datetime.date(2026, 11, 30)
STANDARD, EXTENDED = engines.STANDARD_SUPPORT_ONLY, engines.EXTENDED_SUPPORT
REASON = "The vendor certifies its application on MySQL 8.0 only until its 2027 release."


@pytest.fixture
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(engines, "today", lambda: TODAY)
    yield


def versioned(version: Any, lifecycle: Any = STANDARD, engine: str | None = "mysql",
              **overrides: Any) -> Resource:
    props = {"Engine": engine, "EngineVersion": version, "EngineLifecycleSupport": lifecycle}
    return primary(**{k: v for k, v in props.items() if v is not None}, **overrides)


def lifecycle_settings(engine: str | None = None, reason: str | None = None) -> PolicySettings:
    return PolicySettings("test", 14, engine=engine, extended_support_reason=reason)


PAST_80 = ("EngineVersion: mysql 8.0.43: mysql 8.0 left RDS standard support on 2026-07-31 and "
           "EngineLifecycleSupport is {!r}, not 'open-source-rds-extended-support': RDS refuses "
           "to create it, and upgrades an existing one; upgrade to a major version in standard "
           "support")
ABSENT = ("EngineLifecycleSupport: absent: RDS then enrolls the instance in paid Extended Support "
          "past its end of standard support; declare 'open-source-rds-extended-support-disabled' "
          "(or 'open-source-rds-extended-support', chosen with a reason)")
REPLICA_80 = res("Replica", "AWS::RDS::DBInstance", "Snapshot",
                 SourceDBInstanceIdentifier={"Fn::Join": [":", ["arn", {"Ref": "Primary"}]]},
                 EngineVersion="8.0.43", EngineLifecycleSupport=STANDARD)
E = lifecycle.ENGINE_IN_STANDARD_SUPPORT
LIFECYCLE_CASES: list[tuple[Rule, Resource, list[Resource], PolicySettings, Compliance,
                            list[str], str]] = [
    # (rule, target, others, settings, expected, finding ids, detail)
    (E, versioned("8.4.10"), [], lifecycle_settings(), C, [],
     "mysql 8.4.10: standard support until 2029-07-31"),
    (E, versioned("8.0.43"), [], lifecycle_settings(), N, ["Property::EngineVersion"],
     PAST_80.format(STANDARD)),
    (E, versioned("8.0.43", EXTENDED), [], lifecycle_settings(reason=REASON), C, [],
     f"mysql 8.0.43: Extended Support opted in: {REASON}"),
    (E, versioned("8.0.43", EXTENDED), [], lifecycle_settings(), C, [],
     "mysql 8.0.43: Extended Support opted in"),
    (E, versioned("8.4.10", None), [], lifecycle_settings(), N,
     ["Property::EngineLifecycleSupport"], ABSENT),
    (E, versioned("8.0.43", None), [], lifecycle_settings(), N,
     ["Property::EngineLifecycleSupport", "Property::EngineVersion"],
     f"{ABSENT}; {PAST_80.format(None)}"),
    (E, versioned("8.4.10", "open-source-rds-extended"), [], lifecycle_settings(), N,
     ["Property::EngineLifecycleSupport"],
     "EngineLifecycleSupport: 'open-source-rds-extended': one of "
     "open-source-rds-extended-support-disabled, open-source-rds-extended-support"),
    (E, versioned(None), [], lifecycle_settings(), N, ["Property::EngineVersion"],
     "EngineVersion: None: no literal version, so RDS picks one and its support window cannot "
     "be told; declare the full version"),
    (E, versioned({"Ref": "Version"}), [], lifecycle_settings(), N, ["Property::EngineVersion"],
     "EngineVersion: {'Ref': 'Version'}: no literal version, so RDS picks one and its support "
     "window cannot be told; declare the full version"),
    (E, versioned("9.1.0"), [], lifecycle_settings(), N, ["Property::EngineVersion"],
     "EngineVersion: mysql 9.1.0: no end of standard support is recorded for major version 9.1; "
     "known: 5.7, 8.0, 8.4 (source: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
     "MySQL.Concepts.VersionMgmt.html)"),
    # A replica names no engine: its source's, in this stack or by ARN in another
    (E, REPLICA_80, [versioned("8.4.10")], lifecycle_settings(), N, ["Property::EngineVersion"],
     PAST_80.format(STANDARD)),
    (E, dataclasses.replace(REPLICA_80, properties={**REPLICA_80.properties,
                                                     "EngineVersion": "8.4.10"}),
     [versioned("8.4.10")], lifecycle_settings(), C, [],
     "mysql 8.4.10: standard support until 2029-07-31"),
    # No source in the app: the environment's engine
    (E, res("Replica", "AWS::RDS::DBInstance", SourceDBInstanceIdentifier="arn:x:db:elsewhere",
            EngineVersion="13.20", EngineLifecycleSupport=STANDARD), [],
     lifecycle_settings(engine="postgres"), N, ["Property::EngineVersion"],
     "EngineVersion: postgres 13.20: postgres 13 left RDS standard support on 2026-02-28 and "
     "EngineLifecycleSupport is 'open-source-rds-extended-support-disabled', not "
     "'open-source-rds-extended-support': RDS refuses to create it, and upgrades an existing "
     "one; upgrade to a major version in standard support"),
    (E, versioned("17.9", engine="postgres"), [], lifecycle_settings(), C, [],
     "postgres 17.9: standard support until 2030-02-28"),
    # MariaDB: no Extended Support, so no EngineLifecycleSupport either
    (E, versioned("11.4.10", None, "mariadb"), [], lifecycle_settings(), C, [],
     "mariadb 11.4.10: standard support until 2029-05-31"),
    (E, versioned("11.4.10", STANDARD, "mariadb"), [], lifecycle_settings(), N,
     ["Property::EngineLifecycleSupport"],
     "EngineLifecycleSupport: 'open-source-rds-extended-support-disabled': RDS offers no Extended "
     "Support for mariadb; the setting applies to MySQL and PostgreSQL only"),
    (E, versioned("10.6.25", None, "mariadb"), [], lifecycle_settings(), N,
     ["Property::EngineVersion"],
     "EngineVersion: mariadb 10.6.25: mariadb 10.6 left RDS standard support on 2026-08-31 and "
     "RDS offers no Extended Support for mariadb: it upgrades the instance itself; upgrade to a "
     "major version in standard support"),
    (E, versioned("16.00.4095.4", None, "sqlserver-ee"), [], lifecycle_settings(), NA, [], ""),
    (E, res("Replica", "AWS::RDS::DBInstance", SourceDBInstanceIdentifier="arn:x:db:elsewhere",
            EngineVersion="8.0.43"), [], lifecycle_settings(), NA, [], ""),  # engine unknown
]


@pytest.mark.parametrize(("rule", "target", "others", "settings", "expected", "findings",
                          "detail"), LIFECYCLE_CASES,
                         ids=[f"{n}-{c[4].value}" for n, c in enumerate(LIFECYCLE_CASES)])
def test_engine_in_standard_support(pinned_today: None, rule: Rule, target: Resource,
                                    others: list[Resource], settings: PolicySettings,
                                    expected: Compliance, findings: list[str],
                                    detail: str) -> None:
    view = StackView("S", {r.logical_id: r for r in (target, *others)}, settings=settings)
    link_stacks([view])
    results = rule.results(target, view)
    assert {r.compliance for r in results} == {expected}, results
    assert [r.finding for r in results if r.finding] == findings
    assert rule.evaluate(target, view).detail == detail


def test_a_cross_region_replica_takes_the_engine_of_its_source_in_another_stack(
        pinned_today: None) -> None:
    home, dr = dr_app({"SourceRegion": "eu-west-1", "KmsKeyId": KEY_OUT,
                       "EngineVersion": "8.0.43", "EngineLifecycleSupport": STANDARD},
                      primary_props={"Engine": "mysql", "EngineVersion": "8.4.10"})
    result = E.evaluate(dr.resources["DrReplica"], dr)
    assert (result.compliance, result.detail) == (N, PAST_80.format(STANDARD))


@pytest.mark.parametrize(("today", "expected"), [
    (datetime.date(2026, 7, 31), C), (datetime.date(2026, 8, 1), N)])
def test_standard_support_lasts_through_its_last_day(monkeypatch: pytest.MonkeyPatch,
                                                     today: datetime.date,
                                                     expected: Compliance) -> None:
    monkeypatch.setattr(engines, "today", lambda: today)
    target = versioned("8.0.43")
    assert E.evaluate(target, stack(target)).compliance is expected


def test_engine_version_and_lifecycle_are_configured_promises() -> None:
    promise = _promise("p", engine_version="8.4.10", lifecycle_support=STANDARD)
    settings = PolicySettings("test", 14, instances=(promise,))
    for props, findings, detail in (
        ({"EngineVersion": "8.4.10", "EngineLifecycleSupport": STANDARD}, [], ""),
        ({"EngineVersion": "8.0.43", "EngineLifecycleSupport": EXTENDED},
         ["Property::EngineLifecycleSupport", "Property::EngineVersion"],
         "EngineVersion: '8.0.43'; configured '8.4.10'; EngineLifecycleSupport: "
         "'open-source-rds-extended-support'; configured "
         "'open-source-rds-extended-support-disabled'"),
        ({}, ["Property::EngineLifecycleSupport", "Property::EngineVersion"],
         "EngineVersion: None; configured '8.4.10'; EngineLifecycleSupport: None; configured "
         "'open-source-rds-extended-support-disabled'"),
    ):
        target = configured_primary(**props)
        view = StackView("S", {target.logical_id: target}, settings=settings)
        link_stacks([view])
        results = I.results(target, view)
        assert sorted(r.finding for r in results if r.finding) == findings
        assert I.evaluate(target, view).detail == detail


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_every_rule_has_all_three_outcomes_in_the_cases(rule: Rule) -> None:
    outcomes = ({c[4] for c in CASES if c[0] is rule} | {c[4] for c in DR_CASES if c[0] is rule}
                | {c[3] for c in CONFIGURED_CASES if c[0] is rule}
                | {c[4] for c in LIFECYCLE_CASES if c[0] is rule}
                | ({c[2] for c in CROSS_VIEW_CASES} if rule is escape_hatch.RULES[0] else set()))
    assert {C, N} <= outcomes
    assert NA in outcomes or rule.evaluate(NOT_APPLICABLE_TO, stack()).compliance is NA


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_other_resource_types_are_not_applicable(rule: Rule) -> None:
    assert rule.evaluate(NOT_APPLICABLE_TO, stack()).compliance is NA


def test_password_value_never_in_the_finding() -> None:
    _, detail = check(credentials.NO_PLAINTEXT_PASSWORD, primary(MasterUserPassword="s3cr3t!"))
    assert "s3cr3t" not in detail


# --- configured values are promises -----------------------------------------------------------

def _promise(identifier: str, *, replica: bool = False, **overrides: Any) -> InstancePromise:
    fields: dict[str, Any] = dict(
        identifier=identifier, replica=replica, port=3307, multi_az=True, monitoring_interval=15,
        log_exports=("audit", "error"), backup_retention_days=14, performance_insights=True)
    return InstancePromise(**(fields | overrides))


PROMISED = PolicySettings(
    "test", 14, None,
    instances=(_promise("p"), _promise("r1", replica=True),
               _promise("r2", replica=True, backup_retention_days=None)),
    replica_count=2, log_retention_days=365, secret_rotation_days=30,
    alarms=(AlarmPromise("CPUUtilization", 80, above=True),
            AlarmPromise("FreeStorageSpace", 2**31, above=False)))
SOURCE = {"Fn::Join": [":", ["arn", {"Ref": "Primary"}]]}
AS_CONFIGURED = dict(MonitoringInterval=15, EnableCloudwatchLogsExports=["audit", "error"],
                     BackupRetentionPeriod=14, MultiAZ=True, Port="3307",
                     EnablePerformanceInsights=True)


def configured_primary(**overrides: Any) -> Resource:
    return primary(**(AS_CONFIGURED | {"DBInstanceIdentifier": "p"} | overrides))


def configured_replica(identifier: str, **overrides: Any) -> Resource:
    props = AS_CONFIGURED | {"DBInstanceIdentifier": identifier,
                             "SourceDBInstanceIdentifier": SOURCE} | overrides
    return res(f"Replica{identifier}", "AWS::RDS::DBInstance", "Snapshot",
               **{k: v for k, v in props.items() if v is not None})


REPLICAS = [configured_replica("r1"), configured_replica("r2", BackupRetentionPeriod=None)]


def log_group(days: Any = 365) -> Resource:
    return res("Logs", "AWS::Logs::LogGroup", "Retain",
               **({"RetentionInDays": days} if days is not None else {}))


def schedule(rules: Any) -> Resource:
    return res("Rotation", "AWS::SecretsManager::RotationSchedule", RotationRules=rules)


def alarm(metric: str, threshold: Any, operator: str = "GreaterThanThreshold",
          namespace: str = "AWS/RDS") -> Resource:
    return res("Alarm", "AWS::CloudWatch::Alarm", Namespace=namespace, MetricName=metric,
               Threshold=threshold, ComparisonOperator=operator)


I, LR, RO, AL = (configured.INSTANCE_AS_CONFIGURED, configured.LOG_RETENTION_AS_CONFIGURED,
                 configured.ROTATION_AS_CONFIGURED, configured.ALARM_AS_CONFIGURED)
CONFIGURED_CASES: list[tuple[Rule, Resource, list[Resource], Compliance, list[str], str]] = [
    # (rule, target, other resources, expected, finding ids, detail)
    (I, configured_primary(), REPLICAS, C, [], ""),
    (I, REPLICAS[0], [configured_primary(), REPLICAS[1]], C, [], ""),
    (I, REPLICAS[1], [configured_primary(), REPLICAS[0]], C, [], ""),  # no backups: promised none
    (I, configured_primary(MonitoringInterval=60), REPLICAS, N,
     ["Property::MonitoringInterval"], "MonitoringInterval: every 60 s; configured every 15 s"),
    (I, configured_primary(MonitoringInterval=0), REPLICAS, N,
     ["Property::MonitoringInterval"],
     "MonitoringInterval: 0: enhanced monitoring is off; configured every 15 s"),
    (I, configured_primary(EnableCloudwatchLogsExports=["error"]), REPLICAS, N,
     ["LogExport::audit"], "EnableCloudwatchLogsExports=['error'] lacks the configured 'audit'"),
    (I, configured_replica("r1", BackupRetentionPeriod=7), [configured_primary()], N,
     ["Property::BackupRetentionPeriod"], "BackupRetentionPeriod: 7; configured 14 days"),
    (I, configured_primary(MultiAZ=False), REPLICAS, N, ["Property::MultiAZ"],
     "MultiAZ: False; configured multi-AZ"),
    (I, configured_primary(Port="3306"), REPLICAS, N, ["Property::Port"],
     "Port: '3306'; configured 3307"),
    (I, configured_primary(EnablePerformanceInsights=False), REPLICAS, N,
     ["Property::EnablePerformanceInsights"], "EnablePerformanceInsights: False; configured on"),
    (I, configured_primary(), REPLICAS[:1], N, ["Instance::r2", "ReplicaCount"],
     
     "the config declares r2; no DB instance of the app has that identifier; 1 read replica(s) of "
     "this primary in its stack; configured 2"),
    (I, configured_primary(DBInstanceIdentifier="other"), REPLICAS, N,
     ["Property::DBInstanceIdentifier"],
     "DBInstanceIdentifier: 'other' is no instance the config declares (p, r1, r2)"),
    (I, configured_replica("r1", SourceDBInstanceIdentifier=None), [configured_primary()], N,
     ["Property::SourceDBInstanceIdentifier"],
     "SourceDBInstanceIdentifier: the config declares a read replica; the template makes it a "
     "standalone instance"),
    (LR, log_group(365), [], C, [], ""),
    (LR, log_group(None), [], C, [], ""),  # never expires
    (LR, log_group(30), [], N, ["Property::RetentionInDays"],
     "RetentionInDays: 30; configured 365 days"),
    (RO, schedule({"ScheduleExpression": "rate(30 days)"}), [], C, [], ""),
    (RO, schedule({"AutomaticallyAfterDays": 7}), [], C, [], ""),
    (RO, schedule({"ScheduleExpression": "rate(24 hours)"}), [], C, [], ""),
    (RO, schedule({"ScheduleExpression": "rate(90 days)"}), [], N, ["Property::RotationRules"],
     "RotationRules: every 90 days; configured every 30 days"),
    (RO, schedule({"ScheduleExpression": "cron(0 0 1 * ? *)"}), [], N,
     ["Property::RotationRules"],
     "RotationRules: {'ScheduleExpression': 'cron(0 0 1 * ? *)'} is no literal interval "
     "(AutomaticallyAfterDays or rate(...)); configured every 30 days"),
    (RO, schedule({"ScheduleExpression": "rate(720 hours)"}), [], C, [], ""),
    (RO, schedule({"ScheduleExpression": "rate(721 hours)"}), [], N, ["Property::RotationRules"],
     "RotationRules: every 30.0417 days; configured every 30 days"),
    (RO, schedule(None), [], N, ["Property::RotationRules"],
     "RotationRules: None is no literal interval (AutomaticallyAfterDays or rate(...)); "
     "configured every 30 days"),
    (AL, alarm("CPUUtilization", 80), [], C, [], ""),
    (AL, alarm("CPUUtilization", 95), [], N, ["Property::Threshold"],
     "Threshold: 95; configured 80 (fires above)"),
    (AL, alarm("CPUUtilization", 50, "LessThanThreshold"), [], N,
     ["Property::ComparisonOperator"],
     "ComparisonOperator: 'LessThanThreshold'; the configured alarm fires above its threshold"),
    (AL, alarm("FreeStorageSpace", 2**32, "LessThanThreshold"), [], C, [], ""),
    (AL, alarm("FreeStorageSpace", 2**30, "LessThanThreshold"), [], N, ["Property::Threshold"],
     "Threshold: 1073741824; configured 2.14748e+09 (fires below)"),
    (AL, alarm("FreeStorageSpace", 2**31, "LessThanThreshold"), [], C, [], ""),
    # the primary declared as a replica; a replica of another primary is none of this one's
    (I, configured_replica("p"), [configured_primary(DBInstanceIdentifier="x")], N,
     ["Property::SourceDBInstanceIdentifier"],
     "SourceDBInstanceIdentifier: the config declares the primary; the template makes it a "
     "read replica"),
    (I, configured_primary(), [REPLICAS[0], configured_replica(
        "r2", SourceDBInstanceIdentifier={"Fn::Join": [":", ["arn", {"Ref": "Other"}]]}),
        res("Other", "AWS::RDS::DBInstance")], N, ["ReplicaCount"],
     "1 read replica(s) of this primary in its stack; configured 2"),
    (AL, alarm("FreeStorageSpace", 2**31), [], N, ["Property::ComparisonOperator"],
     "ComparisonOperator: 'GreaterThanThreshold'; the configured alarm fires below its "
     "threshold"),
    (AL, alarm("ReadIOPS", 1), [], NA, [], ""),  # no threshold configured for it
    (AL, alarm("CPUUtilization", 95, namespace="Custom"), [], NA, [], ""),
]


@pytest.mark.parametrize(("rule", "target", "others", "expected", "findings", "detail"),
                         CONFIGURED_CASES,
                         ids=[f"{c[0].id}-{n}-{c[3].value}" for n, c in
                              enumerate(CONFIGURED_CASES)])
def test_configured_value(rule: Rule, target: Resource, others: list[Resource],
                          expected: Compliance, findings: list[str], detail: str) -> None:
    view = StackView("S", {r.logical_id: r for r in (target, *others)}, settings=PROMISED)
    link_stacks([view])
    results = rule.results(target, view)
    assert {r.compliance for r in results} == {expected}, results
    assert sorted(r.finding for r in results if r.finding) == sorted(findings)
    if len(findings) == 1:  # one granular finding is reported as itself
        assert rule.evaluate(target, view).finding == findings[0]
    assert rule.evaluate(target, view).detail == detail


@pytest.mark.parametrize("rule", configured.RULES, ids=lambda r: r.id)
def test_an_empty_promise_is_not_checked(rule: Rule) -> None:
    """Hand-built stacks and other apps' settings promise nothing: nothing to hold them to."""
    for target in (configured_primary(MonitoringInterval=0), log_group(1),
                   schedule({"ScheduleExpression": "rate(365 days)"}), alarm("CPUUtilization", 99)):
        if target.type in rule.resource_types:
            assert rule.evaluate(target, stack(target)).compliance is NA


# --- the template matches the construct tree --------------------------------------------------

def _views(construct: Resource, template: Resource) -> StackView:
    """A template view holding `template`, whose construct view holds `construct`."""
    tree = StackView("S", {construct.logical_id: construct})
    final = StackView("S", {template.logical_id: template}, constructs=tree)
    link_stacks([final])
    return final


def _instance(deletion: str | None = "Snapshot", **props: Any) -> Resource:
    return Resource("Db", "AWS::RDS::DBInstance",
                    {"MultiAZ": True, "Port": "3307", "MasterUserPassword": SECRET_REF,
                     "DBParameterGroupName": {"Ref": "Params"}} | props,
                    deletion, deletion, path="S/Db/Resource")


def _group(parameters: dict[str, str]) -> Resource:
    return Resource("Params", "AWS::RDS::DBParameterGroup",
                    {"Family": "postgres16", "Parameters": parameters}, path="S/Params")


CROSS_VIEW_CASES: list[tuple[Resource, Resource, Compliance, list[str], str]] = [
    # (construct view, template view, expected, finding ids, detail)
    (_instance(), _instance(), C, [], ""),
    (_instance(), _instance(MultiAZ=False), N, ["Property::MultiAZ"],
     "MultiAZ is true in the construct tree, false in the template"),
    (_instance(), _instance(MultiAZ=False, Port="3306"), N,
     ["Property::MultiAZ", "Property::Port"],
     'MultiAZ is true in the construct tree, false in the template; Port is "3307" in the '
     'construct tree, "3306" in the template'),
    (_instance(), _instance(EnableIAMDatabaseAuthentication=False), N,
     ["Property::EnableIAMDatabaseAuthentication"],
     "EnableIAMDatabaseAuthentication is absent in the construct tree, false in the template"),
    (_instance(CopyTagsToSnapshot=True), _instance(), N, ["Property::CopyTagsToSnapshot"],
     "CopyTagsToSnapshot is true in the construct tree, absent in the template"),
    (_instance(), _instance(DBParameterGroupName="default.postgres16"), N,
     ["Property::DBParameterGroupName"],
     'DBParameterGroupName is {"Ref": "Params"} in the construct tree, "default.postgres16" in '
     "the template"),
    (_group({"rds.force_ssl": "1", "log_min_duration_statement": "500"}),
     _group({"rds.force_ssl": "0", "log_min_duration_statement": "500"}), N,
     ["Property::Parameters.rds.force_ssl"],
     'Parameters.rds.force_ssl is "1" in the construct tree, "0" in the template'),
    (_instance(), _instance(MasterUserPassword="hunter2hunter2"), N,
     ["Property::MasterUserPassword"],
     "MasterUserPassword differs between the construct tree and the template (value not shown)"),
    (_instance(), _instance(deletion="Delete"), N,
     ["Attribute::DeletionPolicy", "Attribute::UpdateReplacePolicy"],
     
     'DeletionPolicy is "Snapshot" in the construct tree, "Delete" in the template; '
     'UpdateReplacePolicy is "Snapshot" in the construct tree, "Delete" in the template'),
    (_instance(deletion=None), _instance(deletion="Retain"), C, [], ""),  # Retain: not weaker
    (Resource("Logs", "AWS::Logs::LogGroup", {}, "Retain", "Retain"),
     Resource("Logs", "AWS::Logs::LogGroup", {}), N,
     ["Attribute::DeletionPolicy", "Attribute::UpdateReplacePolicy"],
     'DeletionPolicy is "Retain" in the construct tree, "Delete" in the template; '
     'UpdateReplacePolicy is "Retain" in the construct tree, "Delete" in the template'),
    (Resource("Role", "AWS::IAM::Role", {}, "Retain", "Retain"),
     Resource("Role", "AWS::IAM::Role", {}), C, [], ""),  # holds no data
    (Resource("Db", "AWS::RDS::DBInstance", {}), Resource("Db", "AWS::RDS::DBCluster", {}), N,
     ["Attribute::Type"],
     'Type is "AWS::RDS::DBInstance" in the construct tree, "AWS::RDS::DBCluster" in the template'),
    (Resource("Db", "AWS::RDS::DBInstance", {}),
     Resource("Db", "AWS::RDS::DBInstance", {}, condition="Never"), N,
     ["Attribute::Condition"],
     'Condition is absent in the construct tree, "Never" in the template'),
    (Resource("Db", "AWS::RDS::DBInstance", {}, condition="A"),
     Resource("Db", "AWS::RDS::DBInstance", {}, condition="B"), N, ["Attribute::Condition"],
     'Condition is "A" in the construct tree, "B" in the template'),
    (Resource("Db", "AWS::RDS::DBInstance", {"Port": "1"}),
     Resource("Db", "AWS::RDS::DBCluster", {"Port": "2"}), N,
     ["Attribute::Type", "Property::Port"],
     'Type is "AWS::RDS::DBInstance" in the construct tree, "AWS::RDS::DBCluster" in the '
     'template; Port is "1" in the construct tree, "2" in the template'),
    (Resource("Logs", "AWS::Logs::LogGroup", {}, "Retain", "Retain"),
     Resource("Logs", "AWS::Logs::LogGroup", {}, "Snapshot", "Retain"), N,
     ["Attribute::DeletionPolicy"],
     'DeletionPolicy is "Retain" in the construct tree, "Snapshot" in the template'),
    # kept on deletion, deleted on replacement: still compared
    (Resource("Logs", "AWS::Logs::LogGroup", {}, "Snapshot", "Snapshot"),
     Resource("Logs", "AWS::Logs::LogGroup", {}, "Retain", "Delete"), N,
     ["Attribute::DeletionPolicy", "Attribute::UpdateReplacePolicy"],
     'DeletionPolicy is "Snapshot" in the construct tree, "Retain" in the template; '
     'UpdateReplacePolicy is "Snapshot" in the construct tree, "Delete" in the template'),
    (Resource("X", "AWS::Custom::Thing", {"Doc": "y" * 118}),  # 120 characters: shown whole
     Resource("X", "AWS::Custom::Thing", {"Doc": "short"}), N, ["Property::Doc"],
     'Doc is "' + "y" * 118 + '" in the construct tree, "short" in the template'),
    (Resource("X", "AWS::Custom::Thing", {"Doc": {"B": 1, "A": "x" * 200}}),
     Resource("X", "AWS::Custom::Thing", {"Doc": "short"}), N, ["Property::Doc"],
     'Doc is {"A": "' + "x" * 110 + '... in the construct tree, "short" in the template'),
    (Resource("Other", "AWS::RDS::DBInstance", {}), _instance(), N, ["Attribute::Resource"],
     "the resource is in the template but no construct of the tree renders it"),
]


@pytest.mark.parametrize(("construct", "template", "expected", "findings", "detail"),
                         CROSS_VIEW_CASES, ids=[f"{n}-{c[2].value}" for n, c in
                                                enumerate(CROSS_VIEW_CASES)])
def test_template_matches_constructs(construct: Resource, template: Resource,
                                     expected: Compliance, findings: list[str],
                                     detail: str) -> None:
    rule = escape_hatch.TEMPLATE_MATCHES_CONSTRUCTS
    view = _views(construct, template)
    results = rule.results(template, view)
    assert {r.compliance for r in results} == {expected}, results
    assert [r.finding for r in results if r.finding] == findings
    assert rule.evaluate(template, view).detail == detail


def test_template_matches_constructs_is_not_applicable_without_a_construct_view() -> None:
    rule = escape_hatch.TEMPLATE_MATCHES_CONSTRUCTS
    assert rule.evaluate(_instance(), stack(_instance())).compliance is NA


@pytest.mark.parametrize("changed", [
    {"MasterUserPassword": "s3cr3t-value"}, {"AuthToken": "s3cr3t-value"},
    {"SecretString": "s3cr3t-value"}, {"Credentials": {"Password": "s3cr3t-value"}},
    {"Users": [{"Name": "a", "Password": "s3cr3t-value"}]},
], ids=["password", "token", "secret string", "nested", "in a list"])
def test_a_secret_value_is_never_in_a_cross_view_finding(changed: dict[str, Any]) -> None:
    construct = Resource("X", "AWS::Custom::Thing", {})
    template = Resource("X", "AWS::Custom::Thing", changed)
    result = escape_hatch.TEMPLATE_MATCHES_CONSTRUCTS.evaluate(template,
                                                               _views(construct, template))
    assert result.compliance is N and "s3cr3t" not in result.detail
    assert "differs" in result.detail


def test_a_secret_value_only_in_the_construct_tree_is_not_shown_either() -> None:
    construct = Resource("X", "AWS::Custom::Thing", {"Credentials": {"Password": "s3cr3t-value"}})
    template = Resource("X", "AWS::Custom::Thing", {"Credentials": "none"})
    result = escape_hatch.TEMPLATE_MATCHES_CONSTRUCTS.evaluate(template,
                                                               _views(construct, template))
    assert result.detail == ("Credentials differs between the construct tree and the template "
                             "(value not shown)")


def test_a_property_only_named_like_a_secret_is_shown() -> None:
    construct = Resource("X", "AWS::SecretsManager::Secret",
                         {"GenerateSecretString": {"PasswordLength": 30}})
    template = Resource("X", "AWS::SecretsManager::Secret",
                        {"GenerateSecretString": {"PasswordLength": 8}})
    result = escape_hatch.TEMPLATE_MATCHES_CONSTRUCTS.evaluate(template,
                                                               _views(construct, template))
    assert result.detail == ("GenerateSecretString.PasswordLength is 30 in the construct tree, "
                             "8 in the template")


@pytest.mark.parametrize(("mine", "theirs", "paths"), [
    ({"A": 1}, {"A": 1}, []),
    ({"A": {"B": 1, "C": 2}}, {"A": {"B": 1, "C": 3}}, ["A.C"]),
    ({"A": [{"B": 1}, {"B": 2}]}, {"A": [{"B": 1}, {"B": 5}]}, ["A.1.B"]),
    ({"A": [1, 2]}, {"A": [1, 2, 3]}, ["A"]),  # a list that grew differs as a whole
    ({"A": {"Fn::GetAtt": ["K", "Arn"]}}, {"A": {"Fn::GetAtt": ["L", "Arn"]}}, ["A"]),
    ({"A": 1}, {"B": 1}, ["A", "B"]),
    ({"A": {"Ref": "K"}}, {"A": {"Ref": "L"}}, ["A"]),
    ({"A": {"Fn::GetAtt": ["K", "Arn"]}}, {"A": {"B": 1}}, ["A"]),
    ({"A": {"B": 1}}, {"A": {"Fn::GetAtt": ["K", "Arn"]}}, ["A"]),
    ({}, {"A": None}, ["A"]),
    ({"A": None}, {}, ["A"]),
    ([1, 2], [1, 3], ["1"]),
], ids=["equal", "nested map", "list item", "list length", "intrinsic", "key renamed", "ref",
        "intrinsic became a map", "map became an intrinsic", "null added", "null removed",
        "top-level list"])
def test_differences_name_the_deepest_path(mine: Any, theirs: Any, paths: list[str]) -> None:
    assert [path for path, _, _ in escape_hatch.differences(mine, theirs)] == paths


def test_a_property_of_an_unexpected_shape_fails_closed() -> None:
    """An override can give a property a shape no construct renders (CDK merges
    `SecurityGroupIngress.0.CidrIp` into a map): the rule cannot vouch for it."""
    group = res("Sg", "AWS::EC2::SecurityGroup",
                SecurityGroupIngress={"0": {"CidrIp": "0.0.0.0/0"}})
    result = network.NO_WORLD_INGRESS.evaluate(group, stack(group))
    assert result.compliance is N
    assert result.detail == ("cannot be checked: a property has an unexpected shape "
                             "(AttributeError: 'str' object has no attribute 'get')")


# --- a promoted writer (config/topology.json): its encryption follows the declared lineage --

def promoted(**overrides: Any) -> Resource:
    """A replica that a failover promoted: no source, no StorageEncrypted of its own."""
    props: dict[str, Any] = dict(
        DBInstanceIdentifier="db-replica-1", BackupRetentionPeriod=14, DeletionProtection=True,
        PubliclyAccessible=False, DBSubnetGroupName={"Ref": "SubnetGroup"},
        DBParameterGroupName={"Ref": "Params"})
    props.update(overrides)
    return res("Promoted", "AWS::RDS::DBInstance", "Retain",
               **{k: v for k, v in props.items() if v is not None})


def lineage(target: Resource, rule: Rule, path: str = "S/Key") -> tuple[Compliance, str]:
    view = StackView("S", {r.logical_id: r for r in (target, *support().values())},
                     settings=PolicySettings("test", 14, inherited_encryption=(
                         ("db-replica-1", path),)))
    link_stacks([view])
    result = rule.evaluate(target, view)
    return result.compliance, result.detail


@pytest.mark.parametrize(("target", "path", "expected", "detail"), [
    (promoted(), "S/Key", C, ""),                          # the lineage names a CMK of the app
    (promoted(KmsKeyId=KEY), "S/Key", C, ""),               # a promoted cross-region replica
    (promoted(), "S/Elsewhere", N, "a promoted writer whose declared lineage names the key "
                                   "S/Elsewhere, which is no KMS key of this app"),  # 1.
    (promoted(StorageEncrypted=False), "S/Key", N, "StorageEncrypted=False; must be true"),  # 2.
    (promoted(KmsKeyId="alias/aws/rds"), "S/Key", N,
     "KmsKeyId is 'alias/aws/rds', not a customer-managed key defined in this app"),  # 3.
    (promoted(DBInstanceIdentifier="undeclared"), "S/Key", N,
     "StorageEncrypted=None; must be true"),  # 4.
])
def test_storage_encrypted_cmk_follows_the_declared_lineage(
        target: Resource, path: str, expected: Compliance, detail: str) -> None:
    compliance, found = lineage(target, encryption.STORAGE_ENCRYPTED_CMK, path)
    assert (compliance, found) == (expected, detail)


def test_the_lineage_key_may_live_in_another_stack_of_the_app() -> None:
    writer = StackView("S", {r.logical_id: r for r in (promoted(), *support(Key=None).values())},
                       settings=PolicySettings("test", 14, inherited_encryption=(
                           ("db-replica-1", "K/Key"),)))
    keys = StackView("K", {"Key": dataclasses.replace(support()["Key"], path="K/Key")})
    link_stacks([writer, keys])
    result = encryption.STORAGE_ENCRYPTED_CMK.evaluate(writer.resources["Promoted"], writer)
    assert (result.compliance, result.detail) == (C, "")


@pytest.mark.parametrize(("target", "expected"), [
    (promoted(), C),  # keeps the master password of its source
    (promoted(DBInstanceIdentifier="undeclared"), N),  # 1. not declared: no password at all
    (promoted(MasterUserPassword="hunter2hunter2"), N),  # 2. a literal
])
def test_no_plaintext_password_on_a_promoted_writer(target: Resource,
                                                    expected: Compliance) -> None:
    assert lineage(target, credentials.NO_PLAINTEXT_PASSWORD)[0] is expected


@pytest.mark.parametrize(("rule", "target"), [
    (backups.BACKUP_RETENTION, promoted(BackupRetentionPeriod=None)),
    (backups.BACKUP_PLAN, promoted()),  # the support's selection names another instance
    (retention.DELETION_PROTECTION, promoted(DeletionProtection=False)),
])
def test_a_promoted_writer_is_still_held_to_what_a_writer_has(rule: Rule,
                                                              target: Resource) -> None:
    assert lineage(target, rule)[0] is N
