"""Survive a region: prod's cross-region replica, backup copies and replicated automated backups,
asserted on the synthesized templates and the cloud assembly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import config
from config.schema import ConfigError, validate
from stacks import stack_name
from tests.helpers import by_path, one, primary, replicas, resources

PROD = config.ENVIRONMENTS["prod"]
Templates = dict[str, dict[str, dict[str, Any]]]


def _t(templates: Templates, role: str) -> dict[str, Any]:
    return templates["prod"][stack_name(PROD, role)]


def _stack_output(stack: str, output: str, region: str) -> dict[str, Any]:
    return {"Fn::GetStackOutput": {"StackName": stack_name(PROD, stack), "OutputName": output,
                                   "Region": region}}


def test_prod_and_local_have_dr_and_dev_does_not() -> None:
    assert PROD.dr_region == "eu-central-1" != PROD.region
    assert [e for e, c in config.ENVIRONMENTS.items() if c.has_dr] == ["local", "prod"]


def test_stacks_regions_and_deployment_order(cdk_out: dict[str, Path],
                                             templates: Templates) -> None:
    manifest = json.loads((cdk_out["prod"] / "manifest.json").read_text())["artifacts"]
    stacks = {k: v for k, v in manifest.items() if v["type"] == "aws:cloudformation:stack"}
    regions = {k: v["environment"].rsplit("/", 1)[1] for k, v in stacks.items()}
    assert regions == {
        stack_name(PROD, "Network"): "eu-west-1", stack_name(PROD, "Database"): "eu-west-1",
        stack_name(PROD, "DrNetwork"): "eu-central-1",
        stack_name(PROD, "DrFoundation"): "eu-central-1",
        stack_name(PROD, "DrReplica"): "eu-central-1"}
    deps = {k: set(v.get("dependencies", [])) for k, v in stacks.items()}
    assert stack_name(PROD, "DrFoundation") in deps[stack_name(PROD, "Database")]
    assert {stack_name(PROD, "Database"), stack_name(PROD, "DrFoundation"),
            stack_name(PROD, "DrNetwork")} <= deps[stack_name(PROD, "DrReplica")]
    for role in ("Database", "DrFoundation", "DrReplica"):
        assert stacks[stack_name(PROD, role)]["properties"]["terminationProtection"] is True


def test_cross_region_replica(templates: Templates) -> None:
    t = _t(templates, "DrReplica")
    _, replica = one(t, "AWS::RDS::DBInstance")
    props = replica["Properties"]
    source = props["SourceDBInstanceIdentifier"]["Fn::Join"][1]
    assert source[0].endswith(":rds:eu-west-1:") and source[-1] == ":db:prod-mysql-primary"
    assert props["SourceRegion"] == "eu-west-1"
    key_id = one(t, "AWS::KMS::Key")[0]  # the replica stack's own key, in its region
    assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert "StorageEncrypted" not in props and "MasterUserPassword" not in props
    assert props["DBInstanceIdentifier"] == "prod-mysql-dr-replica"
    assert props["DeletionProtection"] is True and props["PubliclyAccessible"] is False
    assert props["MultiAZ"] is True
    assert props["MonitoringInterval"] == PROD.monitoring_interval_seconds
    assert props["Port"] == str(PROD.port)
    assert replica["DeletionPolicy"] == replica["UpdateReplacePolicy"] == "Retain"
    # Its own subnet group, security group and parameter group, in its own region.
    for ref_prop, type_ in (("DBSubnetGroupName", "AWS::RDS::DBSubnetGroup"),
                            ("DBParameterGroupName", "AWS::RDS::DBParameterGroup")):
        assert t["Resources"][props[ref_prop]["Ref"]]["Type"] == type_
    group = t["Resources"][props["DBParameterGroupName"]["Ref"]]["Properties"]
    assert group["Parameters"]["require_secure_transport"] == "1"
    sg = props["VPCSecurityGroups"][0]["Fn::GetAtt"][0]
    assert t["Resources"][sg]["Type"] == "AWS::EC2::SecurityGroup"


def test_replica_lag_alarm_and_writer_endpoint_in_the_dr_region(templates: Templates) -> None:
    t = _t(templates, "DrReplica")
    alarm = one(t, "AWS::CloudWatch::Alarm")[1]["Properties"]
    assert alarm["MetricName"] == "ReplicaLag"
    assert alarm["Threshold"] == PROD.alarms.replica_lag_seconds
    topic_id, topic = one(t, "AWS::SNS::Topic")
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    assert "KmsMasterKeyId" in topic["Properties"]
    param = one(t, "AWS::SSM::Parameter")[1]["Properties"]
    assert param["Name"] == "/prod-mysql/writer-endpoint"
    assert json.dumps(_stack_output("Database", "PrimaryEndpoint", "eu-west-1")["Fn::GetStackOutput"]
                      ["OutputName"]) in json.dumps(param["Value"])


def test_dr_key_and_vault(templates: Templates) -> None:
    t = _t(templates, "DrFoundation")
    key_id, key = one(t, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"
    vault = one(t, "AWS::Backup::BackupVault")[1]
    assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert vault["DeletionPolicy"] == "Retain"
    assert {"KeyArn", "VaultArn"} <= set(t["Outputs"])


def test_backups_are_copied_and_replicated_to_the_dr_region(templates: Templates) -> None:
    t = _t(templates, "Database")
    plan = one(t, "AWS::Backup::BackupPlan")[1]["Properties"]["BackupPlan"]
    vault = _stack_output("DrFoundation", "VaultArn", "eu-central-1")
    for rule in plan["BackupPlanRule"]:
        copy = rule["CopyActions"][0]
        assert copy["DestinationBackupVaultArn"] == vault
        assert copy["Lifecycle"]["DeleteAfterDays"] == rule["Lifecycle"]["DeleteAfterDays"]
    props = primary(t)[1]["Properties"]
    assert props["AutomaticBackupReplicationRegion"] == "eu-central-1"
    assert props["AutomaticBackupReplicationKmsKeyId"] == _stack_output(
        "DrFoundation", "KeyArn", "eu-central-1")
    assert props["AutomaticBackupReplicationRetentionPeriod"] == PROD.backup_retention_days


def test_dr_network_is_isolated_in_the_dr_azs(templates: Templates) -> None:
    t = _t(templates, "DrNetwork")
    assert one(t, "AWS::EC2::VPC")[1]["Properties"]["CidrBlock"] == PROD.dr_vpc_cidr
    azs = {s["Properties"]["AvailabilityZone"]
           for s in resources(t, "AWS::EC2::Subnet").values()}
    assert azs == set(PROD.dr_availability_zones)
    assert not resources(t, "AWS::EC2::InternetGateway")
    assert by_path(t, "/Network/FlowLog")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(dr_region="eu-west-1"), "dr_region='eu-west-1': must differ from the primary "
                                      "region eu-west-1"),
        (dict(dr_region="eu-middle-9"), "dr_region='eu-middle-9': an AWS region name"),
        (dict(dr_region="us-east-2", dr_availability_zones=("eu-central-1a", "eu-central-1b")),
         "dr_availability_zones='eu-central-1a': an AZ of region us-east-2"),
        (dict(dr_vpc_cidr="10.30.128.0/17"), "dr_vpc_cidr='10.30.128.0/17': must not overlap"),
        (dict(region=None, availability_zones=()), "a DR region needs an explicit region"),
    ],
)
def test_fails_on_bad_dr_config(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate(dataclasses.replace(PROD, **changes))
    assert message in str(error.value)


def test_fails_on_dr_azs_without_dr_region() -> None:
    with pytest.raises(ConfigError, match="dr_availability_zones=.*needs a dr_region"):
        validate(dataclasses.replace(config.ENVIRONMENTS["dev"],
                                     dr_availability_zones=("us-west-2a", "us-west-2b")))


def test_dr_replica_is_built_like_the_in_region_replicas(templates: Templates) -> None:
    """The DR replica and the in-region replicas come from the same pieces (instance settings,
    lag alarm, clients group): only what makes it cross-region differs."""
    dr = _t(templates, "DrReplica")
    db = _t(templates, "Database")
    dr_props = one(dr, "AWS::RDS::DBInstance")[1]["Properties"]
    in_region = next(iter(replicas(db).values()))["Properties"]
    assert set(dr_props) - set(in_region) == {"SourceRegion", "KmsKeyId"}
    assert set(in_region) - set(dr_props) == set()
    references = {"SourceDBInstanceIdentifier", "DBInstanceIdentifier", "DBParameterGroupName",
                  "DBSubnetGroupName", "VPCSecurityGroups", "MonitoringRoleArn",
                  "PerformanceInsightsKMSKeyId", "OptionGroupName"}
    assert {k: v for k, v in dr_props.items() if k in in_region and k not in references} == \
        {k: v for k, v in in_region.items() if k not in references}

    def lag(template: dict[str, Any]) -> dict[str, Any]:
        alarm = next(a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
                     if a["Properties"]["MetricName"] == "ReplicaLag")
        return {k: v for k, v in alarm.items() if k not in ("AlarmActions", "OKActions",
                                                            "Dimensions", "AlarmDescription")}

    assert lag(dr) == lag(db)
    dr_clients = by_path(dr, "/ClientsSecurityGroup/Resource")[1]["Properties"]
    db_clients = by_path(db, "/Database/ClientsSecurityGroup/Resource")[1]["Properties"]
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"]) for e in
            dr_clients["SecurityGroupEgress"]] == [("tcp", PROD.port, PROD.port)]
    assert {(e["IpProtocol"], e["FromPort"]) for e in db_clients["SecurityGroupEgress"]} == \
        {("tcp", PROD.port)}
