"""The one register of acknowledged policy findings, for every scanner that reads the templates.

Each entry names the exact finding id, the one construct it applies to (a full construct path,
never a stack or a wildcard) and a reason a reviewer can check, usually by naming the project
rule that proves the property another way:

- `acknowledgments_for`: findings of the gate's cdk-nag packs (CDK acknowledgments);
- `scanner_skips_for`: checks of the scanners platform teams run over the templates (checkov,
  cfn-guard with the AWS Guard Rules Registry) that do not apply to one resource. The gate
  writes them into that resource's template metadata, where each scanner reads suppressions
  (`scanner_metadata`);
- `DISABLED_CONTROL_TOWER_RULES`: AWS Control Tower controls the gate turns off as a whole.

`tests/test_acknowledgments.py` fails on an entry that matches no finding, a path that is not a
single CfnResource, or an empty or vague reason; `tests/test_scanners.py` runs checkov and fails
on a finding the register does not explain and on an entry checkov no longer reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stacks import EnvironmentStacks
from stacks.network_stack import NetworkStack

NAG_PACKS = ("AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


@dataclass(frozen=True)
class Acknowledgment:
    finding: str  # e.g. "AwsSolutions::AwsSolutions-RDS2" (plugin::rule, as in the report)
    path: str  # full construct path of one CfnResource
    reason: str

    @property
    def rule(self) -> str:
        return self.finding.split("::", 1)[1]


@dataclass(frozen=True)
class ScannerSkip:
    """A template scanner's check that does not apply to one resource: checkov's id and the
    same check in the AWS Guard Rules Registry (what cfn-guard users run)."""

    checkov: str  # e.g. "CKV_AWS_16"
    guard: str  # e.g. "RDS_STORAGE_ENCRYPTED"
    path: str  # full construct path of one CfnResource
    reason: str


_REPLICA_INHERITS_ENCRYPTION = (
    "A same-region read replica inherits storage encryption and the KMS key from its source; "
    "CloudFormation rejects StorageEncrypted on it (cfn-lint E3020). Rule "
    "Redundancy-ReplicaSourceEncrypted proves the source is encrypted with the CMK, and "
    "Redundancy-StorageEncryptedCMK proves the source itself."
)
_PROMOTED_WRITER_ENCRYPTION = (
    "A writer promoted from a read replica (config/topology.json) keeps the storage encryption "
    "and KMS key of the source it was created from; adding StorageEncrypted to it would replace "
    "the instance (a create-only property). Rule Redundancy-StorageEncryptedCMK proves its key "
    "from the declared lineage (PolicySettings.inherited_encryption), or its own KmsKeyId when "
    "it was a cross-region replica."
)
_PROMOTED_WRITER_PORT = (
    "RDS11 reads the port against the Engine property, which the writer does not set: it was "
    "created as a read replica and adding Engine now could replace it; it listens on the "
    "configured non-default port, set explicitly in the template."
)
_DR_REPLICA_ENCRYPTION = (
    "A cross-region read replica is encrypted with the KmsKeyId of its own region; "
    "CloudFormation rejects StorageEncrypted next to SourceDBInstanceIdentifier (cfn-lint E3020). "
    "Rule Redundancy-DrReplicaEncrypted proves the key is a CMK of the replica's region and "
    "Redundancy-ReplicaSourceEncrypted proves the source is encrypted."
)
_DR_REPLICA_NOT_IN_BACKUP_PLAN = (
    "The DR replica is a copy of the primary, whose recovery points rule "
    "Redundancy-CrossRegionBackupCopy proves are copied to this region's vault and whose "
    "automated backups Redundancy-AutomatedBackupReplication proves are replicated here."
)
_REPLICA_NOT_IN_BACKUP_PLAN = (
    "A read replica holds no data of its own: it is a copy of the primary, which rule "
    "Redundancy-BackupPlan proves is in the AWS Backup plan and Redundancy-BackupRetention "
    "proves keeps automated backups."
)
_REPLICA_PORT = (
    "RDS11 reads the port against the Engine property, which a replica must not set; the replica "
    "listens on the source's non-default port (config validation rejects the engine default "
    "port) and its Port property is set explicitly in the template."
)
_MONITORING_ROLE = (
    "AmazonRDSEnhancedMonitoringRole is the AWS-maintained policy RDS documents for enhanced "
    "monitoring; it only allows writing to the RDSOSMetrics log group. Assumable only by "
    "monitoring.rds.amazonaws.com."
)
_BACKUP_ROLE = (
    "AWSBackupServiceRolePolicyForBackup is the AWS-maintained policy AWS Backup documents for "
    "its service role and follows new resource types; assumable only by backup.amazonaws.com."
)
_CUSTOM_RESOURCE_LAMBDA = (
    "aws-cdk-lib's RestrictDefaultSecurityGroup provider: runs once per deploy, only calls "
    "ec2:RevokeSecurityGroupIngress/Egress on this VPC's default group through the public EC2 "
    "API; inside the isolated VPC it would need an EC2 interface endpoint for no gain."
)
_CUSTOM_RESOURCE_CONCURRENCY = (
    "aws-cdk-lib's RestrictDefaultSecurityGroup provider runs only when CloudFormation creates, "
    "updates or deletes this VPC's default-group restriction, one event at a time. Reserved "
    "concurrency would take capacity from the account's unreserved pool (Lambda refuses to let "
    "it fall below 100) to cap a function that never runs twice at once."
)
_CUSTOM_RESOURCE_DLQ = (
    "CloudFormation invokes aws-cdk-lib's RestrictDefaultSecurityGroup provider for its custom "
    "resource, and the handler reports every failure back to CloudFormation, which fails and "
    "rolls back the stack operation: the failure is in the stack's events; a dead-letter queue "
    "would hold a second copy of an event already reported."
)
_GENERAL_LOG = (
    "The MySQL general log records every statement with its data values (PII in logs, heavy "
    "I/O). Access and changes are recorded by the exported audit log (MARIADB_AUDIT_PLUGIN with "
    "CONNECT,QUERY_DDL,QUERY_DCL), plus the error and slow-query logs."
)


# AWS Control Tower proactive controls (cdk-validator-cfnguard, `-c controlTower=true`) turned
# off as a whole, because their finding cannot be mapped to one construct to acknowledge.
# Keys are rule file names, which is what the validator's `disabled_rules` matches. Measured
# with cdk-validator-cfnguard 0.0.62 and aws-cdk-lib 2.275: acknowledging any of its findings
# makes CDK report the whole plugin run as a success even with other errors left, so its
# findings are settled here, never acknowledged.
DISABLED_CONTROL_TOWER_RULES: dict[str, str] = {
    "ct-lambda-pr-3": "CT.LAMBDA.PR.3 (lambda_inside_vpc_check) fires only on " +
    _CUSTOM_RESOURCE_LAMBDA + " This app defines no Lambda function of its own (the rotation "
    "function is hosted by Secrets Manager and runs in the isolated subnets); cdk-nag's "
    "NIST/HIPAA LambdaInsideVPC still check any Lambda a change adds.",
    "ct-rds-pr-14": "CT.RDS.PR.14 (rds_instance_logging_enabled_check) wants the MySQL general log exported. "
    + _GENERAL_LOG + " The guard reports it without a resource, so it cannot be acknowledged on "
    "the one instance; the cdk-nag RDSLoggingEnabled[LogExport::general] acknowledgments above "
    "name each instance.",
}


_MONITORING_ROLE_FINDING = ("AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::"
                            "aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]")


def _path(instance: object) -> str:
    """The construct path of a database construct's CfnDBInstance."""
    return str(instance.instance.node.default_child.node.path)  # type: ignore[attr-defined]


