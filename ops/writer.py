"""The writer endpoint applications read: the SSM parameter ("host:port") and the host/port
fields of the credentials secret. The secret's other fields (the password) are never returned,
printed or logged by this module."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ops.errors import OpsError, error_code


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Endpoint | None:
        """'host:port' to an Endpoint; None when `text` is not of that form."""
        host, sep, port = text.strip().rpartition(":")
        if not sep or not host or not port.isdigit():
            return None
        return cls(host=host, port=int(port))


@dataclass(frozen=True, kw_only=True)
class ParameterValue:
    name: str
    value: str | None  # None: the parameter does not exist
    type: str | None


def read_parameter(ssm: Any, name: str) -> ParameterValue:
    try:
        p = ssm.get_parameter(Name=name)["Parameter"]
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return ParameterValue(name=name, value=None, type=None)
        raise
    return ParameterValue(name=name, value=str(p["Value"]), type=str(p.get("Type", "String")))


def write_parameter(ssm: Any, *, current: ParameterValue, endpoint: Endpoint) -> bool:
    """Point the parameter at `endpoint`; False (nothing written) when it already does."""
    if current.value == str(endpoint):
        return False
    ssm.put_parameter(Name=current.name, Value=str(endpoint), Type=current.type or "String",
                      Overwrite=True)
    return True


@dataclass(frozen=True, kw_only=True)
class SecretEndpoint:
    """The connection fields of the credentials secret; deliberately holds no credential."""

    host: str | None
    port: int | None
    instance_identifier: str | None


def secret_document(secrets: Any, secret_arn: str) -> dict[str, Any]:
    try:
        text = secrets.get_secret_value(SecretId=secret_arn)["SecretString"]
    except KeyError as error:
        raise OpsError(f"secret {secret_arn} holds binary data, not the JSON credentials "
                       "document RDS uses") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        # Never echo the text: it is a credential.
        raise OpsError(f"secret {secret_arn} is not a JSON document (value not shown)") from None
    if not isinstance(document, dict):
        raise OpsError(f"secret {secret_arn} is not a JSON object (value not shown)")
    return document


def _port(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def read_secret_endpoint(secrets: Any, secret_arn: str) -> SecretEndpoint:
    document = secret_document(secrets, secret_arn)
    host = document.get("host")
    return SecretEndpoint(host=str(host) if host else None, port=_port(document.get("port")),
                          instance_identifier=document.get("dbInstanceIdentifier"))


def write_secret_endpoint(secrets: Any, *, secret_arn: str, endpoint: Endpoint,
                          instance_identifier: str) -> bool:
    """Set the secret's host and port (and `dbInstanceIdentifier` when present), keeping every
    other field; False (no new version) when they already match."""
    document = secret_document(secrets, secret_arn)
    wanted = {"host": endpoint.host, "port": endpoint.port}
    if "dbInstanceIdentifier" in document:
        wanted["dbInstanceIdentifier"] = instance_identifier
    if all(document.get(k) == v for k, v in wanted.items()):
        return False
    document.update(wanted)
    secrets.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(document))
    return True


def identify_endpoint(host: str, *, known: dict[str, str],
                      instances: dict[str, dict[str, Any] | None]) -> str | None:
    """The identifier of the instance whose endpoint address is `host`: first by the stack's
    outputs (`known`, address -> identifier), then by the live instances' endpoints."""
    if host in known:
        return known[host]
    for identifier, instance in instances.items():
        address = ((instance or {}).get("Endpoint") or {}).get("Address")
        if address == host:
            return identifier
    return None


def names_instance(parameter: ParameterValue, *, identifier: str, endpoint: str,
                   instance: dict[str, Any] | None) -> bool:
    """Whether `parameter` names the instance `identifier` (deploy-time endpoint address
    `endpoint`, or the live `instance`'s)."""
    value = Endpoint.parse(parameter.value or "")
    return value is not None and identify_endpoint(
        value.host, known={endpoint: identifier}, instances={identifier: instance}) is not None
