"""Encryption at rest with a customer-managed key that rotates and is kept."""

from __future__ import annotations

from cloud_assembly import rds
from cloud_assembly.template import Resource, boolean, literal_string, truthy
from policy.model import (
    COMPLIANT,
    NOT_APPLICABLE,
    Result,
    Rule,
    StackView,
    is_primary,
    is_replica,
    non_compliant,
)


def _cmk(value: object, stack: StackView) -> Resource | None:
    """The AWS::KMS::Key of this app that `value` references, if any."""
    key = stack.target(value)
    return key if key is not None and key.type == "AWS::KMS::Key" else None


def _describe_key(value: object) -> str:
    text = literal_string(value)
    return repr(text) if text is not None else "a value that is not a key of this app"


def _key_at(path: str, stack: StackView) -> Resource | None:
    """The AWS::KMS::Key of this app at construct path `path`, if any."""
    for other in stack.app.values() or [stack]:
        for resource in other.of_type("AWS::KMS::Key"):
            if resource.path == path:
                return resource
    return None


def _inherited(resource: Resource, stack: StackView, path: str) -> Result:
    """A promoted writer (config/topology.json) without StorageEncrypted of its own: encrypted
    with the key of its lineage (a promoted cross-region replica still names its own key)."""
    if resource.prop("KmsKeyId") is not None:
        if _cmk(resource.prop("KmsKeyId"), stack) is None:
            return non_compliant(f"KmsKeyId is {_describe_key(resource.prop('KmsKeyId'))}, not "
                                 "a customer-managed key defined in this app")
        return COMPLIANT
    if _key_at(path, stack) is None:
        return non_compliant(f"a promoted writer whose declared lineage names the key {path}, "
                             "which is no KMS key of this app")
    return COMPLIANT


def _storage_encrypted(resource: Resource, stack: StackView) -> Result:
    if not is_primary(resource):
        return NOT_APPLICABLE
    inherited = stack.settings.inherited_key(resource.prop("DBInstanceIdentifier"))
    if inherited is not None and "StorageEncrypted" not in resource.properties:
        return _inherited(resource, stack, inherited)
    if not truthy(resource.prop("StorageEncrypted")):
        return non_compliant(f"StorageEncrypted={resource.prop('StorageEncrypted')!r}; "
                             "must be true")
    key = resource.prop("KmsKeyId")
    if key is None:
        return non_compliant("KmsKeyId is not set: the AWS-managed key aws/rds would be used")
    if _cmk(key, stack) is None:
        return non_compliant(f"KmsKeyId is {_describe_key(key)}, not a customer-managed key "
                             "defined in this app")
    return COMPLIANT


STORAGE_ENCRYPTED_CMK = Rule(
    id="Redundancy-StorageEncryptedCMK",
    info="The primary database is not encrypted with a customer-managed KMS key.",
    explanation="Storage, automated backups, snapshots and replicas inherit the primary's "
                "encryption. A customer-managed key can be audited, rotated, shared with a DR "
                "account and revoked; the AWS-managed aws/rds key can do none of that, and "
                "encryption cannot be added to an existing instance. A writer promoted from a "
                "replica (config/topology.json) carries no StorageEncrypted of its own: its "
                "encryption is proven on the key of its declared lineage.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_storage_encrypted,
)


def _replica_source_encrypted(resource: Resource, stack: StackView) -> Result:
    if not is_replica(resource):
        return NOT_APPLICABLE
    if "StorageEncrypted" in resource.properties and not truthy(resource.prop("StorageEncrypted")):
        return non_compliant("StorageEncrypted is false on the replica")
    source = stack.target(resource.prop("SourceDBInstanceIdentifier"))
    if source is None or source.type != rds.DB_INSTANCE:
        source = _source_by_arn(resource, stack)
    if source is None:
        return non_compliant("the source instance is not in this app, so its encryption "
                             "cannot be proven")
    if _storage_encrypted(source, stack.stack_of(source)).compliance.value != "compliant":
        return non_compliant(f"source {source.logical_id} is not encrypted with a "
                             "customer-managed key")
    return COMPLIANT


