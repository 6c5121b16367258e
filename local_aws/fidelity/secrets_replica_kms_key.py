"""A secret's replica in another region is encrypted with the `KmsKeyId` given for it.

AWS behaviour: `ReplicaRegions` / `ReplicateSecretToRegions` entries take a `KmsKeyId` of the
replica's region (default: that region's `aws/secretsmanager` key). `DescribeSecret` of the
primary reports it in `ReplicationStatus[].KmsKeyId`, and `DescribeSecret` of the replica (in its
region) reports it as the replica's `KmsKeyId`, with `PrimaryRegion`.
Gap in moto 5.2.5: every replica reports `alias/aws/secretsmanager` in `ReplicationStatus`,
whatever `KmsKeyId` was given, and the replica itself reports the primary secret's key (a key of
the primary region), so a check that the DR copy of the credentials is encrypted with the DR key
cannot pass.

This patches `moto.secretsmanager.models.FakeSecret.create_replicas` and
`ReplicaSecret.to_dict`, for CloudFormation (`AWS::SecretsManager::Secret` with `ReplicaRegions`)
and the API alike.
"""

from __future__ import annotations

from typing import Any

from local_aws.fidelity._registry import Extension

_original: dict[str, Any] = {}


def create_replicas(self: Any, replica_regions: list[dict[str, str]],
                    force_overwrite: bool) -> list[Any]:
    replicas = _original["create_replicas"](self, replica_regions, force_overwrite)
    keys = {c["Region"]: c["KmsKeyId"] for c in replica_regions or [] if c.get("KmsKeyId")}
    for replica in replicas:
        if replica.region in keys:
            replica.config["KmsKeyId"] = keys[replica.region]
    return list(replicas)


def replica_to_dict(self: Any) -> dict[str, Any]:
    from moto.secretsmanager.models import SecretsManagerBackend

    document: dict[str, Any] = _original["to_dict"](self)
    key = self.config.get("KmsKeyId")
    if key and key != SecretsManagerBackend.DEFAULT_KMS_KEY_ALIAS:
        document["KmsKeyId"] = key
    else:
        document.pop("KmsKeyId", None)  # the region's default key, as on AWS
    return document


def _install() -> None:
    from moto.secretsmanager.models import FakeSecret, ReplicaSecret

    if not _original:
        _original["create_replicas"] = FakeSecret.create_replicas
        _original["to_dict"] = ReplicaSecret.to_dict
        FakeSecret.create_replicas = create_replicas  # type: ignore[method-assign]
        ReplicaSecret.to_dict = replica_to_dict  # type: ignore[method-assign]


def _uninstall() -> None:
    from moto.secretsmanager.models import FakeSecret, ReplicaSecret

    if _original:
        FakeSecret.create_replicas = _original.pop("create_replicas")  # type: ignore[method-assign]
        ReplicaSecret.to_dict = _original.pop("to_dict")  # type: ignore[method-assign]


EXTENSION = Extension(
    name="secretsmanager-replica-kms-key",
    closes="a secret's replica is encrypted with the KmsKeyId given for its region",
    install=_install, uninstall=_uninstall)
