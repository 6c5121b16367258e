"""The database stack's CloudFormation outputs: the only source of resource names.

The stack name follows `stacks.stack_name()` (`<prefix>-<env>-Database`); it is rebuilt here
because `stacks` imports aws_cdk and operations code must not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ops.errors import OpsError, describe_client_error

DEFAULT_STACK_PREFIX = "RedundantDb"
REQUIRED_OUTPUTS = (
    "PrimaryIdentifier", "PrimaryEndpoint", "Port", "SecretArn", "KeyArn",
    "WriterEndpointParameter",
)
_REPLICA_OUTPUT = re.compile(r"^Replica(?P<n>[1-9]\d*)(?P<kind>Identifier|Endpoint)$")


def database_stack_name(*, env: str, prefix: str = DEFAULT_STACK_PREFIX) -> str:
    return f"{prefix}-{env}-Database"


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


def parse_outputs(*, stack_name: str, stack_status: str,
                  outputs: dict[str, str]) -> DatabaseOutputs:
    """Typed outputs; raises `OpsError` naming every missing or malformed output."""
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        raise OpsError(f"stack {stack_name} lacks output(s) {', '.join(missing)} "
                       f"(status {stack_status}); redeploy it with `cdk deploy`")
    port_text = outputs["Port"]
    if not port_text.isdigit():
        raise OpsError(f"stack {stack_name} output Port={port_text!r} is not a port number")
    return DatabaseOutputs(
        stack_name=stack_name,
        stack_status=stack_status,
        primary_identifier=outputs["PrimaryIdentifier"],
        primary_endpoint=outputs["PrimaryEndpoint"],
        port=int(port_text),
        secret_arn=outputs["SecretArn"],
        key_arn=outputs["KeyArn"],
        writer_parameter=outputs["WriterEndpointParameter"],
        replicas=_parse_replicas(stack_name=stack_name, outputs=outputs),
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


def load_outputs(cloudformation: Any, *, stack_name: str) -> DatabaseOutputs:
    """The outputs of the deployed stack `stack_name`; `OpsError` when it is not deployed."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in describe_client_error(error):
            raise OpsError(f"stack {stack_name} does not exist in this account and region: "
                           "deploy it first (`make deploy` locally, `cdk deploy` on AWS) or "
                           "check --env/--region/--profile/--stack-prefix") from error
        raise
    stack = stacks[0]
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
    return parse_outputs(stack_name=stack_name, stack_status=stack["StackStatus"],
                         outputs=outputs)
