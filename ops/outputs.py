"""The stacks' CloudFormation outputs: the only source of resource names.

The stack that holds the writer has the writer outputs (`DatabaseOutputs`), the one that holds
its cross-region replica the DR outputs (`DrOutputs`); which stacks those are, and in which
regions, is the declared topology's (`ops.topology`, with the stack names of `config.naming`,
shared with the CDK app, which `ops` must not import: it pulls in aws_cdk).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from config.naming import APP_NAME
from ops.errors import OpsError, describe_client_error

DEFAULT_STACK_PREFIX = APP_NAME
REQUIRED_OUTPUTS = (
    "PrimaryIdentifier", "PrimaryEndpoint", "Port", "SecretArn", "KeyArn",
    "WriterEndpointParameter",
)
DR_REQUIRED_OUTPUTS = (
    "ReplicaIdentifier", "ReplicaEndpoint", "SourceRegion", "Port", "KeyArn",
    "WriterEndpointParameter",
)
_REPLICA_OUTPUT = re.compile(r"^Replica(?P<n>[1-9]\d*)(?P<kind>Identifier|Endpoint)$")


@dataclass(frozen=True, kw_only=True)
class ReplicaOutput:
    number: int
    identifier: str
    endpoint: str


@dataclass(frozen=True, kw_only=True)
class DatabaseOutputs:
    """What the database stack declares, as deployed."""

    stack_name: str
    stack_status: str
    primary_identifier: str
    primary_endpoint: str
    port: int
    secret_arn: str
    key_arn: str
    writer_parameter: str
    replicas: tuple[ReplicaOutput, ...]
    backup_plan_id: str | None = None  # optional output `BackupPlanId`

    @property
    def instance_identifiers(self) -> tuple[str, ...]:
        """The primary's identifier, then each replica's, in output order."""
        return (self.primary_identifier, *(r.identifier for r in self.replicas))

    def replica(self, identifier: str) -> ReplicaOutput | None:
        return next((r for r in self.replicas if r.identifier == identifier), None)

    @property
    def endpoints(self) -> dict[str, str]:
        """Deploy-time endpoint address -> identifier. RDS keeps an instance's endpoint for its
        whole life, promotion included, so this maps the writer parameter after a failover too."""
        return {self.primary_endpoint: self.primary_identifier,
                **{r.endpoint: r.identifier for r in self.replicas}}


@dataclass(frozen=True, kw_only=True)
class DrOutputs:
    """What the DR replica stack declares, as deployed (in the DR region)."""

    stack_name: str
    stack_status: str
    region: str  # the DR region (where the stack lives)
    replica_identifier: str
    replica_endpoint: str
    source_region: str
    port: int
    key_arn: str  # the DR-region CMK
    writer_parameter: str  # same name as the primary region's, in the DR region
    # Optional output `SecretName` (or `SecretArn`): finds the credentials secret's replica in
    # the DR region (a replica keeps its primary's name). Without it the replica's ARN is
    # derived from the primary's SecretArn (needs the primary region).
    secret_arn: str | None = None

    def secret_replica_arn(self, primary_secret_arn: str | None) -> str | None:
        """An id (ARN or name) of the secret's replica in the DR region (a replica keeps the
        primary secret's name, and its ARN with the region changed)."""
        if self.secret_arn:
            return self.secret_arn
        if not primary_secret_arn or primary_secret_arn.count(":") < 6:
            return None
        parts = primary_secret_arn.split(":")
        parts[3] = self.region
        return ":".join(parts)


def _required(*, stack_name: str, stack_status: str, outputs: dict[str, str],
              names: tuple[str, ...]) -> int:
    """Check the `names` are all present and `Port` is a number; returns the port."""
    missing = [name for name in names if not outputs.get(name)]
    if missing:
        raise OpsError(f"stack {stack_name} lacks output(s) {', '.join(missing)} "
                       f"(status {stack_status}); redeploy it with `cdk deploy`")
    port_text = outputs["Port"]
    if not port_text.isdigit():
        raise OpsError(f"stack {stack_name} output Port={port_text!r} is not a port number")
    return int(port_text)


