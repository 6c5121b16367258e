"""Fine-grained assertions on the synthesized templates of every environment: every promise of
the product, on MySQL (local, prod) and PostgreSQL (dev)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import config
from cloud_assembly import engines, rds
from cloud_assembly.template import Stack, link_stacks, literal_string
from stacks import stack_name
from tests.helpers import by_path, one, primary, refs, replicas, resources

ENVS = sorted(config.ENVIRONMENTS)
Templates = dict[str, dict[str, dict[str, Any]]]


def _db(templates: Templates, env: str) -> dict[str, Any]:
    return templates[env][stack_name(config.ENVIRONMENTS[env], "Database")]


def _net(templates: Templates, env: str) -> dict[str, Any]:
    return templates[env][stack_name(config.ENVIRONMENTS[env], "Network")]


def _key_id(template: dict[str, Any]) -> str:
    return by_path(template, "/Key/Key/Resource")[0]


@pytest.mark.parametrize("env", ENVS)
class TestPrimary:
    def test_encrypted_with_the_cmk(self, templates: Templates, env: str) -> None:
        t = _db(templates, env)
        props = primary(t)[1]["Properties"]
        assert props["StorageEncrypted"] is True
        assert props["KmsKeyId"] == {"Fn::GetAtt": [_key_id(t), "Arn"]}

    def test_backups(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        props = primary(_db(templates, env))[1]["Properties"]
        assert props["BackupRetentionPeriod"] == cfg.backup_retention_days >= 7
        assert props["PreferredBackupWindow"] == cfg.backup_window
        assert props["PreferredMaintenanceWindow"] == cfg.maintenance_window
        assert props["DeleteAutomatedBackups"] is False
        assert props["CopyTagsToSnapshot"] is True

    def test_kept_on_delete_and_replace(self, templates: Templates, env: str) -> None:
        """Retained when it leaves the stack (a failover's reconcile retires it); a replacement
        keeps a snapshot, or the instance with retain_on_delete."""
        for stack in templates[env].values():
            for resource in resources(stack, rds.DB_INSTANCE).values():
                assert resource["DeletionPolicy"] == "Retain"
                assert resource["Properties"]["DeletionProtection"] is True
        resource = primary(_db(templates, env))[1]
        expected = "Retain" if config.ENVIRONMENTS[env].retain_on_delete else "Snapshot"
        assert resource["UpdateReplacePolicy"] == expected

    def test_private_multi_az_and_hardened(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        props = primary(_db(templates, env))[1]["Properties"]
        assert props["PubliclyAccessible"] is False
        assert props["MultiAZ"] is cfg.multi_az is True
        assert props["EnableIAMDatabaseAuthentication"] is True
        assert props["AutoMinorVersionUpgrade"] is True
        assert props["CACertificateIdentifier"] == "rds-ca-rsa2048-g1"
        assert props["Port"] == str(cfg.port) != str(cfg.default_port)

    def test_engine_and_storage(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        props = primary(_db(templates, env))[1]["Properties"]
        assert (props["Engine"], props["EngineVersion"]) == (cfg.engine, cfg.engine_version)
        assert props["DBInstanceClass"] == cfg.instance_class
        assert props["StorageType"] == "gp3"
        assert props["AllocatedStorage"] == str(cfg.allocated_storage_gib)
        assert props["MaxAllocatedStorage"] == cfg.max_allocated_storage_gib
        assert props["DBInstanceIdentifier"] == f"{env}-{cfg.engine}-primary"

    def test_monitoring_logs_and_insights(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        t = _db(templates, env)
        props = primary(t)[1]["Properties"]
        assert props["MonitoringInterval"] == cfg.monitoring_interval_seconds
        role = by_path(t, "/Database/MonitoringRole/Resource")[0]
        assert props["MonitoringRoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
        assert props["EnableCloudwatchLogsExports"] == list(cfg.log_exports)
        assert props["EnablePerformanceInsights"] is True
        assert props["PerformanceInsightsKMSKeyId"] == {"Fn::GetAtt": [_key_id(t), "Arn"]}

    def test_password_is_a_secret_reference(self, templates: Templates, env: str) -> None:
        t = _db(templates, env)
        props = primary(t)[1]["Properties"]
        secret = by_path(t, "/Database/Credentials/Secret/Resource")[0]
        for field in ("MasterUserPassword", "MasterUsername"):
            joined = props[field]["Fn::Join"][1]
            assert joined[0] == "{{resolve:secretsmanager:"
            assert joined[1] == {"Ref": secret}
        assert "ManageMasterUserPassword" not in props

    def test_log_groups_exist_first_encrypted_with_retention(self, templates: Templates,
                                                             env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        t = _db(templates, env)
        logical_id, resource = primary(t)
        groups = {v["Properties"]["LogGroupName"]: (k, v)
                  for k, v in resources(t, "AWS::Logs::LogGroup").items()}
        for log in cfg.log_exports:
            name = f"/aws/rds/instance/{env}-{cfg.engine}-primary/{log}"
            group_id, group = groups[name]
            assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [_key_id(t), "Arn"]}
            assert group["Properties"]["RetentionInDays"] == cfg.log_retention_days
            assert group["DeletionPolicy"] == "Retain"
            assert group_id in resource["DependsOn"]

    def test_tls_enforced_by_parameter_group(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        t = _db(templates, env)
        group = t["Resources"][primary(t)[1]["Properties"]["DBParameterGroupName"]["Ref"]]
        params = group["Properties"]["Parameters"]
        if cfg.engine == "postgres":
            assert params["rds.force_ssl"] == "1"
            # What a blue/green major upgrade replicates with, where the config asks for it.
            assert params.get(rds.LOGICAL_REPLICATION) == (
                "1" if cfg.logical_replication else None)
        else:
            assert params["require_secure_transport"] == "1"  # as every scanner reads it
            assert params["slow_query_log"] == "1"

    def test_in_isolated_subnets(self, templates: Templates, env: str) -> None:
        t = _db(templates, env)
        group = t["Resources"][primary(t)[1]["Properties"]["DBSubnetGroupName"]["Ref"]]
        outputs = [item["Fn::GetStackOutput"]["OutputName"]
                   for item in group["Properties"]["SubnetIds"]]
        assert outputs and all("DatabaseSubnet" in name for name in outputs)
        net = _net(templates, env)
        assert not resources(net, "AWS::EC2::InternetGateway")
        assert not resources(net, "AWS::EC2::NatGateway")
        assert not resources(net, "AWS::EC2::Route")


@pytest.mark.parametrize("env", ENVS)
class TestReplicas:
    def test_count_and_source(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        t = _db(templates, env)
        primary_id = primary(t)[0]
        found = replicas(t)
        assert len(found) == cfg.replica_count
        for replica in found.values():
            source = replica["Properties"]["SourceDBInstanceIdentifier"]
            assert refs(source) == {primary_id}
            assert source["Fn::Join"][1][-2].endswith(":db:")
            assert source["Fn::Join"][1][-1] == {"Ref": primary_id}

    def test_no_properties_cloudformation_forbids(self, templates: Templates, env: str) -> None:
        for replica in replicas(_db(templates, env)).values():
            props = replica["Properties"]
            for forbidden in ("StorageEncrypted", "KmsKeyId", "MasterUsername",
                              "MasterUserPassword", "DBName", "Engine"):
                assert forbidden not in props, forbidden

    def test_backups_only_where_supported(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        for replica in replicas(_db(templates, env)).values():
            if cfg.engine == "postgres":
                assert "BackupRetentionPeriod" not in replica["Properties"]
            else:
                assert replica["Properties"]["BackupRetentionPeriod"] == cfg.backup_retention_days

    def test_own_security_and_parameter_groups(self, templates: Templates, env: str) -> None:
        t = _db(templates, env)
        instances = [primary(t)[1], *replicas(t).values()]
        sgs = [tuple(map(str, i["Properties"]["VPCSecurityGroups"])) for i in instances]
        pgs = [i["Properties"]["DBParameterGroupName"]["Ref"] for i in instances]
        assert len(set(sgs)) == len(set(pgs)) == len(instances)

    def test_protected_private_monitored(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        for replica in replicas(_db(templates, env)).values():
            props = replica["Properties"]
            assert props["DeletionProtection"] is True
            assert props["PubliclyAccessible"] is False
            assert props["MultiAZ"] is True
            assert props["MonitoringInterval"] == cfg.monitoring_interval_seconds
            assert props["DBInstanceClass"] == cfg.replica_instance_class
            assert props["Port"] == str(cfg.port)
            assert props["DBInstanceIdentifier"].startswith(f"{env}-{cfg.engine}-replica-")
            assert replica["DeletionPolicy"] in ("Snapshot", "Retain")


@pytest.mark.parametrize("env", ENVS)
class TestEngineLifecycle:
    """Every DB instance of every stack declares its engine version (a replica's too, which
    CDK leaves out), standard support only (the environments choose no Extended Support), and
    may take a major version (constructs_lib/instances.py, `_Instance`, says why)."""

    def test_every_instance_declares_version_lifecycle_and_major_upgrades(
            self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        found = 0
        for template in templates[env].values():
            groups = resources(template, "AWS::RDS::DBParameterGroup")
            for instance in resources(template, rds.DB_INSTANCE).values():
                props = instance["Properties"]
                assert props["EngineVersion"] == cfg.engine_version
                assert props["EngineLifecycleSupport"] == engines.STANDARD_SUPPORT_ONLY
                assert props["AllowMajorVersionUpgrade"] is True
                group = groups[props["DBParameterGroupName"]["Ref"]]["Properties"]
                assert group["Family"] == engines.parameter_group_family(cfg.engine,
                                                                         cfg.engine_version)
                found += 1
        assert found == cfg.replica_count + 1 + cfg.has_dr


@pytest.mark.parametrize("env", ENVS)
class TestCredentials:
    def test_generated_secret_encrypted_and_retained(self, templates: Templates,
                                                     env: str) -> None:
        t = _db(templates, env)
        secret = by_path(t, "/Database/Credentials/Secret/Resource")[1]
        generate = secret["Properties"]["GenerateSecretString"]
        assert generate["GenerateStringKey"] == "password"
        assert generate["PasswordLength"] >= 30
        assert '"username":"' + config.ENVIRONMENTS[env].master_username in \
            generate["SecretStringTemplate"]
        assert "SecretString" not in secret["Properties"]
        assert secret["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [_key_id(t), "Arn"]}
        assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"

    def test_attached_to_primary_and_rotated(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        t = _db(templates, env)
        secret_id = by_path(t, "/Database/Credentials/Secret/Resource")[0]
        attachment_id, attachment = one(t, "AWS::SecretsManager::SecretTargetAttachment")
        assert attachment["Properties"]["TargetId"] == {"Ref": primary(t)[0]}
        assert attachment["Properties"]["SecretId"] == {"Ref": secret_id}
        schedule = one(t, "AWS::SecretsManager::RotationSchedule")[1]["Properties"]
        assert schedule["SecretId"] == {"Ref": attachment_id}
        assert schedule["RotationRules"]["ScheduleExpression"] == \
            f"rate({cfg.secret_rotation_days} days)"
        hosted = schedule["HostedRotationLambda"]
        assert hosted["RotationType"] == {"postgres": "PostgreSQLSingleUser",
                                          "mysql": "MySQLSingleUser"}[cfg.engine]
        assert hosted["VpcSubnetIds"] and hosted["VpcSecurityGroupIds"]
        assert t["Transform"] == "AWS::SecretsManager-2024-09-16"

    def test_writer_endpoint_parameter(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        t = _db(templates, env)
        param = one(t, "AWS::SSM::Parameter")[1]["Properties"]
        assert param["Name"] == f"/{env}-{cfg.engine}/writer-endpoint"
        assert refs(param["Value"]) == {primary(t)[0]}


@pytest.mark.parametrize("env", ENVS)
class TestKey:
    def test_rotating_retained_cmk(self, templates: Templates, env: str) -> None:
        t = _db(templates, env)
        key = by_path(t, "/Key/Key/Resource")[1]
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["Properties"]["RotationPeriodInDays"] == 365
        assert key["Properties"]["PendingWindowInDays"] == 30
        assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"

    def test_key_policy_lets_logs_and_alarms_use_it(self, templates: Templates, env: str) -> None:
        t = _db(templates, env)
        statements = by_path(t, "/Key/Key/Resource")[1]["Properties"]["KeyPolicy"]["Statement"]
        sids = {s.get("Sid") for s in statements}
        assert {"AllowCloudWatchLogsOfThisAccount", "AllowCloudWatchAlarmsToPublish"} <= sids


@pytest.mark.parametrize("env", ENVS)
class TestBackupPlan:
    def test_vault_encrypted_retained_and_locked(self, templates: Templates, env: str) -> None:
        t = _db(templates, env)
        vault = one(t, "AWS::Backup::BackupVault")[1]
        assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": [_key_id(t), "Arn"]}
        assert vault["DeletionPolicy"] == "Retain"
        denied = vault["Properties"]["AccessPolicy"]["Statement"][0]
        assert denied["Effect"] == "Deny" and "backup:DeleteRecoveryPoint" in denied["Action"]

    def test_daily_and_monthly_rules_cover_the_primary(self, templates: Templates,
                                                       env: str) -> None:
        t = _db(templates, env)
        plan_id, plan = one(t, "AWS::Backup::BackupPlan")
        rules = {r["RuleName"]: r for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"]}
        assert set(rules) == {"Daily", "Monthly"}
        assert rules["Daily"]["Lifecycle"]["DeleteAfterDays"] == 35
        assert rules["Monthly"]["Lifecycle"] == {"DeleteAfterDays": 365,
                                                 "MoveToColdStorageAfterDays": 30}
        selection = one(t, "AWS::Backup::BackupSelection")[1]["Properties"]
        assert selection["BackupPlanId"] == {"Fn::GetAtt": [plan_id, "BackupPlanId"]}
        assert refs(selection["BackupSelection"]["Resources"]) == {primary(t)[0]}


@pytest.mark.parametrize("env", ENVS)
class TestAlarms:
    def test_alarms_to_encrypted_topic(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        t = _db(templates, env)
        topic_id, topic = one(t, "AWS::SNS::Topic")
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [_key_id(t), "Arn"]}
        alarms = resources(t, "AWS::CloudWatch::Alarm").values()
        metrics = sorted(a["Properties"]["MetricName"] for a in alarms)
        assert metrics == sorted(["CPUUtilization", "FreeStorageSpace", "DatabaseConnections",
                                  *["ReplicaLag"] * cfg.replica_count])
        for alarm in alarms:
            assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        lag = [a for a in alarms if a["Properties"]["MetricName"] == "ReplicaLag"]
        assert all(a["Properties"]["Threshold"] == cfg.alarms.replica_lag_seconds for a in lag)
        assert all(a["Properties"]["TreatMissingData"] == "breaching" for a in lag)


@pytest.mark.parametrize("env", ENVS)
class TestNetwork:
    def test_vpc_in_two_azs_isolated_only(self, templates: Templates, env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        net = _net(templates, env)
        vpc = one(net, "AWS::EC2::VPC")[1]["Properties"]
        assert vpc["CidrBlock"] == cfg.vpc_cidr
        subnets = resources(net, "AWS::EC2::Subnet").values()
        assert len(subnets) >= 2
        assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets)
        if cfg.availability_zones:
            assert {s["Properties"]["AvailabilityZone"] for s in subnets} == \
                set(cfg.availability_zones)

    def test_flow_logs_to_encrypted_group(self, templates: Templates, env: str) -> None:
        net = _net(templates, env)
        flow = one(net, "AWS::EC2::FlowLog")[1]["Properties"]
        assert flow["TrafficType"] == "ALL" and flow["ResourceType"] == "VPC"
        group = one(net, "AWS::Logs::LogGroup")[1]["Properties"]
        assert "KmsKeyId" in group and group["RetentionInDays"] > 0
        assert not resources(net, "AWS::IAM::Policy"), "flow-log role has no inline policy"

    def test_default_security_group_closed(self, templates: Templates, env: str) -> None:
        assert one(_net(templates, env), "Custom::VpcRestrictDefaultSG")

    def test_no_security_group_open_to_the_world(self, templates: Templates, env: str) -> None:
        for template in templates[env].values():
            for sg in resources(template, "AWS::EC2::SecurityGroup").values():
                for rule in sg["Properties"].get("SecurityGroupIngress", []):
                    assert rule.get("CidrIp") not in ("0.0.0.0/0",)
                    assert rule.get("CidrIpv6") not in ("::/0",)
            for rule in resources(template, "AWS::EC2::SecurityGroupIngress").values():
                assert "CidrIp" not in rule["Properties"], "database ingress is by group only"

    def test_database_ingress_only_from_clients_and_rotation(self, templates: Templates,
                                                            env: str) -> None:
        cfg = config.ENVIRONMENTS[env]
        t = _db(templates, env)
        clients = by_path(t, "/Database/ClientsSecurityGroup/Resource")[0]
        rotation = by_path(t, "/Database/RotationSecurityGroup/Resource")[0]
        instances = [primary(t)[1], *replicas(t).values()]
        db_groups = set().union(*(refs(i["Properties"]["VPCSecurityGroups"]) for i in instances))
        rules = [r["Properties"] for r in resources(t, "AWS::EC2::SecurityGroupIngress").values()
                 if refs(r["Properties"]["GroupId"]) & db_groups]
        assert len(rules) == 2 * len(instances)  # clients and rotation into each instance
        for props in rules:
            assert props["FromPort"] == props["ToPort"] == cfg.port
            assert refs(props["SourceSecurityGroupId"]) <= {clients, rotation}


def _endpoint_users(env: str) -> list[tuple[str, str | None, str, tuple[str, ...]]]:
    """(network stack, its region, the stack of the groups its Secrets Manager endpoint
    admits, those groups' construct-path suffixes) of each network of `env`."""
    cfg = config.ENVIRONMENTS[env]
    users = [(stack_name(cfg, "Network"), cfg.region, stack_name(cfg, "Database"),
              ("/Database/RotationSecurityGroup/Resource",
               "/Database/ClientsSecurityGroup/Resource"))]
    if cfg.dr_region is not None:
        users.append((stack_name(cfg, "DrNetwork"), cfg.dr_region, stack_name(cfg, "DrReplica"),
                      ("/ClientsSecurityGroup/Resource",)))
    return users


@pytest.mark.parametrize("env", ENVS)
class TestSecretsManagerEndpoint:
    """Each network's endpoint serves the credentials secret to the groups that read it: the
    rotation function and the application clients (in the DR region, its clients, which read
    the secret's replica there, also after a regional failover)."""

    def test_admits_only_the_groups_that_read_the_secret(self, templates: Templates,
                                                         env: str) -> None:
        app = link_stacks(Stack.from_template(name, t) for name, t in templates[env].items())
        for network, _, users, group_paths in _endpoint_users(env):
            (endpoint_group,) = [g for g in app[network].of_type("AWS::EC2::SecurityGroup")
                                 if g.path.endswith("/Network/EndpointSecurityGroup/Resource")]
            assert not endpoint_group.prop("SecurityGroupIngress"), "no CIDR, no VPC range"
            admitted = set()
            for stack in app.values():
                for rule in stack.of_type("AWS::EC2::SecurityGroupIngress"):
                    if stack.target(rule.prop("GroupId")) is not endpoint_group:
                        continue
                    assert stack.name == users, "the rule lives beside the group it admits"
                    assert (rule.prop("IpProtocol"), rule.prop("FromPort"),
                            rule.prop("ToPort")) == ("tcp", 443, 443)
                    assert "CidrIp" not in rule.properties
                    admitted.add(stack.target(rule.prop("SourceSecurityGroupId")).path)
            expected = {by_path(templates[env][users], p)[1]["Metadata"]["aws:cdk:path"]
                        for p in group_paths}
            assert admitted == expected

    def test_rotation_reaches_the_endpoint(self, templates: Templates, env: str) -> None:
        app = link_stacks(Stack.from_template(name, t) for name, t in templates[env].items())
        database = app[stack_name(config.ENVIRONMENTS[env], "Database")]
        (rotation,) = [g for g in database.of_type("AWS::EC2::SecurityGroup")
                       if g.path.endswith("/Database/RotationSecurityGroup/Resource")]
        https = [database.target(rule["DestinationSecurityGroupId"]).path
                 for rule in rotation.prop("SecurityGroupEgress") if rule["FromPort"] == 443]
        assert [path.rsplit("/", 2)[-2] for path in https] == ["EndpointSecurityGroup"]

    def test_policy_allows_only_this_apps_secret(self, templates: Templates, env: str) -> None:
        secret = by_path(_db(templates, env), "/Database/Credentials/Secret/Resource")[0]
        for network, region, _, _ in _endpoint_users(env):
            endpoint = one(templates[env][network], "AWS::EC2::VPCEndpoint")[1]["Properties"]
            statements = endpoint["PolicyDocument"]["Statement"]
            assert all(s["Effect"] == "Allow" and s["Principal"] == {"AWS": "*"}
                       for s in statements)
            # Rotation asks for a password without naming a secret; everything else names it.
            assert [(s["Action"], s["Resource"]) for s in statements[:1]] == [
                ("secretsmanager:GetRandomPassword", "*")]
            (arn,) = [literal_string(s["Resource"]) for s in statements[1:]
                      if s["Action"] == "secretsmanager:*"]
            assert len(statements) == 2
            assert arn is not None and arn.endswith(f":secret:{secret}-*")
            if region is not None:  # the secret, or its replica in the DR region
                assert f":secretsmanager:{region}:" in arn

    def test_networks_never_name_the_stacks_deployed_after_them(self, templates: Templates,
                                                                env: str) -> None:
        for network, _, _, _ in _endpoint_users(env):
            text = json.dumps(templates[env][network])
            assert "Fn::GetStackOutput" not in text and "Fn::ImportValue" not in text


@pytest.mark.parametrize("env", ENVS)
def test_outputs_without_exports(templates: Templates, env: str) -> None:
    cfg = config.ENVIRONMENTS[env]
    outputs = _db(templates, env)["Outputs"]
    expected = {"PrimaryIdentifier", "PrimaryEndpoint", "Port", "SecretArn", "SecretName", "KeyArn",
                "WriterEndpointParameter", "ClientsSecurityGroupId", "AlarmTopicArn",
                "BackupPlanId"}
    expected |= {f"Replica{n}{kind}" for n in range(1, cfg.replica_count + 1)
                 for kind in ("Identifier", "Endpoint")}
    assert set(outputs) == expected
    for template in templates[env].values():
        assert all("Export" not in o for o in template.get("Outputs", {}).values())


def test_termination_protection_in_prod_only(cdk_out: dict[str, Any],
                                             templates: Templates) -> None:
    for env in ENVS:
        manifest = json.loads((cdk_out[env] / "manifest.json").read_text())
        db = manifest["artifacts"][stack_name(config.ENVIRONMENTS[env], "Database")]
        assert db["properties"].get("terminationProtection", False) is (env == "prod")
