"""No promised property can be weakened by an escape hatch.

Every property the README promises in "What every environment gets" (and the disaster-recovery
paragraph after it), mapped to the construct and the CloudFormation property that carries it,
is changed by an escape hatch: a raw property override, a deletion override or a raw removal
policy. cdk-nag's packs read the construct tree and see none of them; the gate compares the
template with the construct tree and refuses each one with its own finding
(`Redundancy-TemplateMatchesConstructs[Property::<path>]`), naming the construct path.

All overrides go into ONE app (each on its own resource/property) synthesized once. One copy of
env local's primary region, synthesized once by the Redundancy rules alone, shows a single
override is enough to fail and an acknowledgment covers one property of one construct, and
nothing wider (a case per DB instance); one more synthesis shows an intended override, when
acknowledged, passes the whole gate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsonschema
import pytest

import policy.gate
from app import build_app, write_compliance_reports
from policy.acknowledgments import Acknowledgment
from policy.gate import AcknowledgmentError, check_finding, policy_of, redundancy_rules_only
from policy.rules.escape_hatch import RULE_ID
from stacks import EnvironmentStacks
from tests.conftest import ENVS, Synthesized
from tests.helpers import (
    add_gated,
    gated_app,
    mysql_copy_of_local,
    redundancy_only_app,
    without_dr_region,
)

ROOT = Path(__file__).resolve().parents[1]
SARIF_SCHEMA = json.loads((ROOT / "policy" / "schemas" / "sarif-2.1.0-rtm.5.json").read_text())
PASSWORD = "Literal-Passw0rd-In-Template"


@dataclass(frozen=True, eq=False)  # hashed by identity: a value may be a list
class Promise:
    """One promised property, the construct that carries it and the escape hatch that changes
    it: `value` set with add_property_override, or `DELETE` with
    add_property_deletion_override; an `attribute` (DeletionPolicy...) set with add_override."""

    section: str  # the README bullet ("Encryption", "Primary", ...)
    promise: str
    stack: str  # the stack's role: Database, Network, DrReplica, DrFoundation
    path: str  # construct path in the stack; `*` matches a construct id
    prop: str  # the CloudFormation property path, or the attribute name
    value: Any = None
    attribute: bool = False

    @property
    def finding(self) -> str:
        kind = "Attribute" if self.attribute else "Property"
        return f"{RULE_ID}[{kind}::{self.prop}]"


DELETE = object()
DB, NET, DR, DRF = "Database", "Network", "DrReplica", "DrFoundation"
PRIMARY = "Database/Primary/Instance/Resource"
REPLICA = "Database/Replica1/Instance/Resource"
KEY = "Key/Key/Resource"
SECRET = "Database/Credentials/Secret/Resource"
ROTATION = "Database/Credentials/Secret/Attachment/Rotation/Resource"
PLAN = "Database/Backup/Plan/Resource"
VAULT = "Database/Backup/Vault/Resource"
FLOW_LOGS = "Network/FlowLogs/Resource"

PROMISES: tuple[Promise, ...] = (
    Promise("Encryption", "key rotation", DB, KEY, "EnableKeyRotation", False),
    Promise("Encryption", "yearly rotation", DB, KEY, "RotationPeriodInDays", 2560),
    Promise("Encryption", "key retained", DB, KEY, "DeletionPolicy", "Delete", attribute=True),
    Promise("Encryption", "grants only for AWS services", DB, KEY, "KeyPolicy.Statement", []),
    Promise("Encryption", "storage encrypted", DB, PRIMARY, "StorageEncrypted", False),
    Promise("Encryption", "storage with the CMK", DB, PRIMARY, "KmsKeyId", "alias/aws/rds"),
    Promise("Encryption", "Performance Insights with the CMK", DB, PRIMARY,
            "PerformanceInsightsKMSKeyId", DELETE),
    Promise("Encryption", "secret with the CMK", DB, SECRET, "KmsKeyId", DELETE),
    Promise("Encryption", "database log groups with the CMK", DB,
            "Database/Primary/LogGroups/audit/Resource", "KmsKeyId", DELETE),
    Promise("Encryption", "backup vault with the CMK", DB, VAULT, "EncryptionKeyArn", DELETE),
    Promise("Encryption", "alarm topic with the CMK", DB, "Database/Alarms/Topic/Resource",
            "KmsMasterKeyId", "alias/aws/sns"),
    Promise("Credentials", "30-character generated password", DB, SECRET,
            "GenerateSecretString.PasswordLength", 8),
    Promise("Credentials", "dynamic reference, never a literal", DB, PRIMARY,
            "MasterUserPassword", PASSWORD),
    Promise("Credentials", "rotation every secret_rotation_days", DB, ROTATION,
            "RotationRules.ScheduleExpression", "rate(365 days)"),
    Promise("Credentials", "rotation function in the isolated subnets", DB, ROTATION,
            "HostedRotationLambda.VpcSubnetIds", DELETE),
    Promise("Primary", "automated backups", DB, PRIMARY, "BackupRetentionPeriod", 1),
    Promise("Primary", "backup window", DB, PRIMARY, "PreferredBackupWindow", "12:00-12:30"),
    Promise("Primary", "deletion protection", DB, PRIMARY, "DeletionProtection", False),
    Promise("Primary", "DeletionPolicy Snapshot", DB, PRIMARY, "DeletionPolicy", "Delete",
            attribute=True),
    Promise("Primary", "multi-AZ", DB, PRIMARY, "MultiAZ", False),
    Promise("Primary", "not publicly accessible", DB, PRIMARY, "PubliclyAccessible", True),
    Promise("Primary", "isolated subnets", DB, "Database/Primary/Instance/SubnetGroup/Default",
            "SubnetIds", ["subnet-0public"]),
    Promise("Primary", "IAM authentication", DB, PRIMARY, "EnableIAMDatabaseAuthentication",
            False),
    Promise("Primary", "enhanced monitoring", DB, PRIMARY, "MonitoringInterval", 0),
    Promise("Primary", "CloudWatch log exports", DB, PRIMARY, "EnableCloudwatchLogsExports",
            ["error"]),
    Promise("Primary", "log groups kept a year", DB, "Database/Primary/LogGroups/error/Resource",
            "RetentionInDays", 1),
    Promise("Primary", "log groups retained", DB, "Database/Primary/LogGroups/slowquery/Resource",
            "DeletionPolicy", "Delete", attribute=True),
    Promise("Primary", "audit log through the MariaDB audit plugin", DB,
            "Database/Primary/AuditOptionGroup/Resource", "OptionConfigurations", DELETE),
    Promise("Primary", "slow-query log on", DB, "Database/Primary/ParameterGroup/Resource",
            "Parameters.slow_query_log", "0"),
    Promise("Primary", "Performance Insights", DB, PRIMARY, "EnablePerformanceInsights", False),
    Promise("Primary", "auto minor version upgrade", DB, PRIMARY, "AutoMinorVersionUpgrade",
            False),
    Promise("Primary", "copy tags to snapshots", DB, PRIMARY, "CopyTagsToSnapshot", False),
    Promise("Primary", "gp3 storage", DB, PRIMARY, "StorageType", "standard"),
    Promise("Primary", "storage autoscaling", DB, PRIMARY, "MaxAllocatedStorage", DELETE),
    Promise("Primary", "non-default port", DB, PRIMARY, "Port", "3306"),
    Promise("Primary", "CA certificate", DB, PRIMARY, "CACertificateIdentifier", "rds-ca-2019"),
    Promise("Primary", "TLS enforced", DB, "Database/Primary/ParameterGroup/Resource",
            "Parameters.require_secure_transport", "0"),
    Promise("Engine lifecycle", "standard support only", DB, PRIMARY, "EngineLifecycleSupport",
            "open-source-rds-extended-support"),
    Promise("Engine lifecycle", "a replica declares its version", DB, REPLICA, "EngineVersion",
            DELETE),
    Promise("Engine lifecycle", "the DR replica in standard support only", DR,
            "Replica/Instance/Resource", "EngineLifecycleSupport", DELETE),
    Promise("Engine lifecycle", "the writer's version", DB, PRIMARY, "EngineVersion", "8.0.43"),
    Promise("Read replicas", "multi-AZ", DB, REPLICA, "MultiAZ", False),
    Promise("Read replicas", "own security group", DB, REPLICA, "VPCSecurityGroups", DELETE),
    Promise("Read replicas", "own parameter group", DB, REPLICA, "DBParameterGroupName",
            "default.mysql8.0"),
    Promise("Read replicas", "own monitoring", DB, REPLICA, "MonitoringInterval", 0),
    Promise("Read replicas", "deletion protection", DB, REPLICA, "DeletionProtection", False),
    Promise("Read replicas", "a replica of the primary", DB, REPLICA,
            "SourceDBInstanceIdentifier", DELETE),
    Promise("Read replicas", "kept on replacement", DB, REPLICA, "UpdateReplacePolicy", "Delete",
            attribute=True),
    Promise("Network access", "only the clients group reaches the port", DB,
            "Database/Primary/SecurityGroup/from *ClientsSecurityGroup*", "CidrIp", "0.0.0.0/0"),
    Promise("Network access", "egress to the instances only", DB,
            "Database/RotationSecurityGroup/Resource", "SecurityGroupEgress", DELETE),
    Promise("AWS Backup", "daily recovery points kept 35 days", DB, PLAN,
            "BackupPlan.BackupPlanRule.0.Lifecycle.DeleteAfterDays", 1),
    Promise("AWS Backup", "monthly recovery points kept a year", DB, PLAN,
            "BackupPlan.BackupPlanRule.1.Lifecycle.DeleteAfterDays", 1),
    Promise("AWS Backup", "the primary is selected", DB, "Database/Backup/Plan/Database/Resource",
            "BackupSelection.Resources", []),
    Promise("AWS Backup", "vault refuses recovery-point deletion", DB, VAULT, "AccessPolicy",
            DELETE),
    Promise("AWS Backup", "vault retained", DB, VAULT, "DeletionPolicy", "Delete",
            attribute=True),
    Promise("Alarms", "CPU", DB, "Database/Alarms/PrimaryCpu/Resource", "Threshold", 100),
    Promise("Alarms", "free storage", DB, "Database/Alarms/PrimaryFreeStorage/Resource",
            "Threshold", 1),
    Promise("Alarms", "connections", DB, "Database/Alarms/PrimaryConnections/Resource",
            "Threshold", 100000),
    Promise("Alarms", "replica lag", DB, "Database/Alarms/Replica1Lag/Resource", "Threshold",
            86400),
    Promise("Alarms", "to the SNS topic", DB, "Database/Alarms/PrimaryCpu/Resource",
            "AlarmActions", DELETE),
    Promise("Alarms", "topic only accepts TLS", DB, "Database/Alarms/Topic/Policy/Resource",
            "PolicyDocument.Statement", []),
    Promise("Writer endpoint", "the SSM parameter's name", DB,
            "Database/WriterEndpoint/Resource", "Name", "/elsewhere/writer-endpoint"),
    Promise("Network stack", "isolated subnets", NET, "Network/Vpc/DatabaseSubnet1/Subnet",
            "MapPublicIpOnLaunch", True),
    Promise("Network stack", "flow logs of all traffic", NET, "Network/FlowLog", "TrafficType",
            "REJECT"),
    Promise("Network stack", "flow logs encrypted", NET, FLOW_LOGS, "KmsKeyId", DELETE),
    Promise("Network stack", "flow logs kept a year", NET, FLOW_LOGS, "RetentionInDays", 1),
    Promise("Network stack", "flow logs retained", NET, FLOW_LOGS, "DeletionPolicy", "Delete",
            attribute=True),
    Promise("Network stack", "default security group stripped", NET,
            "Network/Vpc/RestrictDefaultSecurityGroupCustomResource/Default",
            "DefaultSecurityGroupId", "sg-0other"),
    Promise("Network stack", "Secrets Manager interface endpoint", NET,
            "Network/Vpc/SecretsManagerEndpoint/Resource", "PrivateDnsEnabled", False),
    Promise("Network stack", "endpoint reachable from the VPC only", NET,
            "Network/EndpointSecurityGroup/Resource", "SecurityGroupIngress",
            [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": cidr}
             for cidr in ("10.0.0.0/8", "0.0.0.0/0")]),
    Promise("Disaster recovery", "replica names its source region", DR,
            "Replica/Instance/Resource", "SourceRegion", DELETE),
    Promise("Disaster recovery", "replica encrypted with the DR key", DR,
            "Replica/Instance/Resource", "KmsKeyId", "alias/aws/rds"),
    Promise("Disaster recovery", "automated backups replicated", DB, PRIMARY,
            "AutomaticBackupReplicationRegion", DELETE),
    Promise("Disaster recovery", "recovery points copied to the DR vault", DB, PLAN,
            "BackupPlan.BackupPlanRule.0.CopyActions", DELETE),
    Promise("Disaster recovery", "secret replicated", DB, SECRET, "ReplicaRegions", DELETE),
    Promise("Disaster recovery", "DR vault refuses recovery-point deletion", DRF,
            "Vault/Resource", "AccessPolicy", DELETE),
)


def l1(stacks: EnvironmentStacks, role: str, path: str) -> cdk.CfnResource:
    """The L1 at `path` in the stack of `role`. A construct that composes others under the id
    `Default` (a level no logical id shows) is looked through; `*` in a part matches an id."""
    node: Any = next(s for s in stacks.all if s.stack_name.endswith(f"-{role}"))
    for part in path.split("/"):
        found = _child(node, part)
        if found is None and part != "Default":
            default = node.node.try_find_child("Default")
            found = _child(default, part) if default is not None else None
        assert found is not None, f"no construct {part!r} under {node.node.path}"
        node = found
    assert isinstance(node, cdk.CfnResource), f"{node.node.path}: not an L1"
    return node


def _child(node: Any, part: str) -> Any:
    if "*" not in part:
        return node.node.try_find_child(part)
    matches = [c for c in node.node.children if fnmatch(c.node.id, part)]
    assert len(matches) <= 1, f"{part!r} matches {[c.node.id for c in matches]}"
    return matches[0] if matches else None


def escape(resource: cdk.CfnResource, promise: Promise) -> None:
    if promise.attribute:
        resource.add_override(promise.prop, promise.value)
    elif promise.value is DELETE:
        resource.add_property_deletion_override(promise.prop)
    else:
        resource.add_property_override(promise.prop, promise.value)


def _report(outdir: Path) -> dict[str, Any]:
    return json.loads((outdir / "validation-report.json").read_text())


def _violations(outdir: Path, plugin: str = "Redundancy") -> set[tuple[str, str]]:
    """(rule name, construct path) of every open violation of `plugin`."""
    return {(v["ruleName"], c["constructPath"]) for p in _report(outdir)["pluginReports"]
            if p["pluginName"] == plugin for v in p["violations"]
            for c in v["violatingConstructs"]}


@dataclass(frozen=True)
class Escaped:
    app: cdk.App
    stacks: EnvironmentStacks
    outdir: Path
    paths: dict[Promise, str]  # construct path of each promise's L1


@pytest.fixture(scope="module")
def escaped(tmp_path_factory: pytest.TempPathFactory) -> Escaped:
    """Env prod with every promise's escape hatch, synthesized once: MySQL (the table names its
    parameters, log groups and audit plugin) with a DR region."""
    outdir = tmp_path_factory.mktemp("escaped")
    app, stacks = build_app("prod", outdir=str(outdir))
    paths = {}
    for promise in PROMISES:
        resource = l1(stacks, promise.stack, promise.path)
        escape(resource, promise)
        paths[promise] = resource.node.path
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    return Escaped(app, stacks, outdir, paths)


@pytest.mark.parametrize("env", ENVS)
def test_without_escape_hatches_the_template_is_the_construct_tree(
        environments: dict[str, Synthesized], env: str) -> None:
    """Every resource of every environment compared, and equal."""
    compared = [e for e in policy_of(environments[env].app).evaluations
                if e.rule.id == RULE_ID and e.environment == env]
    resources = sum(len(t["Resources"]) for t in environments[env].templates.values())
    assert len(compared) == resources > 40
    assert {e.compliance.value for e in compared} == {"compliant"}


def test_the_table_covers_every_promise_of_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("What every environment gets:", 1)[1].split("\n\n**", 1)[0]
    bullets = set(re.findall(r"^- \*\*([^*]+)\*\*", section, re.M))
    assert len(bullets) >= 9, bullets
    assert bullets | {"Disaster recovery"} == {p.section for p in PROMISES}
    assert len({(p.stack, p.path, p.prop) for p in PROMISES}) == len(PROMISES), "a duplicate"


@pytest.mark.parametrize("promise", PROMISES, ids=lambda p: f"{p.section}: {p.promise}")
def test_an_escape_hatch_on_a_promise_is_refused(escaped: Escaped, promise: Promise) -> None:
    path = escaped.paths[promise]
    assert (promise.finding, path) in _violations(escaped.outdir)
    (finding,) = [e for e in policy_of(escaped.app).evaluations
                  if e.finding_id == promise.finding and e.resource.path == path]
    assert finding.view == "template"
    assert finding.result.detail.startswith(f"{promise.prop} ")
    if promise.prop == "MasterUserPassword":
        assert "differs" in finding.result.detail
    else:
        assert "in the construct tree" in finding.result.detail


def test_every_refusal_is_its_own_finding(escaped: Escaped) -> None:
    ours = {v for v in _violations(escaped.outdir) if v[0].startswith(RULE_ID)}
    assert ours == {(p.finding, escaped.paths[p]) for p in PROMISES}
    assert len(ours) == len(PROMISES) >= 70


def test_cdk_nag_sees_none_of_them(escaped: Escaped) -> None:
    """What the cross-view check closes: the packs read the tree, where nothing changed."""
    tree = [e for e in policy_of(escaped.app).evaluations
            if e.view == "construct tree" and e.compliance.value == "non_compliant"]
    assert tree == []


def test_a_secret_is_never_echoed(escaped: Escaped) -> None:
    assert PASSWORD not in (escaped.outdir / "validation-report.json").read_text()


def primary_region_of_local(app: cdk.App, **changes: Any) -> EnvironmentStacks:
    """Env local's stacks in its region only, on MySQL (the schema's engine, version, port and
    log exports: the audit plugin's escape hatches need it), gated: where the overrides act."""
    return add_gated(app, without_dr_region(mysql_copy_of_local(), **changes))


