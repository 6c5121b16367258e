"""Each construct of `constructs_lib` on its own, in a bare `Stack` (not the app's stacks): its
secure defaults asserted on the template it synthesizes, and each validation error by its
message. One small app per construct kind, synthesized once per module."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Match, Template

from cloud_assembly.baseline import MIN_BACKUP_RETENTION_DAYS, MIN_LOG_RETENTION_DAYS
from cloud_assembly.rds import LOG_RETENTION_DAYS, tls_parameter
from constructs_lib.alarms import AlarmThresholds, DatabaseAlarms
from constructs_lib.backup import DatabaseBackupPlan
from constructs_lib.credentials import DatabaseCredentials
from constructs_lib.cross_region_replica import CrossRegionReplica
from constructs_lib.encryption import DatabaseKey
from constructs_lib.engine import EngineSpec
from constructs_lib.instances import InstanceSettings, PrimaryDatabase, ReadReplica
from constructs_lib.logs import InstanceLogGroups, retention_period
from constructs_lib.network import IsolatedNetwork
from constructs_lib.redundant_database import (
    DisasterRecoveryTarget,
    Member,
    Promoted,
    RedundantDatabase,
)
from constructs_lib.writer_endpoint import writer_endpoint_parameter

ROOT = Path(__file__).resolve().parents[1]
ENV = cdk.Environment(account="111122223333", region="eu-west-1")
DR_ENV = cdk.Environment(account="111122223333", region="eu-central-1")
MYSQL = EngineSpec(name="mysql", version="8.0.43")
POSTGRES = EngineSpec(name="postgres", version="16.10")


def _stack(env: cdk.Environment | None = None) -> cdk.Stack:
    """A bare stack in an app of its own, as app.py builds apps (no built-in validation)."""
    app = cdk.App(analytics_reporting=False, builtin_cloud_formation_validation=False)
    return cdk.Stack(app, "Bare", env=env)


def _vpc(stack: cdk.Stack) -> ec2.Vpc:
    return ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=0, subnet_configuration=[
        ec2.SubnetConfiguration(name="Db", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])


def _imported(stack: cdk.Stack, identifier: str) -> rds.IDatabaseInstance:
    return rds.DatabaseInstance.from_database_instance_attributes(
        stack, identifier, instance_identifier=identifier,
        instance_endpoint_address=f"{identifier}.invalid", port=3307, security_groups=[],
        engine=MYSQL.instance_engine)


def _props(template: Template, type_: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template.find_resources(type_).values()]


@dataclass(frozen=True)
class Scratch:
    """Scopes and objects the validation tests build into, shared: a refused construct adds
    nothing to its scope (each test checks), so one set serves them all."""

    stack: cdk.Stack
    dr: cdk.Stack
    vpc: ec2.IVpc
    dr_vpc: ec2.IVpc
    key: kms.IKey
    endpoint_sg: ec2.ISecurityGroup
    source: rds.IDatabaseInstance


@pytest.fixture(scope="module")
def scratch() -> Scratch:
    app = cdk.App(analytics_reporting=False, builtin_cloud_formation_validation=False)
    stack, dr = cdk.Stack(app, "Scratch", env=ENV), cdk.Stack(app, "ScratchDr", env=DR_ENV)
    vpc = _vpc(stack)
    return Scratch(stack, dr, vpc, _vpc(dr), kms.Key(stack, "Key"),
                   ec2.SecurityGroup(stack, "EndpointSg", vpc=vpc), _imported(stack, "db"))


def _refused(scope: cdk.Stack, message: str, build: Callable[[], object]) -> None:
    """`build()` raises a ValueError matching `message` before adding anything to `scope`."""
    before = len(scope.node.children)
    with pytest.raises(ValueError, match=message):
        build()
    assert len(scope.node.children) == before, "refused only after building part of it"


def test_constructs_lib_imports_nothing_from_config() -> None:
    imported = set()
    for path in (ROOT / "constructs_lib").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add((path.name, node.module.split(".")[0]))
            elif isinstance(node, ast.Import):
                imported |= {(path.name, alias.name.split(".")[0]) for alias in node.names}
    assert imported and not {(f, m) for f, m in imported if m in ("config", "stacks")}


# --- EngineSpec and log retentions ---------------------------------------------------------

@pytest.mark.parametrize("engine", [MYSQL, POSTGRES, EngineSpec(name="mariadb",
                                                                 version="10.11.9")])
def test_engine_tls_parameter_is_the_one_the_gate_reads(engine: EngineSpec) -> None:
    tls = tls_parameter(engine.name)
    assert engine.tls_parameters == {tls.name: tls.value}
    assert tls.enforced_by(engine.tls_parameters[tls.name])


@pytest.mark.parametrize(("props", "message"), [
    (dict(name="oracle", version="19"), "EngineSpec: name='oracle': one of mysql, mariadb, "
                                        "postgres"),
    (dict(name="mysql", version="8.0"), "EngineSpec: version='8.0': a full mysql version"),
    (dict(name="postgres", version="16.99"), "version='16.99': a full postgres version"),
])
def test_fails_on_bad_engine(props: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        EngineSpec(**props)


def test_retention_period_is_cdks_member_for_each_allowed_value() -> None:
    assert retention_period(365) is logs.RetentionDays.ONE_YEAR
    assert retention_period(3653) is logs.RetentionDays.TEN_YEARS
    assert retention_period(1) is logs.RetentionDays.ONE_DAY
    assert len({retention_period(days) for days in LOG_RETENTION_DAYS}) == len(LOG_RETENTION_DAYS)


@pytest.mark.parametrize("days", [0, 2, 364, 9999])
def test_fails_on_a_retention_cloudwatch_logs_refuses(days: int) -> None:
    with pytest.raises(ValueError, match=rf"retention_period: days={days}: one of 1, 3, 5"):
        retention_period(days)


# --- InstanceLogGroups -------------------------------------------------------------------

@pytest.fixture(scope="module")
def log_groups() -> Template:
    stack = _stack()
    key = kms.Key(stack, "Key")
    InstanceLogGroups(stack, "Logs", instance_identifier="db-primary",
                      log_types=("audit", "error"), key=key)
    InstanceLogGroups(stack, "LongLogs", instance_identifier="db-replica-1", log_types=("error",),
                      key=key, retention_days=731)
    return Template.from_stack(stack)


def test_log_groups_encrypted_retained_a_year_by_default(log_groups: Template) -> None:
    log_groups.resource_count_is("AWS::Logs::LogGroup", 3)
    for log in ("audit", "error"):
        log_groups.has_resource("AWS::Logs::LogGroup", {
            "Properties": {"LogGroupName": f"/aws/rds/instance/db-primary/{log}",
                           "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]},
                           "RetentionInDays": MIN_LOG_RETENTION_DAYS},
            "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    log_groups.has_resource_properties("AWS::Logs::LogGroup", {
        "LogGroupName": "/aws/rds/instance/db-replica-1/error", "RetentionInDays": 731})


@pytest.mark.parametrize(("props", "message"), [
    (dict(retention_days=30), "InstanceLogGroups: retention_days=30: at least 365 days"),
    (dict(retention_days=42), "InstanceLogGroups: retention_days=42: a CloudWatch Logs "
                              "retention in days: 1, 3, 5"),
    (dict(instance_identifier="db_primary"), "instance_identifier='db_primary': 1 to 63 "
                                             "letters, digits or hyphens"),
])
def test_fails_on_bad_log_groups(scratch: Scratch, props: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = dict(instance_identifier="db", log_types=("error",),
                                key=scratch.key) | props
    _refused(scratch.stack, message, lambda: InstanceLogGroups(scratch.stack, "Logs", **args))


# --- DatabaseKey -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def key() -> Template:
    stack = _stack(ENV)
    DatabaseKey(stack, "Key", alias="alias/app-database", description="app: storage")
    return Template.from_stack(stack)


def test_key_rotates_yearly_and_is_retained(key: Template) -> None:
    key.resource_count_is("AWS::KMS::Key", 1)
    key.has_resource("AWS::KMS::Key", {
        "Properties": {"EnableKeyRotation": True, "RotationPeriodInDays": 365,
                       "PendingWindowInDays": 30, "Description": "app: storage"},
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})
    key.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/app-database"})


def test_key_policy_grants_only_for_aws_resources_and_lets_logs_and_alarms_in(
        key: Template) -> None:
    statements = _props(key, "AWS::KMS::Key")[0]["KeyPolicy"]["Statement"]
    by_sid = {s.get("Sid"): s for s in statements}
    deny = by_sid["DenyGrantsExceptForAwsServices"]
    assert (deny["Effect"], deny["Action"]) == ("Deny", "kms:CreateGrant")
    assert by_sid["AllowCloudWatchLogsOfThisAccount"]["Principal"] == {
        "Service": "logs.eu-west-1.amazonaws.com"}
    assert by_sid["AllowCloudWatchAlarmsToPublish"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "111122223333"}}


@pytest.mark.parametrize("alias", ["app-database", "alias/aws/rds", "alias/", "alias/a b"])
def test_fails_on_bad_key_alias(scratch: Scratch, alias: str) -> None:
    _refused(scratch.stack, f"DatabaseKey: alias='{alias}': 'alias/' then",
             lambda: DatabaseKey(scratch.stack, "DbKey", alias=alias, description="d"))


# --- DatabaseCredentials -----------------------------------------------------------------

@pytest.fixture(scope="module")
def credentials() -> Template:
    stack = _stack(ENV)
    DatabaseCredentials(stack, "Credentials", username="dbadmin", key=kms.Key(stack, "Key"),
                        replica_regions={"eu-central-1": kms.Key(stack, "DrKey")})
    return Template.from_stack(stack)


def test_credentials_are_a_generated_retained_encrypted_secret(credentials: Template) -> None:
    credentials.resource_count_is("AWS::SecretsManager::Secret", 1)
    credentials.has_resource("AWS::SecretsManager::Secret", {
        "Properties": {
            "GenerateSecretString": Match.object_like({
                "GenerateStringKey": "password", "PasswordLength": 30,
                "SecretStringTemplate": '{"username":"dbadmin"}'}),
            "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]},
            "ReplicaRegions": [{"Region": "eu-central-1", "KmsKeyId": {
                "Fn::GetAtt": [Match.string_like_regexp("^DrKey"), "Arn"]}}],
            "SecretString": Match.absent()},
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})


@pytest.mark.parametrize("username", ["1admin", "db-admin", "a" * 17, ""])
def test_fails_on_bad_username(scratch: Scratch, username: str) -> None:
    _refused(scratch.stack, f"DatabaseCredentials: username='{username}': a letter",
             lambda: DatabaseCredentials(scratch.stack, "Credentials", username=username,
                                         key=scratch.key))


# --- IsolatedNetwork ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def network() -> Template:
    stack = _stack(ENV)
    IsolatedNetwork(stack, "Network", cidr="10.50.0.0/16",
                    availability_zones=("eu-west-1a", "eu-west-1b"))
    return Template.from_stack(stack)


def test_network_is_isolated_in_two_azs(network: Template) -> None:
    network.has_resource_properties("AWS::EC2::VPC", {"CidrBlock": "10.50.0.0/16"})
    subnets = _props(network, "AWS::EC2::Subnet")
    assert {s["AvailabilityZone"] for s in subnets} == {"eu-west-1a", "eu-west-1b"}
    assert all(s["MapPublicIpOnLaunch"] is False for s in subnets)
    for absent in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::Route"):
        network.resource_count_is(absent, 0)
    network.resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def test_network_flow_logs_to_an_encrypted_group_kept_a_year(network: Template) -> None:
    network.has_resource_properties("AWS::EC2::FlowLog", {
        "ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})
    network.has_resource("AWS::Logs::LogGroup", {
        "Properties": {"RetentionInDays": MIN_LOG_RETENTION_DAYS,
                       "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("FlowLogKey"),
                                                   "Arn"]}},
        "DeletionPolicy": "Retain"})
    network.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    network.resource_count_is("AWS::IAM::Policy", 0)  # the delivery role has no inline policy


def test_network_secrets_manager_endpoint_admits_no_one_and_serves_no_secret_by_itself(
        network: Template) -> None:
    network.has_resource_properties("AWS::EC2::VPCEndpoint", {
        "ServiceName": "com.amazonaws.eu-west-1.secretsmanager", "PrivateDnsEnabled": True,
        "PolicyDocument": {"Statement": [{
            "Action": "secretsmanager:GetRandomPassword", "Effect": "Allow",
            "Principal": {"AWS": "*"}, "Resource": "*"}], "Version": "2012-10-17"}})
    network.has_resource_properties("AWS::EC2::SecurityGroup", {
        "GroupDescription": Match.string_like_regexp("Interface endpoints"),
        "SecurityGroupIngress": Match.absent()})
    network.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)


def test_network_endpoint_admits_groups_from_the_stacks_deployed_after_it() -> None:
    app = cdk.App(analytics_reporting=False, builtin_cloud_formation_validation=False)
    first, later = cdk.Stack(app, "Network", env=ENV), cdk.Stack(app, "Users", env=ENV)
    network = IsolatedNetwork(first, "Network", cidr="10.50.0.0/16",
                              availability_zones=("eu-west-1a", "eu-west-1b"))
    group = ec2.SecurityGroup(later, "Clients", vpc=network.vpc)
    secret = DatabaseCredentials(later, "Credentials", username="dbadmin",
                                 key=kms.Key(later, "Key")).secret
    network.admit_to_endpoints(group, description="Application clients")
    network.allow_secret(secret)
    users, net = Template.from_stack(later), Template.from_stack(first)
    users.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Description": "Application clients",
        "SourceSecurityGroupId": {"Fn::GetAtt": [Match.string_like_regexp("Clients"),
                                                 "GroupId"]}})
    net.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)
    secret_id = later.resolve(cast(cdk.CfnResource, secret.node.default_child).logical_id)
    net.has_resource_properties("AWS::EC2::VPCEndpoint", {"PolicyDocument": {"Statement": [
        Match.object_like({"Action": "secretsmanager:GetRandomPassword"}),
        Match.object_like({"Action": "secretsmanager:*", "Resource": {"Fn::Join": ["", [
            "arn:", {"Ref": "AWS::Partition"},
            f":secretsmanager:eu-west-1:111122223333:secret:{secret_id}-*"]]}})]}})
    # The network deploys first: it never depends on the stacks that use it.
    assert "Users" not in {d.id for d in app.synth().get_stack_by_name("Network").dependencies}


def test_network_endpoint_names_a_named_secret_by_its_name() -> None:
    stack = _stack(ENV)
    network = IsolatedNetwork(stack, "Network", cidr="10.50.0.0/16")
    network.allow_secret(secretsmanager.Secret(stack, "Named", secret_name="app/db"))
    (endpoint,) = Template.from_stack(stack).find_resources("AWS::EC2::VPCEndpoint").values()
    resource = endpoint["Properties"]["PolicyDocument"]["Statement"][1]["Resource"]
    assert resource["Fn::Join"][1][-1].endswith(":secret:app/db-??????")


def test_fails_to_allow_a_secret_whose_name_is_not_known_at_synth() -> None:
    stack = _stack(ENV)
    network = IsolatedNetwork(stack, "Network", cidr="10.50.0.0/16")
    secret = secretsmanager.Secret(stack, "Tokened", secret_name=cdk.Fn.ref("AWS::StackName"))
    with pytest.raises(ValueError, match=r"IsolatedNetwork: allow_secret=\{'Ref': "
                                         r"'AWS::StackName'\}: a secret with a literal Name"):
        network.allow_secret(secret)


@pytest.mark.parametrize(("props", "message"), [
    (dict(cidr="10.0.0.0/8"), "IsolatedNetwork: cidr='10.0.0.0/8': a literal IPv4 network "
                              "from /16 to /23"),
    (dict(cidr="10.0.0.0/24"), "cidr='10.0.0.0/24': a literal IPv4 network"),
    (dict(cidr="10.0.0.1/16"), "cidr='10.0.0.1/16'"),
    (dict(cidr="ten"), "cidr='ten'"),
    (dict(availability_zones=("eu-west-1a", "eu-west-1a")), "availability_zones=\\('eu-west-1a'"
                                                            ", 'eu-west-1a'\\): at least two"),
    (dict(max_azs=1), "IsolatedNetwork: max_azs=1: at least 2"),
    (dict(flow_log_retention_days=90), "flow_log_retention_days=90: at least 365 days"),
])
def test_fails_on_bad_network(scratch: Scratch, props: dict[str, Any], message: str) -> None:
    _refused(scratch.stack, message, lambda: IsolatedNetwork(
        scratch.stack, "Network", **({"cidr": "10.50.0.0/16"} | props)))


# --- InstanceSettings --------------------------------------------------------------------

def test_instance_settings_defaults_are_the_secure_choice() -> None:
    s = InstanceSettings(engine=MYSQL, port=3307)
    assert s.multi_az is True
    assert s.backup_retention.to_days() == 14 >= MIN_BACKUP_RETENTION_DAYS
    assert s.log_retention_days == MIN_LOG_RETENTION_DAYS
    assert s.removal_policy == cdk.RemovalPolicy.SNAPSHOT
    assert s.monitoring_interval.to_seconds() == 60
    assert s.performance_insights is True


@pytest.mark.parametrize(("props", "message"), [
    (dict(backup_retention=cdk.Duration.days(3)),
     "InstanceSettings: backup_retention=3 days: whole days from 7 to 35"),
    (dict(backup_retention=cdk.Duration.days(0)), "backup_retention=0 days: whole days from 7"),
    (dict(backup_retention=cdk.Duration.days(36)), "backup_retention=36 days: whole days"),
    (dict(backup_retention=cdk.Duration.hours(200)),
     "backup_retention=8 days 8 hours: whole days"),
    (dict(log_retention_days=42), "log_retention_days=42: a CloudWatch Logs retention"),
    (dict(log_retention_days=180), "log_retention_days=180: at least 365 days"),
    (dict(removal_policy=cdk.RemovalPolicy.DESTROY),
     "removal_policy=RemovalPolicy.DESTROY: RemovalPolicy.SNAPSHOT or RemovalPolicy.RETAIN"),
    (dict(port=80), "InstanceSettings: port=80: from 1150 to 65535"),
    (dict(monitoring_interval=cdk.Duration.seconds(0)),
     "monitoring_interval=0 seconds: at least 1 second"),
    (dict(max_allocated_storage_gib=20), "max_allocated_storage_gib=20: from 21 to 65536"),
    (dict(replica_engine=POSTGRES), "InstanceSettings: replica_engine='postgres': the writer's "
                                    "engine mysql"),
    (dict(replica_engine=EngineSpec(name="mysql", version="8.0.42")),
     "replica_engine='8.0.42': older than the writer's 8.0.43: a read replica never runs an "
     "older version than its source"),
    (dict(engine=EngineSpec(name="mariadb", version="11.4.10"), extended_support=True),
     "InstanceSettings: extended_support=True: False: RDS offers no Extended Support for "
     "mariadb"),
    (dict(logical_replication=True),
     "InstanceSettings: logical_replication=True: False: rds.logical_replication is a "
     "PostgreSQL parameter, not mysql's"),
])
def test_fails_on_bad_instance_settings(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InstanceSettings(**({"engine": MYSQL, "port": 3307} | props))


def test_fails_on_replicas_of_another_postgres_major_version() -> None:
    with pytest.raises(ValueError, match=r"InstanceSettings: replica_engine='17.9': PostgreSQL 17 "
                                         r"beside a writer of PostgreSQL 16: RDS upgrades"):
        InstanceSettings(engine=POSTGRES, port=5433,
                         replica_engine=EngineSpec(name="postgres", version="17.9"))


@pytest.mark.parametrize(("settings", "replicas", "lifecycle"), [
    (InstanceSettings(engine=MYSQL, port=3307), MYSQL,
     rds.EngineLifecycleSupport.OPEN_SOURCE_RDS_EXTENDED_SUPPORT_DISABLED),
    (InstanceSettings(engine=MYSQL, port=3307, extended_support=True,
                      replica_engine=EngineSpec(name="mysql", version="8.4.10")),
     EngineSpec(name="mysql", version="8.4.10"),
     rds.EngineLifecycleSupport.OPEN_SOURCE_RDS_EXTENDED_SUPPORT),
    (InstanceSettings(engine=EngineSpec(name="mariadb", version="11.4.10"), port=3307),
     EngineSpec(name="mariadb", version="11.4.10"), None),
], ids=["standard-only", "extended-and-staged", "mariadb"])
def test_instance_settings_give_the_replicas_version_and_the_lifecycle(
        settings: InstanceSettings, replicas: EngineSpec,
        lifecycle: rds.EngineLifecycleSupport | None) -> None:
    assert settings.replica_engine_spec == replicas
    assert settings.lifecycle_support == lifecycle


# --- PrimaryDatabase and ReadReplica -----------------------------------------------------

@pytest.fixture(scope="module")
def instances() -> tuple[Template, Template]:
    """A MySQL primary with a same-region replica; a cross-region replica of it in another
    region's stack (one app, two stacks)."""
    app = cdk.App(analytics_reporting=False, builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Primary", env=ENV)
    vpc, key = _vpc(stack), kms.Key(stack, "Key")
    settings = InstanceSettings(engine=MYSQL, port=3307, log_exports=("audit", "error"))
    primary = PrimaryDatabase(
        stack, "Primary", settings=settings, vpc=vpc, key=key, identifier="db-primary",
        instance_type=ec2.InstanceType("r6g.large"), database_name="app",
        credentials=rds.Credentials.from_generated_secret("dbadmin"))
    ReadReplica(stack, "Replica", settings=settings, vpc=vpc, key=key, source=primary.instance,
                identifier="db-replica-1", instance_type=ec2.InstanceType("r6g.large"))
    dr = cdk.Stack(app, "Dr", env=DR_ENV)
    ReadReplica(dr, "Replica", settings=settings, vpc=_vpc(dr), key=kms.Key(dr, "Key"),
                source=_imported(dr, "db-primary"), identifier="db-dr-replica",
                instance_type=ec2.InstanceType("r6g.large"), source_region="eu-west-1")
    return Template.from_stack(stack), Template.from_stack(dr)


def _instance(template: Template, *, replica: bool) -> dict[str, Any]:
    found = [r for r in template.find_resources("AWS::RDS::DBInstance").values()
             if ("SourceDBInstanceIdentifier" in r["Properties"]) is replica]
    assert len(found) == 1
    return found[0]


def test_primary_is_encrypted_protected_private_and_backed_up(
        instances: tuple[Template, Template]) -> None:
    t = instances[0]
    t.resource_count_is("AWS::RDS::DBInstance", 2)
    t.has_resource("AWS::RDS::DBInstance", {
        "Properties": Match.object_like({
            "DBInstanceIdentifier": "db-primary", "StorageEncrypted": True,
            "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]},
            "MultiAZ": True, "PubliclyAccessible": False, "DeletionProtection": True,
            "EnableIAMDatabaseAuthentication": True, "AutoMinorVersionUpgrade": True,
            "CopyTagsToSnapshot": True, "StorageType": "gp3", "BackupRetentionPeriod": 14,
            "DeleteAutomatedBackups": False, "MaxAllocatedStorage": 200,
            "AllocatedStorage": "50", "Port": "3307", "MonitoringInterval": 60,
            "EnablePerformanceInsights": True, "CACertificateIdentifier": "rds-ca-rsa2048-g1",
            "EnableCloudwatchLogsExports": ["audit", "error"]}),
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Snapshot"})


def test_every_instance_requires_tls_and_has_its_own_groups(
        instances: tuple[Template, Template]) -> None:
    t = instances[0]
    tls = tls_parameter("mysql")
    groups = t.find_resources("AWS::RDS::DBParameterGroup")
    assert len(groups) == 2
    assert all(g["Properties"]["Parameters"][tls.name] == tls.value for g in groups.values())
    t.resource_count_is("AWS::RDS::DBSubnetGroup", 2)
    for replica in (False, True):
        props = _instance(t, replica=replica)["Properties"]
        assert props["DBParameterGroupName"]["Ref"] in groups
    sgs = _props(t, "AWS::EC2::SecurityGroup")
    assert len(sgs) == 2 and all(sg["SecurityGroupEgress"][0]["CidrIp"] == "255.255.255.255/32"
                                 for sg in sgs)  # CDK's "no egress" placeholder
    t.resource_count_is("AWS::EC2::SecurityGroupIngress", 0)  # admits nobody until told to


def test_instances_depend_on_their_log_groups(instances: tuple[Template, Template]) -> None:
    t = instances[0]
    groups = t.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 4
    for replica in (False, True):
        resource = _instance(t, replica=replica)
        assert sum(g in resource["DependsOn"] for g in groups) == 2
    t.resource_count_is("AWS::RDS::OptionGroup", 2)  # the audit plugin, per instance


def test_same_region_replica_inherits_encryption(instances: tuple[Template, Template]) -> None:
    props = _instance(instances[0], replica=True)["Properties"]
    assert props["DBInstanceIdentifier"] == "db-replica-1"
    for forbidden in ("StorageEncrypted", "KmsKeyId", "MasterUsername", "DBName", "Engine",
                      "SourceRegion"):
        assert forbidden not in props, forbidden
    assert props["MultiAZ"] is True and props["DeletionProtection"] is True
    assert props["BackupRetentionPeriod"] == 14  # MySQL replicas keep backups


def test_cross_region_replica_names_its_source_by_arn_and_region(
        instances: tuple[Template, Template]) -> None:
    t = instances[1]
    props = _instance(t, replica=True)["Properties"]
    assert props["SourceRegion"] == "eu-west-1"
    assert props["SourceDBInstanceIdentifier"] == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":rds:eu-west-1:111122223333:db:db-primary"]]}
    assert props["KmsKeyId"]["Fn::GetAtt"][0].startswith("Key")  # the replica region's key
    assert "StorageEncrypted" not in props


