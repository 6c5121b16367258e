"""CloudFormation `AWS::SecretsManager::Secret`, with `GenerateSecretString` and `KmsKeyId`.

AWS behaviour: the resource creates a secret named `Name` (or `<LogicalId>-<12 random
characters>`), encrypted with `KmsKeyId` (default: the `aws/secretsmanager` key). Its value is
`SecretString`, or with `GenerateSecretString` a password built like `GetRandomPassword`
(`PasswordLength` default 32, `ExcludeCharacters`, `Exclude*`, `IncludeSpace`,
`RequireEachIncludedType` default true) and, with `SecretStringTemplate`, stored under
`GenerateStringKey` in that JSON document. `Ref` and `Fn::GetAtt Id` return the secret's ARN.
Gap in moto 5.2.5: the type is not supported; the resource is skipped, `Ref` to it resolves to
nothing and the database's `{{resolve:secretsmanager:...}}` credentials point nowhere.
"""

from __future__ import annotations

import json
import string
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.moto_api._internal import mock_random

from local_aws.fidelity._registry import (
    EmulatedResource,
    FidelityModel,
    model_extension,
)

RESOURCE_TYPE = "AWS::SecretsManager::Secret"
_NAME_SUFFIX_LENGTH = 12


def generate_secret_string(spec: dict[str, Any], *, logical_id: str, backend: Any) -> str:
    """The value `GenerateSecretString` asks for, built with Secrets Manager's password rules."""
    password: str = json.loads(backend.get_random_password(
        password_length=int(spec.get("PasswordLength", 32)),
        exclude_characters=spec.get("ExcludeCharacters", ""),
        exclude_numbers=bool(spec.get("ExcludeNumbers", False)),
        exclude_punctuation=bool(spec.get("ExcludePunctuation", False)),
        exclude_uppercase=bool(spec.get("ExcludeUppercase", False)),
        exclude_lowercase=bool(spec.get("ExcludeLowercase", False)),
        include_space=bool(spec.get("IncludeSpace", False)),
        require_each_included_type=bool(spec.get("RequireEachIncludedType", True)),
    ))["RandomPassword"]
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if (template is None) != (key is None):
        raise ValidationError(message=f"{logical_id}: GenerateSecretString needs both "
                                      "SecretStringTemplate and GenerateStringKey, or neither")
    if template is None:
        return password
    document = json.loads(template)
    if not isinstance(document, dict):
        raise ValidationError(message=f"{logical_id}: SecretStringTemplate must be a JSON object, "
                                      f"got {template!r}")
    document[key] = password
    return json.dumps(document)


class SecretModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    name_property = "Name"
    attributes = frozenset({"Id"})

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.secretsmanager.models import secretsmanager_backends

        logical_id = kwargs["LogicalId"]
        properties = cloudformation_json.get("Properties", {})
        backend = secretsmanager_backends[account_id][region_name]
        if "SecretString" in properties and "GenerateSecretString" in properties:
            raise ValidationError(message=f"{logical_id}: SecretString and GenerateSecretString "
                                          "are mutually exclusive")
        if "GenerateSecretString" in properties:
            secret_string = generate_secret_string(
                properties["GenerateSecretString"], logical_id=logical_id, backend=backend)
        else:
            secret_string = properties.get("SecretString")
        if "Name" in properties:
            name = properties["Name"]
        else:
            alphabet = string.ascii_letters
            suffix = "".join(mock_random.choice(alphabet) for _ in range(_NAME_SUFFIX_LENGTH))
            name = f"{logical_id}-{suffix}"
        backend.create_secret(
            name=name,
            secret_string=secret_string,
            secret_binary=None,
            description=properties.get("Description"),
            tags=properties.get("Tags"),
            kms_key_id=properties.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[{k: r[k] for k in ("Region", "KmsKeyId") if k in r}
                             for r in properties.get("ReplicaRegions", [])],
            force_overwrite=False,
        )
        arn = str(backend.secrets[name].arn)
        return EmulatedResource(
            physical_resource_id=arn,
            attributes={"Id": arn},
            on_delete=lambda: backend.delete_secret(
                secret_id=arn, recovery_window_in_days=None, force_delete_without_recovery=True),
        )


EXTENSION = model_extension(
    SecretModel, resource_type=RESOURCE_TYPE, name="secretsmanager-secret",
    closes="AWS::SecretsManager::Secret is created (GenerateSecretString honoured, KmsKeyId kept)")