def parse_outputs(*, stack_name: str, stack_status: str,
                  outputs: dict[str, str]) -> DatabaseOutputs:
    """Typed outputs; raises `OpsError` naming every missing or malformed output."""
    port = _required(stack_name=stack_name, stack_status=stack_status, outputs=outputs,
                     names=REQUIRED_OUTPUTS)
    return DatabaseOutputs(
        stack_name=stack_name,
        stack_status=stack_status,
        primary_identifier=outputs["PrimaryIdentifier"],
        primary_endpoint=outputs["PrimaryEndpoint"],
        port=port,
        secret_arn=outputs["SecretArn"],
        key_arn=outputs["KeyArn"],
        writer_parameter=outputs["WriterEndpointParameter"],
        replicas=_parse_replicas(stack_name=stack_name, outputs=outputs),
        backup_plan_id=outputs.get("BackupPlanId") or None,
    )


def _parse_replicas(*, stack_name: str, outputs: dict[str, str]) -> tuple[ReplicaOutput, ...]:
    found: dict[int, dict[str, str]] = {}
    for key, value in outputs.items():
        if m := _REPLICA_OUTPUT.match(key):
            found.setdefault(int(m["n"]), {})[m["kind"]] = value
    replicas = []
    for number in sorted(found):
        parts = found[number]
        if not parts.get("Identifier") or not parts.get("Endpoint"):
            raise OpsError(f"stack {stack_name} has an incomplete Replica{number} output pair "
                           f"(Replica{number}Identifier and Replica{number}Endpoint are both "
                           "required)")
        replicas.append(ReplicaOutput(number=number, identifier=parts["Identifier"],
                                      endpoint=parts["Endpoint"]))
    return tuple(replicas)


def parse_dr_outputs(*, stack_name: str, stack_status: str, region: str,
                     outputs: dict[str, str]) -> DrOutputs:
    """Typed DR replica stack outputs; raises `OpsError` naming every missing output."""
    port = _required(stack_name=stack_name, stack_status=stack_status, outputs=outputs,
                     names=DR_REQUIRED_OUTPUTS)
    return DrOutputs(
        stack_name=stack_name, stack_status=stack_status, region=region,
        replica_identifier=outputs["ReplicaIdentifier"],
        replica_endpoint=outputs["ReplicaEndpoint"], source_region=outputs["SourceRegion"],
        port=port, key_arn=outputs["KeyArn"],
        writer_parameter=outputs["WriterEndpointParameter"],
        secret_arn=outputs.get("SecretArn") or outputs.get("SecretName") or None)


def _describe(cloudformation: Any, stack_name: str) -> tuple[str, dict[str, str]]:
    """(status, outputs) of the deployed stack `stack_name`; `OpsError` when not deployed."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in describe_client_error(error):
            raise OpsError(f"stack {stack_name} does not exist in this account and region "
                           f"({cloudformation.meta.region_name}): deploy it first (`make "
                           "deploy` locally, `cdk deploy` on AWS) or check "
                           "--env/--region/--profile/--stack-prefix") from error
        raise
    stack = stacks[0]
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    return str(stack["StackStatus"]), outputs


def load_outputs(cloudformation: Any, *, stack_name: str) -> DatabaseOutputs:
    """The outputs of the deployed database stack `stack_name`."""
    status, outputs = _describe(cloudformation, stack_name)
    return parse_outputs(stack_name=stack_name, stack_status=status, outputs=outputs)


def load_dr_foundation_key(cloudformation: Any, *, stack_name: str) -> str:
    """`KeyArn` of the deployed DR foundation stack (a DR-region client): the DR-region CMK that
    encrypts the secret's replica and the backup copies (the primary's stack reads it before the
    DR replica stack, and its own key, exists)."""
    status, outputs = _describe(cloudformation, stack_name)
    if not outputs.get("KeyArn"):
        raise OpsError(f"stack {stack_name} lacks output KeyArn (status {status}); redeploy it "
                       "with `cdk deploy`")
    return outputs["KeyArn"]


def load_dr_outputs(cloudformation: Any, *, stack_name: str) -> DrOutputs:
    """The outputs of the deployed DR replica stack `stack_name` (a DR-region client)."""
    status, outputs = _describe(cloudformation, stack_name)
    return parse_dr_outputs(stack_name=stack_name, stack_status=status,
                            region=str(cloudformation.meta.region_name), outputs=outputs)


def stack_exists(cloudformation: Any, stack_name: str) -> bool:
    """Whether `stack_name` is deployed (in the client's account and region)."""
    try:
        _describe(cloudformation, stack_name)
    except OpsError:
        return False
    return True