@pytest.mark.parametrize(("kind", "props", "message"), [
    ("primary", dict(identifier="1db"), "PrimaryDatabase: identifier='1db': 1 to 63 letters"),
    ("primary", dict(identifier="db--primary"), "identifier='db--primary'"),
    ("primary", dict(identifier="db-"), "identifier='db-'"),
    ("primary", dict(identifier="d" * 64), "identifier='d{64}'"),
    ("primary", dict(allocated_storage_gib=200),
     "PrimaryDatabase: allocated_storage_gib=200: from 20 to 199"),
    ("primary", dict(allocated_storage_gib=10), "allocated_storage_gib=10: from 20"),
    ("replica", dict(identifier="db_replica"), "ReadReplica: identifier='db_replica'"),
    ("replica", dict(source_region="eu-west-1"), "ReadReplica: source_region='eu-west-1': a "
                                                 "region other than this stack's"),
])
def test_fails_on_bad_instance(scratch: Scratch, kind: str, props: dict[str, Any],
                               message: str) -> None:
    common: dict[str, Any] = dict(settings=InstanceSettings(engine=MYSQL, port=3307),
                                  vpc=scratch.vpc, key=scratch.key,
                                  instance_type=ec2.InstanceType("t4g.medium"))
    if kind == "primary":
        args = common | dict(identifier="db", database_name="app",
                             credentials=rds.Credentials.from_generated_secret("dbadmin"))
        _refused(scratch.stack, message,
                 lambda: PrimaryDatabase(scratch.stack, "Db", **(args | props)))
    else:
        args = common | dict(identifier="db-replica", source=scratch.source)
        _refused(scratch.stack, message,
                 lambda: ReadReplica(scratch.stack, "Db", **(args | props)))