def _source_by_arn(replica: Resource, stack: StackView) -> Resource | None:
    """A cross-region source named by ARN (`arn:...:rds:REGION:ACCOUNT:db:IDENTIFIER`)."""
    identifier = rds.identifier_in_arn(replica.prop("SourceDBInstanceIdentifier"))
    return stack.instance_named(identifier) if identifier is not None else None


def _cross_region_replica(resource: Resource, stack: StackView) -> Result:
    if not is_replica(resource):
        return NOT_APPLICABLE
    local = stack.target(resource.prop("SourceDBInstanceIdentifier"))
    if local is not None and local.type == rds.DB_INSTANCE and stack.stack_of(local) is stack:
        return NOT_APPLICABLE  # same-region replica: inherits the source's encryption
    if not resource.prop("SourceRegion"):
        return non_compliant("SourceRegion is not set: a replica of an instance in another "
                             "region must name the source's region")
    key = resource.prop("KmsKeyId")
    if key is None:
        return non_compliant("KmsKeyId is not set: a cross-region replica needs a key of its "
                             "own region (the source's key does not exist there)")
    cmk = _cmk(key, stack)
    if cmk is None:
        return non_compliant(f"KmsKeyId is {_describe_key(key)}, not a customer-managed key "
                             "of this app")
    key_region = stack.stack_of(cmk).region
    if key_region != stack.region:
        return non_compliant(f"KmsKeyId is key {cmk.logical_id} of region {key_region}; the "
                             f"replica is in {stack.region}")
    return COMPLIANT


DR_REPLICA_ENCRYPTED = Rule(
    id="Redundancy-DrReplicaEncrypted",
    info="A cross-region replica is not encrypted with a key of its own region.",
    explanation="A cross-region replica must name its source's region (SourceRegion) and carry "
                "a customer-managed key that lives in the replica's region; without them it "
                "cannot be created, or it is created unencrypted in the DR region.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_cross_region_replica,
)


REPLICA_SOURCE_ENCRYPTED = Rule(
    id="Redundancy-ReplicaSourceEncrypted",
    info="A read replica's source is not encrypted with a customer-managed key.",
    explanation="A same-region replica inherits the storage encryption of its source and must "
                "not set StorageEncrypted itself, so its encryption is proven on the source.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_replica_source_encrypted,
)


def _key_rotation(resource: Resource, stack: StackView) -> Result:
    if resource.prop("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        return NOT_APPLICABLE
    if not truthy(resource.prop("EnableKeyRotation")):
        return non_compliant(f"EnableKeyRotation={resource.prop('EnableKeyRotation')!r}")
    if boolean(resource.prop("Enabled")) is False:
        return non_compliant("Enabled=false: the key is disabled and everything it protects "
                             "is unreadable")
    return COMPLIANT


KEY_ROTATION = Rule(
    id="Redundancy-KeyRotation",
    info="A customer-managed KMS key does not rotate, or is disabled.",
    explanation="Yearly automatic rotation limits what one key version protects; a disabled "
                "key makes the database, its backups and its secret unreadable.",
    resource_types=("AWS::KMS::Key",),
    check=_key_rotation,
)


def _secret_cmk(resource: Resource, stack: StackView) -> Result:
    key = resource.prop("KmsKeyId")
    if key is None:
        return non_compliant("KmsKeyId is not set: the AWS-managed key aws/secretsmanager "
                             "would be used")
    if _cmk(key, stack) is None:
        return non_compliant(f"KmsKeyId is {_describe_key(key)}, not a customer-managed key "
                             "defined in this app")
    return COMPLIANT


SECRET_ENCRYPTED_CMK = Rule(
    id="Redundancy-SecretEncryptedCMK",
    info="The credentials secret is not encrypted with a customer-managed KMS key.",
    explanation="The master password is only as private as the key that encrypts it: with the "
                "CMK, reading it needs kms:Decrypt on a key whose policy this app controls.",
    resource_types=("AWS::SecretsManager::Secret",),
    check=_secret_cmk,
)

RULES = (STORAGE_ENCRYPTED_CMK, REPLICA_SOURCE_ENCRYPTED, DR_REPLICA_ENCRYPTED, KEY_ROTATION,
         SECRET_ENCRYPTED_CMK)