MAINTENANCE = "PreferredMaintenanceWindow"
REASON = ("The maintenance window is moved by a raw override while the construct library's "
          "InstanceSettings gains the prop; the change is reviewed with the release notes.")
REPLICA2 = "Database/Replica2/Instance/Resource"


def _with_register(patch: pytest.MonkeyPatch, *extra: Callable[[EnvironmentStacks],
                                                                Acknowledgment]) -> None:
    """The register's entries plus test-local ones."""
    register = policy.gate.acknowledgments_for
    patch.setattr(policy.gate, "acknowledgments_for",
                  lambda stacks: [*register(stacks), *(entry(stacks) for entry in extra)])


def _maintenance_ack(path: str) -> Callable[[EnvironmentStacks], Acknowledgment]:
    """The acknowledgment of the maintenance window's override on the DB instance at `path`."""
    return lambda stacks: Acknowledgment(f"Redundancy::{RULE_ID}[Property::{MAINTENANCE}]",
                                         l1(stacks, DB, path).node.path, REASON)


@dataclass(frozen=True)
class Overridden:
    """One copy of local's primary region, synthesized once by the Redundancy rules alone
    (`policy.gate.redundancy_rules_only`), with one case on each DB instance: the primary's
    CopyTagsToSnapshot overridden; Replica1's maintenance window overridden; Replica2's too,
    acknowledged (registered while the copy is added), and its CopyTagsToSnapshot."""

    outdir: Path
    paths: dict[str, str]  # construct path of each DB instance: PRIMARY, REPLICA, REPLICA2

    def violations(self, path: str) -> set[str]:
        """The rule name of every open Redundancy finding of the resource at `path`."""
        return {rule for rule, at in _violations(self.outdir) if at == self.paths[path]}


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory) -> Overridden:
    outdir = tmp_path_factory.mktemp("overridden")
    app = redundancy_only_app(outdir)
    with pytest.MonkeyPatch.context() as patch:
        _with_register(patch, _maintenance_ack(REPLICA2))
        stacks = primary_region_of_local(app, replica_count=2)
    paths = {path: l1(stacks, DB, path) for path in (PRIMARY, REPLICA, REPLICA2)}
    paths[PRIMARY].add_property_override("CopyTagsToSnapshot", False)
    for path in (REPLICA, REPLICA2):
        paths[path].add_property_override(MAINTENANCE, "sat:04:00-sat:05:00")
    paths[REPLICA2].add_property_override("CopyTagsToSnapshot", False)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    return Overridden(outdir, {path: r.node.path for path, r in paths.items()})