# --- DatabaseBackupPlan ------------------------------------------------------------------

@pytest.fixture(scope="module")
def backup_plan() -> Template:
    stack = _stack(ENV)
    DatabaseBackupPlan(stack, "Backup", database=_imported(stack, "db-primary"),
                       key=kms.Key(stack, "Key"))
    return Template.from_stack(stack)


def test_backup_vault_is_encrypted_retained_and_locked(backup_plan: Template) -> None:
    backup_plan.has_resource("AWS::Backup::BackupVault", {
        "Properties": Match.object_like({
            "EncryptionKeyArn": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]},
            "AccessPolicy": {"Version": "2012-10-17", "Statement": [Match.object_like({
                "Effect": "Deny", "Action": Match.array_with(["backup:DeleteRecoveryPoint"])})]}}),
        "DeletionPolicy": "Retain"})


def test_backup_plan_daily_and_monthly_without_copies_by_default(backup_plan: Template) -> None:
    plan = _props(backup_plan, "AWS::Backup::BackupPlan")[0]["BackupPlan"]
    rules = {r["RuleName"]: r for r in plan["BackupPlanRule"]}
    assert rules["Daily"]["Lifecycle"] == {"DeleteAfterDays": 35}
    assert rules["Monthly"]["Lifecycle"] == {"DeleteAfterDays": 365,
                                             "MoveToColdStorageAfterDays": 30}
    assert all("CopyActions" not in r for r in rules.values())
    backup_plan.has_resource_properties("AWS::Backup::BackupSelection", {
        "BackupSelection": Match.object_like({"Resources": [Match.object_like({
            "Fn::Join": ["", Match.array_with([":rds:eu-west-1:111122223333:db:db-primary"])]})]})})