def _replicas(stacks: EnvironmentStacks) -> list[tuple[str, str, str]]:
    """(construct path, why its encryption holds, why it is not in the backup plan) of every
    read replica's DB instance of the declared topology."""
    replicas = [(_path(r), _REPLICA_INHERITS_ENCRYPTION, _REPLICA_NOT_IN_BACKUP_PLAN)
                for r in stacks.writer.replicas]
    standby = (stacks.dr.replica.dr.replica if stacks.dr is not None and stacks.dr.replica.dr
               else stacks.database.standby.standby if stacks.database.standby else None)
    if standby is not None:
        replicas.append((_path(standby), _DR_REPLICA_ENCRYPTION, _DR_REPLICA_NOT_IN_BACKUP_PLAN))
    return replicas


def _monitoring_roles(stacks: EnvironmentStacks) -> list[str]:
    """The construct paths of the enhanced-monitoring roles (one per database composition)."""
    writer = stacks.writer
    paths = [f"{writer.node.path}/MonitoringRole/Resource"]
    if stacks.dr is not None and stacks.dr.replica.dr is not None:
        paths.append(f"{stacks.dr.replica.dr.node.path}/MonitoringRole/Resource")
    if stacks.database.standby is not None:
        paths.append(f"{stacks.database.standby.node.path}/MonitoringRole/Resource")
    return paths


def _promoted_writer(stacks: EnvironmentStacks) -> str | None:
    """The construct path of the writer's DB instance when it is a promoted replica."""
    return _path(stacks.writer.writer) if stacks.config.layout.writer.promoted else None


