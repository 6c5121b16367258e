"""What the data-loss guard knows: which resource types hold data, and which of their properties
CloudFormation cannot change without creating a new resource.

Source: the "Update requires: Replacement" notes of the CloudFormation resource reference (for
`AWS::RDS::DBInstance`, `cloud_assembly.rds.CREATE_ONLY`). Kept as data, so a reviewer can check
the table line by line and a new stateful type is one entry. What a DeletionPolicy or
UpdateReplacePolicy keeps is `cloud_assembly.removal`'s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cloud_assembly import rds, removal
from cloud_assembly.template import boolean


def _database_replacement(old: Mapping[str, Any]) -> str:
    """What replacing this DB instance costs, given its UpdateReplacePolicy and backup settings."""
    policy = removal.policy_of(old, "UpdateReplacePolicy")
    new = "replaces the database: CloudFormation creates a new, empty instance; "
    if removal.keeps_resource(policy):
        return (new + "the old one is orphaned outside the stack with its data (and a fixed "
                "DBInstanceIdentifier makes the create fail)")
    fate = ("the old one is deleted after a final snapshot" if policy == removal.SNAPSHOT
            else "the old one is deleted without a final snapshot")
    if boolean(old.get("Properties", {}).get("DeleteAutomatedBackups")) is False:
        return f"{new}{fate}; its automated backups are kept only until their retention ends"
    return ("replaces the database and deletes its automated backups: CloudFormation creates a "
            f"new, empty instance; {fate}")


def _generic_replacement(noun: str, loss: str) -> Callable[[Mapping[str, Any]], str]:
    def consequence(old: Mapping[str, Any]) -> str:
        retained = removal.keeps_resource(removal.policy_of(old, "UpdateReplacePolicy"))
        fate = f"the old {noun} is {'orphaned outside the stack' if retained else 'deleted'}"
        return f"replaces the {noun}: {loss}; {fate}"
    return consequence


@dataclass(frozen=True, kw_only=True)
class StatefulType:
    """One CloudFormation type that holds data, and how it is lost."""

    type: str
    noun: str
    #: The property that names the resource in messages (when it is a literal string).
    name_property: str | None
    #: Properties whose change makes CloudFormation create a new resource and delete the old one.
    create_only: tuple[str, ...]
    #: The consequence of a replacement, given the old resource (its policies shape the fate).
    replacement: Callable[[Mapping[str, Any]], str]


STATEFUL_TYPES: Mapping[str, StatefulType] = {t.type: t for t in (
    StatefulType(
        type=rds.DB_INSTANCE, noun="database", name_property="DBInstanceIdentifier",
        create_only=rds.CREATE_ONLY,
        replacement=_database_replacement),
    StatefulType(
        type="AWS::KMS::Key", noun="KMS key", name_property="Description",
        create_only=("KeySpec", "KeyUsage", "MultiRegion", "Origin"),
        replacement=_generic_replacement(
            "KMS key", "data encrypted under the old key (storage, secret, logs, backups) is "
                       "unreadable once that key is deleted")),
    StatefulType(
        type="AWS::SecretsManager::Secret", noun="secret", name_property="Name",
        create_only=("Name",),
        replacement=_generic_replacement(
            "secret", "a new password is generated that the database does not know, so "
                      "applications and rotation lose access")),
    StatefulType(
        type="AWS::RDS::DBSubnetGroup", noun="DB subnet group", name_property="DBSubnetGroupName",
        create_only=("DBSubnetGroupName",),
        replacement=_generic_replacement(
            "DB subnet group", "the database that uses it moves to the new group, which "
                               "replaces the database")),
    StatefulType(
        type="AWS::Backup::BackupVault", noun="backup vault", name_property="BackupVaultName",
        create_only=("BackupVaultName", "EncryptionKeyArn"),
        replacement=_generic_replacement(
            "backup vault", "new recovery points go to a new, empty vault")),
    StatefulType(
        type="AWS::Logs::LogGroup", noun="log group", name_property="LogGroupName",
        create_only=("LogGroupName", "LogGroupClass"),
        replacement=_generic_replacement(
            "log group", "its stored log events stay behind with the old group")),
)}


# --- Effective values --------------------------------------------------------------------------

_SECRET_FIELD = re.compile(r"^:SecretString:(?P<field>[A-Za-z0-9_]+)::}}$")


def effective_value(value: Any, *, template: Mapping[str, Any]) -> Any:
    """`value` as the resource will see it, where the template alone can tell.

    CDK sets `MasterUsername` to a dynamic reference into the generated secret
    (`{{resolve:secretsmanager:<Ref Secret>:SecretString:username::}}`); the username itself sits
    in that secret's `SecretStringTemplate`. Changing the config's master username therefore
    changes the secret, not the instance property, yet the instance gets a new master user (and is
    replaced) the next time CloudFormation resolves the reference. Resolving it here makes that
    change visible. Anything else is returned as is.
    """
    if not (isinstance(value, dict) and list(value) == ["Fn::Join"]):
        return value
    separator, parts = value["Fn::Join"]
    if separator != "" or len(parts) != 3 or parts[0] != "{{resolve:secretsmanager:":
        return value
    ref, suffix = parts[1], parts[2]
    match = _SECRET_FIELD.match(suffix) if isinstance(suffix, str) else None
    if not (match and isinstance(ref, dict) and list(ref) == ["Ref"]):
        return value
    secret = template.get("Resources", {}).get(ref["Ref"], {})
    generate = secret.get("Properties", {}).get("GenerateSecretString", {})
    try:
        fields = json.loads(generate.get("SecretStringTemplate", "{}"))
    except (TypeError, json.JSONDecodeError):
        return value
    if match["field"] in fields:
        return fields[match["field"]]
    return value