@pytest.mark.parametrize(("props", "message"), [
    (dict(daily_retention=cdk.Duration.days(3)),
     "DatabaseBackupPlan: daily_retention=3 days: whole days of at least 7"),
    (dict(monthly_retention=cdk.Duration.days(100)),
     "monthly_retention=100 days: whole days of at least 120 \\(30 days warm"),
    (dict(daily_retention=cdk.Duration.hours(180)), "daily_retention=7 days 12 hours: whole"),
])
def test_fails_on_bad_backup_plan(scratch: Scratch, props: dict[str, Any],
                                  message: str) -> None:
    _refused(scratch.stack, message, lambda: DatabaseBackupPlan(
        scratch.stack, "Backup", database=scratch.source, key=scratch.key, **props))


# --- DatabaseAlarms ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def alarms() -> Template:
    stack = _stack(ENV)
    DatabaseAlarms(stack, "Alarms", primary=_imported(stack, "db-primary"),
                   replicas=[("Replica1", _imported(stack, "db-replica-1"))],
                   key=kms.Key(stack, "Key"), allocated_storage_gib=100)
    return Template.from_stack(stack)


def test_alarms_notify_an_encrypted_tls_only_topic(alarms: Template) -> None:
    alarms.has_resource_properties("AWS::SNS::Topic", {
        "KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]}})
    alarms.has_resource_properties("AWS::SNS::TopicPolicy", {"PolicyDocument": Match.object_like({
        "Statement": [Match.object_like({"Effect": "Deny", "Condition": {
            "Bool": {"aws:SecureTransport": "false"}}})]})})
    alarms.resource_count_is("AWS::CloudWatch::Alarm", 4)
    topic = {"Ref": Match.string_like_regexp("^AlarmsTopic")}
    for alarm in _props(alarms, "AWS::CloudWatch::Alarm"):
        assert alarm["EvaluationPeriods"] == 3 and alarm["Period"] == 300
        assert len(alarm["AlarmActions"]) == len(alarm["OKActions"]) == 1
    alarms.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmActions": [topic], "OKActions": [topic]})


def test_alarm_thresholds_by_default(alarms: Template) -> None:
    by_metric = {a["MetricName"]: a for a in _props(alarms, "AWS::CloudWatch::Alarm")}
    assert by_metric["CPUUtilization"]["Threshold"] == 80
    assert by_metric["DatabaseConnections"]["Threshold"] == 500
    assert by_metric["FreeStorageSpace"]["Threshold"] == 10 * 2**30  # 10% of 100 GiB
    assert by_metric["FreeStorageSpace"]["TreatMissingData"] == "breaching"
    lag = by_metric["ReplicaLag"]
    assert (lag["Threshold"], lag["Statistic"], lag["TreatMissingData"]) == (
        300, "Maximum", "breaching")
    assert lag["AlarmDescription"] == \
        "Replica1 more than 300s behind the primary for 15 minutes"


@pytest.mark.parametrize(("props", "message"), [
    (dict(cpu_percent=0), "AlarmThresholds: cpu_percent=0: from 1 to 100"),
    (dict(cpu_percent=101), "AlarmThresholds: cpu_percent=101: from 1 to 100"),
    (dict(free_storage_percent=100), "free_storage_percent=100: from 1 to 99"),
    (dict(replica_lag_seconds=0), "replica_lag_seconds=0: from 1"),
    (dict(connections=0), "connections=0: from 1"),
])
def test_fails_on_bad_alarm_thresholds(props: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AlarmThresholds(**props)


# --- writer endpoint parameter -----------------------------------------------------------

@pytest.mark.parametrize("name", ["writer-endpoint", "/app/", "/app//x", "/app/writer endpoint"])
def test_fails_on_bad_writer_endpoint_parameter_name(scratch: Scratch, name: str) -> None:
    _refused(scratch.stack, f"parameter_name='{name}': a literal hierarchical",
             lambda: writer_endpoint_parameter(scratch.stack, "WriterEndpoint",
                                               parameter_name=name, endpoint="db:3307",
                                               description="d"))


# --- RedundantDatabase -------------------------------------------------------------------

def _redundant(stack: cdk.Stack, vpc: ec2.IVpc, key: kms.IKey, endpoint_sg: ec2.ISecurityGroup,
               **props: Any) -> RedundantDatabase:
    args: dict[str, Any] = dict(
        settings=InstanceSettings(engine=POSTGRES, port=5433, log_exports=("postgresql",)),
        vpc=vpc, key=key, endpoint_security_group=endpoint_sg,
        writer=Member(construct_id="Primary", identifier="app-primary"),
        replicas=[Member(construct_id=f"Replica{n}", identifier=f"app-replica-{n}")
                  for n in (1, 2)],
        instance_type=ec2.InstanceType("t4g.large"), database_name="app",
        writer_endpoint_parameter_name="/app/writer-endpoint")
    return RedundantDatabase(stack, "Database", **(args | props))


def _redundant_in(stack: cdk.Stack, **props: Any) -> RedundantDatabase:
    vpc = _vpc(stack)
    return _redundant(stack, vpc, kms.Key(stack, "Key"),
                      ec2.SecurityGroup(stack, "EndpointSg", vpc=vpc, allow_all_outbound=False),
                      **props)


@pytest.fixture(scope="module")
def redundant() -> Template:
    stack = _stack(ENV)
    _redundant_in(stack)
    return Template.from_stack(stack)


def test_redundant_database_primary_and_replicas(redundant: Template) -> None:
    instances = redundant.find_resources("AWS::RDS::DBInstance")
    assert len(instances) == 3
    replicas = [r["Properties"] for r in instances.values()
                if "SourceDBInstanceIdentifier" in r["Properties"]]
    assert sorted(r["DBInstanceIdentifier"] for r in replicas) == ["app-replica-1",
                                                                  "app-replica-2"]
    assert all("BackupRetentionPeriod" not in r for r in replicas)  # PostgreSQL replicas
    tls = tls_parameter("postgres")
    for group in _props(redundant, "AWS::RDS::DBParameterGroup"):
        assert group["Parameters"][tls.name] == tls.value
    redundant.resource_properties_count_is("AWS::IAM::Role", {  # one for all three instances
        "AssumeRolePolicyDocument": Match.object_like({"Statement": [Match.object_like({
            "Principal": {"Service": "monitoring.rds.amazonaws.com"}})]})}, 1)


def test_redundant_database_secret_rotated_in_the_vpc(redundant: Template) -> None:
    redundant.resource_count_is("AWS::SecretsManager::Secret", 1)
    redundant.has_resource_properties("AWS::SecretsManager::RotationSchedule", {
        "RotationRules": {"ScheduleExpression": "rate(30 days)"},
        "HostedRotationLambda": Match.object_like({"RotationType": "PostgreSQLSingleUser",
                                                   "VpcSecurityGroupIds": Match.any_value()})})
    redundant.has_resource_properties("AWS::SSM::Parameter", {
        "Name": "/app/writer-endpoint", "Type": "String",
        "Value": {"Fn::Join": ["", [Match.any_value(), ":5433"]]}})


def test_redundant_database_admits_clients_and_rotation_only(redundant: Template) -> None:
    ingress = _props(redundant, "AWS::EC2::SecurityGroupIngress")
    assert len(ingress) == 2 * 3
    assert {i["Description"] for i in ingress} == {"Application clients",
                                                   "Secret rotation function"}
    assert all(i["FromPort"] == i["ToPort"] == 5433 for i in ingress)
    groups = redundant.find_resources("AWS::EC2::SecurityGroup")
    clients = next(g["Properties"] for g in groups.values()
                   if g["Properties"]["GroupDescription"].startswith("Attach to the application"))
    assert [e["Description"] for e in clients["SecurityGroupEgress"]] == [
        "To app-primary", "To app-replica-1", "To app-replica-2"]
    assert all(e["FromPort"] == 5433 and "DestinationSecurityGroupId" in e
               for e in clients["SecurityGroupEgress"])


def test_redundant_database_backups_and_alarms_without_dr(redundant: Template) -> None:
    redundant.resource_count_is("AWS::Backup::BackupPlan", 1)
    redundant.resource_count_is("AWS::CloudWatch::Alarm", 3 + 2)
    primary = _instance(redundant, replica=False)["Properties"]
    assert "AutomaticBackupReplicationRegion" not in primary
    secret = _props(redundant, "AWS::SecretsManager::Secret")[0]
    assert "ReplicaRegions" not in secret


def test_redundant_database_with_disaster_recovery() -> None:
    stack = _stack(ENV)
    _redundant_in(stack, disaster_recovery=DisasterRecoveryTarget(
        region="eu-central-1", vault_arn="arn:aws:backup:eu-central-1:111122223333:"
        "backup-vault:dr", key_arn="arn:aws:kms:eu-central-1:111122223333:key/dr"))
    t = Template.from_stack(stack)
    t.has_resource_properties("AWS::RDS::DBInstance", {
        "AutomaticBackupReplicationRegion": "eu-central-1",
        "AutomaticBackupReplicationKmsKeyId": "arn:aws:kms:eu-central-1:111122223333:key/dr",
        "AutomaticBackupReplicationRetentionPeriod": 14})
    t.has_resource_properties("AWS::SecretsManager::Secret", {"ReplicaRegions": [{
        "Region": "eu-central-1", "KmsKeyId": "arn:aws:kms:eu-central-1:111122223333:key/dr"}]})
    plan = _props(t, "AWS::Backup::BackupPlan")[0]["BackupPlan"]
    assert all(r["CopyActions"][0]["DestinationBackupVaultArn"] ==
               "arn:aws:backup:eu-central-1:111122223333:backup-vault:dr"
               for r in plan["BackupPlanRule"])


def _replicas(*identifiers: str) -> list[Member]:
    return [Member(construct_id=f"R{n}", identifier=i) for n, i in enumerate(identifiers)]


@pytest.mark.parametrize(("props", "message"), [
    (dict(replicas=[]), "RedundantDatabase: replicas=\\[\\]: at least one read replica"),
    (dict(replicas=_replicas("app-replica-1", "App-Replica-1")),
     "replicas='App-Replica-1': each identifier once"),
    (dict(replicas=_replicas("app-primary")), "replicas='app-primary': each"),
    (dict(writer=Member(construct_id="Primary", identifier="app_primary")),
     "writer='app_primary': 1 to 63"),
    (dict(replicas=[Member(construct_id="Primary", identifier="app-replica-1")]),
     "construct ids='Primary': each member at a construct id of its own"),
    (dict(writer=Promoted(construct_id="Replica1", identifier="app-replica-1",
                          source_identifier="-"), replicas=_replicas("app-replica-2")),
     "writer.source_identifier='-': 1 to 63"),
    (dict(allocated_storage_gib=500), "RedundantDatabase: allocated_storage_gib=500: from 20 to "
                                      "199"),
    (dict(secret_rotation=cdk.Duration.days(0)), "secret_rotation=0 days: whole days from 1 "
                                                 "to 365"),
    (dict(secret_rotation=cdk.Duration.days(400)), "secret_rotation=400 days"),
    (dict(master_username="admin-user"), "RedundantDatabase: master_username='admin-user': a "
                                         "letter"),
    (dict(writer_endpoint_parameter_name="app"),
     "RedundantDatabase: writer_endpoint_parameter_name='app': a literal hierarchical"),
    (dict(disaster_recovery=DisasterRecoveryTarget(region="eu-west-1", vault_arn="v",
                                                   key_arn="k")),
     "disaster_recovery.region='eu-west-1': a region other than this stack's \\(eu-west-1\\): a "
     "copy in the same region"),
])
def test_fails_on_bad_redundant_database(scratch: Scratch, props: dict[str, Any],
                                         message: str) -> None:
    _refused(scratch.stack, message, lambda: _redundant(
        scratch.stack, scratch.vpc, scratch.key, scratch.endpoint_sg, **props))


# --- CrossRegionReplica ------------------------------------------------------------------

def _cross_region(stack: cdk.Stack, vpc: ec2.IVpc, key: kms.IKey,
                  **props: Any) -> CrossRegionReplica:
    args: dict[str, Any] = dict(
        settings=InstanceSettings(engine=MYSQL, port=3307), vpc=vpc, key=key,
        source_identifier="app-primary", source_region="eu-west-1",
        identifier="app-dr-replica", instance_type=ec2.InstanceType("r6g.large"),
        writer_endpoint_parameter_name="/app/writer-endpoint",
        writer_endpoint="app-primary.example:3307",
        alarm_thresholds=AlarmThresholds(replica_lag_seconds=120))
    return CrossRegionReplica(stack, "Default", **(args | props))


@pytest.fixture(scope="module")
def cross_region() -> tuple[cdk.Stack, Template]:
    stack = _stack(DR_ENV)
    _cross_region(stack, _vpc(stack), kms.Key(stack, "Key"))
    return stack, Template.from_stack(stack)


def test_cross_region_replica_adds_no_level_to_logical_ids(
        cross_region: tuple[cdk.Stack, Template]) -> None:
    stack = cross_region[0]
    replica = stack.node.find_child("Default")
    for child in ("MonitoringRole", "Source", "Replica", "ClientsSecurityGroup", "AlarmTopic",
                  "ReplicaLag", "WriterEndpoint"):
        assert replica.node.try_find_child(child) is not None, child
    instance = replica.node.find_child("Replica").node.find_child("Instance").node.default_child
    assert stack.get_logical_id(instance).startswith("ReplicaInstance")


def test_cross_region_replica_template(cross_region: tuple[cdk.Stack, Template]) -> None:
    t = cross_region[1]
    t.resource_count_is("AWS::RDS::DBInstance", 1)
    t.has_resource("AWS::RDS::DBInstance", {
        "Properties": Match.object_like({
            "DBInstanceIdentifier": "app-dr-replica", "SourceRegion": "eu-west-1",
            "SourceDBInstanceIdentifier": {"Fn::Join": ["", [
                "arn:", {"Ref": "AWS::Partition"},
                ":rds:eu-west-1:111122223333:db:app-primary"]]},
            "KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]},
            "StorageEncrypted": Match.absent(), "DeletionProtection": True, "MultiAZ": True,
            "PubliclyAccessible": False}),
        "DeletionPolicy": "Retain"})
    t.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "ReplicaLag", "Threshold": 120, "TreatMissingData": "breaching",
        "AlarmDescription": "DR replica more than 120s behind the primary for 15 minutes: the "
                            "regional RPO is growing",
        "AlarmActions": [{"Ref": Match.string_like_regexp("^AlarmTopic")}]})
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    t.has_resource_properties("AWS::SSM::Parameter", {
        "Name": "/app/writer-endpoint", "Value": "app-primary.example:3307"})
    t.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "Description": "Application clients", "FromPort": 3307, "ToPort": 3307})


@pytest.mark.parametrize(("props", "message"), [
    (dict(source_region="eu-central-1"), "CrossRegionReplica: source_region='eu-central-1': a "
                                         "region other than this stack's"),
    (dict(source_identifier="app_primary"), "CrossRegionReplica: source_identifier="
                                            "'app_primary'"),
    (dict(identifier="-dr"), "CrossRegionReplica: identifier='-dr'"),
    (dict(writer_endpoint_parameter_name="/app/"), "writer_endpoint_parameter_name='/app/'"),
])
def test_fails_on_bad_cross_region_replica(scratch: Scratch, props: dict[str, Any],
                                           message: str) -> None:
    dr = scratch.dr
    _refused(dr, message, lambda: _cross_region(dr, scratch.dr_vpc, scratch.key, **props))
