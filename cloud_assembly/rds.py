"""RDS facts that the constructs, the gate, the review and the emulator all rely on.

Sources: the CloudFormation reference of `AWS::RDS::DBInstance` ("Update requires"), the RDS
user guide (read replicas, parameter groups, backup retention) and the CloudWatch Logs API
(retention values).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloud_assembly.template import literal_string

DB_INSTANCE = "AWS::RDS::DBInstance"
SOURCE = "SourceDBInstanceIdentifier"

#: Properties whose change makes CloudFormation create a new instance and delete the old one
#: with its automated backups. Removing `SourceDBInstanceIdentifier` is not one: it promotes
#: the replica in place.
CREATE_ONLY: tuple[str, ...] = (
    "DBInstanceIdentifier", "DBName", "DBSubnetGroupName", "KmsKeyId", "MasterUsername",
    "StorageEncrypted", "SourceRegion", "CharacterSetName", "Timezone")

#: Automated backup retention RDS accepts, in days (0 turns automated backups off).
BACKUP_RETENTION_LIMITS = (0, 35)
#: Engines whose read replicas keep automated backups of their own (RDS refuses
#: `BackupRetentionPeriod` on a PostgreSQL read replica).
REPLICA_BACKUP_ENGINES: tuple[str, ...] = ("mysql", "mariadb")


def is_replica(properties: Mapping[str, Any]) -> bool:
    """A DB instance's properties declare a read replica."""
    return properties.get(SOURCE) is not None


def is_cross_region_replica(properties: Mapping[str, Any]) -> bool:
    return is_replica(properties) and properties.get("SourceRegion") is not None


def identifier_in_arn(value: Any) -> str | None:
    """The DB identifier at the end of an RDS instance ARN (`arn:...:rds:REGION:ACCOUNT:db:ID`),
    literal or an Fn::Join ending in a literal identifier; None for anything else."""
    text = literal_string(value)
    if text is None or ":db:" not in text:
        return None
    identifier = text.rsplit(":db:", 1)[1]
    return identifier if identifier and "${" not in identifier else None


@dataclass(frozen=True)
class TlsParameter:
    """The parameter-group setting that refuses unencrypted client connections."""

    name: str
    value: str  # what the constructs write
    accepted: frozenset[str]  # what RDS reads as "on" (compared case-insensitively)

    def enforced_by(self, value: Any) -> bool:
        return str(value).lower() in self.accepted


# RDS accepts ON and 1 for require_secure_transport; independent scanners (checkov's
# CKV2_AWS_69) read only 1, so 1 is what the constructs write.
_MYSQL_TLS = TlsParameter("require_secure_transport", "1", frozenset({"on", "1", "true"}))
#: The PostgreSQL parameter an RDS blue/green deployment needs for a major version upgrade
#: (logical replication from blue to green), `1` when on.
LOGICAL_REPLICATION = "rds.logical_replication"
_POSTGRES_TLS = TlsParameter("rds.force_ssl", "1", frozenset({"1", "on"}))
TLS_PARAMETERS: Mapping[str, TlsParameter] = {
    "mysql": _MYSQL_TLS, "mariadb": _MYSQL_TLS, "postgres": _POSTGRES_TLS}


def engine_of_family(family: str) -> str | None:
    """The engine of a parameter-group family (`mysql8.0`, `postgres16`, `mariadb10.11`)."""
    for engine in TLS_PARAMETERS:
        if family.startswith(engine):
            return engine
    return None


def tls_parameter(engine_or_family: str) -> TlsParameter:
    """The TLS parameter of an engine (`mysql`) or a parameter-group family (`postgres16`).
    Raises ValueError for an engine RDS has no such parameter for here."""
    engine = engine_of_family(engine_or_family)
    if engine is None:
        raise ValueError(f"engine {engine_or_family!r}: one of {', '.join(TLS_PARAMETERS)}")
    return TLS_PARAMETERS[engine]


#: The retention periods CloudWatch Logs accepts, in days (the RDS log groups use them).
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)


def deletion_policy_applies(properties: Mapping[str, Any]) -> bool:
    """Whether CloudFormation applies a DB instance's DeletionPolicy when the instance leaves
    the stack: only to a standalone instance. A read replica is deleted whatever its policy
    ("Read replicas don't support deletion policies"); deletion protection alone protects it.
    Once promoted (its template without a source), the policy applies."""
    return not is_replica(properties)