def _replica(path: str, *, encryption: str, backup_plan: str) -> list[Acknowledgment]:
    """The findings every read replica raises because the packs read it like a primary."""
    acks = [Acknowledgment("AwsSolutions::AwsSolutions-RDS2", path, encryption),
            Acknowledgment("AwsSolutions::AwsSolutions-RDS11", path, _REPLICA_PORT)]
    acks += [Acknowledgment(f"{pack}::{pack}-RDSStorageEncrypted", path, encryption)
             for pack in NAG_PACKS[1:]]
    acks += [Acknowledgment(f"{pack}::{pack}-RDSInBackupPlan", path, backup_plan)
             for pack in ("HIPAA.Security", "NIST.800.53.R5")]
    return acks


def acknowledgments_for(stacks: EnvironmentStacks) -> list[Acknowledgment]:
    """The acknowledgments of one environment, one per (finding, construct)."""
    cfg = stacks.config
    writer = stacks.writer
    acks: list[Acknowledgment] = [
        Acknowledgment(_MONITORING_ROLE_FINDING, path, _MONITORING_ROLE)
        for path in _monitoring_roles(stacks)]
    acks.append(Acknowledgment(
        "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
        "service-role/AWSBackupServiceRolePolicyForBackup]",
        f"{writer.node.path}/Backup/Plan/Database/Role/Resource", _BACKUP_ROLE))
    # The packs read the log exports against Engine, which a promoted writer does not set.
    if cfg.engine in ("mysql", "mariadb") and "general" not in cfg.log_exports and \
            not cfg.layout.writer.promoted:
        for pack in NAG_PACKS[1:]:
            acks.append(Acknowledgment(
                f"{pack}::{pack}-RDSLoggingEnabled[LogExport::general]", _path(writer.writer),
                _GENERAL_LOG))
    for path, encryption, backup_plan in _replicas(stacks):
        acks += _replica(path, encryption=encryption, backup_plan=backup_plan)
    promoted = _promoted_writer(stacks)
    if promoted is not None:
        acks += [Acknowledgment("AwsSolutions::AwsSolutions-RDS2", promoted,
                                _PROMOTED_WRITER_ENCRYPTION),
                 Acknowledgment("AwsSolutions::AwsSolutions-RDS11", promoted,
                                _PROMOTED_WRITER_PORT)]
        acks += [Acknowledgment(f"{pack}::{pack}-RDSStorageEncrypted", promoted,
                                _PROMOTED_WRITER_ENCRYPTION) for pack in NAG_PACKS[1:]]
    return acks


# aws-cdk-lib's provider of the RestrictDefaultSecurityGroup custom resource, one per network
# stack; and the checks it fails, which a CDK-owned function does not need (see each reason).
_DEFAULT_SG_PROVIDER = "Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler"
_PROVIDER_CHECKS = (("CKV_AWS_115", "LAMBDA_CONCURRENCY_CHECK", _CUSTOM_RESOURCE_CONCURRENCY),
                    ("CKV_AWS_116", "LAMBDA_DLQ_CHECK", _CUSTOM_RESOURCE_DLQ),
                    ("CKV_AWS_117", "LAMBDA_INSIDE_VPC", _CUSTOM_RESOURCE_LAMBDA))


def scanner_skips_for(stacks: EnvironmentStacks) -> list[ScannerSkip]:
    """The template scanners' checks that do not apply, one per (check, construct)."""
    skips = [ScannerSkip(checkov, guard, f"{stack.node.path}/{_DEFAULT_SG_PROVIDER}", reason)
             for stack in stacks.all if isinstance(stack, NetworkStack)
             for checkov, guard, reason in _PROVIDER_CHECKS]
    # CloudFormation rejects StorageEncrypted on a read replica (cfn-lint E3020), and adding it
    # to a promoted one would replace it.
    skips += [ScannerSkip("CKV_AWS_16", "RDS_STORAGE_ENCRYPTED", path, encryption)
              for path, encryption, _ in _replicas(stacks)]
    promoted = _promoted_writer(stacks)
    if promoted is not None:
        skips.append(ScannerSkip("CKV_AWS_16", "RDS_STORAGE_ENCRYPTED", promoted,
                                 _PROMOTED_WRITER_ENCRYPTION))
    return skips


def scanner_metadata(skips: Iterable[ScannerSkip]) -> dict[str, dict[str, Any]]:
    """{construct path: template metadata} that tells each scanner what to skip there:
    checkov reads `Metadata.checkov.skip` ([{"id", "comment"}]), cfn-guard's registry rules
    `Metadata.guard.SuppressedRules` (rule names)."""
    out: dict[str, dict[str, Any]] = {}
    for skip in skips:
        metadata = out.setdefault(skip.path, {"checkov": {"skip": []},
                                              "guard": {"SuppressedRules": []}})
        metadata["checkov"]["skip"].append({"id": skip.checkov, "comment": skip.reason})
        metadata["guard"]["SuppressedRules"].append(skip.guard)
    return out
