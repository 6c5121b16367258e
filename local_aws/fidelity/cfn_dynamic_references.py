"""Dynamic references `{{resolve:secretsmanager:...}}` and `{{resolve:ssm:...}}` in templates.

AWS behaviour: CloudFormation replaces a dynamic reference in a resource property with the value it
names when it creates the resource: `{{resolve:secretsmanager:SECRET:SecretString:KEY:STAGE:VER}}`
(SECRET is a name or an ARN; KEY picks a JSON key; STAGE defaults to AWSCURRENT) and
`{{resolve:ssm:NAME[:VERSION]}}`. CDK's `Credentials.from_secret` passes the master user name and
password to `AWS::RDS::DBInstance` this way.
Gap in moto 5.2.5: the reference is kept as a literal string, so the instance's `MasterUsername`
reads `{{resolve:secretsmanager:arn:...:SecretString:username::}}` instead of `dbadmin`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import stack_location, string_extension

_REFERENCE = re.compile(r"\{\{resolve:(?P<service>secretsmanager|ssm):(?P<body>[^{}]+)\}\}")
_ARN_PARTS = 7  # arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX


def _secret_value(body: str, account_id: str, region: str) -> str:
    from moto.secretsmanager.models import secretsmanager_backends

    parts = body.split(":")
    if parts[0] == "arn":
        secret_id, rest = ":".join(parts[:_ARN_PARTS]), parts[_ARN_PARTS:]
        region = parts[3] or region
    else:
        secret_id, rest = parts[0], parts[1:]
    rest += [""] * (4 - len(rest))
    field, json_key, stage, version_id = rest[:4]
    if field not in ("", "SecretString"):
        raise ValidationError(message=f"Dynamic reference {{{{resolve:secretsmanager:{body}}}}}: "
                                      f"expected SecretString, got {field!r}")
    backend: Any = secretsmanager_backends[account_id][region]
    try:
        value = backend.get_secret_value(secret_id, version_id or None,
                                         stage or ("AWSCURRENT" if not version_id else None))
    except Exception as error:  # moto raises its own service exceptions
        raise ValidationError(
            message=f"Dynamic reference to secret {secret_id}: {error}") from error
    secret_string: str | None = value.get("SecretString")
    if secret_string is None:
        raise ValidationError(message=f"Dynamic reference to secret {secret_id}: it has no "
                                      "SecretString")
    if not json_key:
        return secret_string
    document = json.loads(secret_string)
    if json_key not in document:
        raise ValidationError(message=f"Dynamic reference to secret {secret_id}: no JSON key "
                                      f"{json_key!r} (keys: {', '.join(sorted(document))})")
    return str(document[json_key])


def _parameter_value(body: str, account_id: str, region: str) -> str:
    from moto.ssm.models import ssm_backends

    try:
        parameter = ssm_backends[account_id][region].get_parameter(body)
    except Exception as error:  # moto raises its own service exceptions
        raise ValidationError(message=f"Dynamic reference to parameter {body}: {error}") from error
    if parameter is None:
        raise ValidationError(message=f"Dynamic reference to parameter {body}: it does not exist")
    return str(parameter.value)


def resolve_dynamic_references(value: str, resources_map: Any) -> str:
    if "{{resolve:" not in value:
        return value
    account_id, region = stack_location(resources_map)

    def replace(match: re.Match[str]) -> str:
        if match["service"] == "secretsmanager":
            return _secret_value(match["body"], account_id, region)
        return _parameter_value(match["body"], account_id, region)

    return _REFERENCE.sub(replace, value)


EXTENSION = string_extension(
    resolve_dynamic_references, key="dynamic-references", name="cfn-dynamic-references",
    closes="{{resolve:secretsmanager:...}} and {{resolve:ssm:...}} are replaced by their values")
