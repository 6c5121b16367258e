"""CloudFormation `AWS::Backup::BackupVault`, on moto's AWS Backup API.

AWS behaviour: creates vault `BackupVaultName` encrypted with `EncryptionKeyArn`, tagged with
`BackupVaultTags`; `Ref` is the vault name, `Fn::GetAtt` gives `BackupVaultName` and
`BackupVaultArn`.
Gap in moto 5.2.5: moto has the Backup API but no CloudFormation model, so the vault is skipped and
the backup plan's rules point at nothing.
Emulation limit: `AccessPolicy` and `LockConfiguration` are not stored (moto has no vault access
policy API); `make deploy` lists them.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import (
    EmulatedResource,
    FidelityModel,
    model_extension,
)

RESOURCE_TYPE = "AWS::Backup::BackupVault"


class BackupVaultModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    name_property = "BackupVaultName"
    attributes = frozenset({"BackupVaultName", "BackupVaultArn"})

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.backup.models import backup_backends

        properties = cloudformation_json.get("Properties", {})
        name = properties.get("BackupVaultName") or resource_name
        if not name:
            raise ValidationError(message=f"{kwargs['LogicalId']}: BackupVaultName is required")
        backend = backup_backends[account_id][region_name]
        vault = backend.create_backup_vault(
            backup_vault_name=name, backup_vault_tags=properties.get("BackupVaultTags") or {},
            encryption_key_arn=properties.get("EncryptionKeyArn"),
            creator_request_id=kwargs["LogicalId"])
        return EmulatedResource(
            physical_resource_id=name,
            attributes={"BackupVaultName": name, "BackupVaultArn": vault.backup_vault_arn},
            on_delete=lambda: backend.delete_backup_vault(name))


EXTENSION = model_extension(
    BackupVaultModel, resource_type=RESOURCE_TYPE, name="backup-vault",
    closes="AWS::Backup::BackupVault is created (name, KMS key, tags)",
    limit="AccessPolicy and LockConfiguration are not stored (no such API in moto)")