def test_the_overridden_copy_has_one_finding_per_case(overridden: Overridden) -> None:
    """Nothing else in the copy is refused: each case below is its instance's alone."""
    assert {path for _, path in _violations(overridden.outdir)} == set(overridden.paths.values())


def test_one_override_alone_fails_synthesis(overridden: Overridden) -> None:
    """No other rule reads CopyTagsToSnapshot: the cross-view check alone refuses it."""
    assert overridden.violations(PRIMARY) == {f"{RULE_ID}[Property::CopyTagsToSnapshot]"}
    (violation,) = [v for p in _report(overridden.outdir)["pluginReports"]
                    for v in p["violations"]
                    if v["ruleName"] == f"{RULE_ID}[Property::CopyTagsToSnapshot]"]
    assert (f"{overridden.paths[PRIMARY]}: CopyTagsToSnapshot is true in the construct tree, "
            "false in the template") in violation["description"]


# --- an intended override, acknowledged for one property of one construct -------------------


@pytest.mark.parametrize("acknowledged", [True, False], ids=["acknowledged", "not acknowledged"])
def test_an_intended_override_passes_only_when_acknowledged(
        acknowledged: bool, overridden: Overridden, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    finding = f"{RULE_ID}[Property::{MAINTENANCE}]"
    if not acknowledged:  # Replica1 of the overridden copy
        assert overridden.violations(REPLICA) == {finding}
        return
    _with_register(monkeypatch, _maintenance_ack(PRIMARY))
    app = gated_app(tmp_path / "cdk.out")
    stacks = primary_region_of_local(app)
    resource = l1(stacks, DB, PRIMARY)
    resource.add_property_override(MAINTENANCE, "sat:04:00-sat:05:00")
    app.synth()
    suppressed = {(s["acknowledgedId"], c["constructPath"], s["reason"])
                  for p in _report(tmp_path / "cdk.out")["pluginReports"]
                  if p["pluginName"] == "Redundancy" for s in p["suppressedViolations"]
                  for c in s["violatingConstructs"]}
    assert suppressed == {(f"Redundancy::{finding}", resource.node.path, REASON)}
    md, sarif = write_compliance_reports(app, stacks, tmp_path / "reports")
    text = md.read_text()
    assert text.startswith("# Compliance report: env `local` — PASS")
    assert f"| {finding} | `{resource.node.path}` | - | acknowledged |" in text
    assert REASON in text
    log = json.loads(sarif.read_text())
    jsonschema.validate(log, SARIF_SCHEMA)
    results = [r for r in log["runs"][0]["results"] if r.get("suppressions")]
    assert [r["suppressions"][0]["justification"] for r in results] == [REASON]
    assert f"[Property::{MAINTENANCE}]" in results[0]["message"]["text"]


def test_an_acknowledgment_covers_its_one_property_only(overridden: Overridden) -> None:
    """Replica2: its maintenance window acknowledged, its CopyTagsToSnapshot refused."""
    assert overridden.violations(REPLICA2) == {f"{RULE_ID}[Property::CopyTagsToSnapshot]"}
    suppressed = {(s["acknowledgedId"], c["constructPath"])
                  for p in _report(overridden.outdir)["pluginReports"]
                  for s in p["suppressedViolations"] for c in s["violatingConstructs"]}
    assert (f"Redundancy::{RULE_ID}[Property::{MAINTENANCE}]",
            overridden.paths[REPLICA2]) in suppressed


def test_redundancy_rules_only_registers_no_pack(escaped: Escaped,
                                                 overridden: Overridden) -> None:
    """Every environment has acknowledged cdk-nag findings, so a pack on the app is listed in
    its report: the escaped app has the whole gate, the overridden copy the Redundancy rules
    alone."""
    def plugins(outdir: Path) -> set[str]:
        return {p["pluginName"] for p in _report(outdir)["pluginReports"]}

    assert plugins(escaped.outdir) == {"Redundancy", "AwsSolutions", "HIPAA.Security",
                                       "NIST.800.53.R5", "PCI.DSS.321"}
    assert plugins(overridden.outdir) == {"Redundancy"}


def test_fails_redundancy_rules_only_on_a_gated_app(escaped: Escaped) -> None:
    with pytest.raises(ValueError, match="redundancy_rules_only: the policy gate is already "
                                         "on this app; call it on a new App, before apply_gate"):
        redundancy_rules_only(escaped.app)


@pytest.mark.parametrize("finding", [
    f"Redundancy::{RULE_ID}",
    "Redundancy::Redundancy-StorageEncryptedCMK",
    f"Redundancy::{RULE_ID}[Property::MultiAZ][Property::Port]",
    "Redundancy-StorageEncryptedCMK",
], ids=["the whole cross-view rule", "another rule", "two findings", "without namespace"])
def test_fails_on_an_acknowledgment_wider_than_one_property(finding: str) -> None:
    with pytest.raises(AcknowledgmentError, match="never acknowledged"):
        check_finding(Acknowledgment(finding, "S/Db/Resource", REASON))


def test_one_property_of_the_cross_view_rule_can_be_acknowledged() -> None:
    for finding in (f"Redundancy::{RULE_ID}[Property::MultiAZ]",
                    f"Redundancy::{RULE_ID}[Property::Parameters.rds.force_ssl]",
                    f"Redundancy::{RULE_ID}[Attribute::DeletionPolicy]",
                    "AwsSolutions::AwsSolutions-RDS2"):
        check_finding(Acknowledgment(finding, "S/Db/Resource", REASON))
