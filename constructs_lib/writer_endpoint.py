"""The SSM parameter applications read to find the writer, and failover runbooks repoint."""

from __future__ import annotations

import re

from aws_cdk import Token
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from constructs_lib.validation import invalid

_PARAMETER_NAME = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")


def check_parameter_name(owner: str, prop: str, name: str) -> str:
    """A literal hierarchical SSM parameter name ('/a/b'), at most 1011 characters: runbooks
    and applications look the parameter up by it."""
    if Token.is_unresolved(name) or len(name) > 1011 or not _PARAMETER_NAME.match(name):
        raise invalid(owner, prop, name, "a literal hierarchical SSM name such as "
                      "'/app-mysql/writer-endpoint' (letters, digits, _ . - between slashes)")
    return name


def writer_endpoint_parameter(scope: Construct, construct_id: str, *, parameter_name: str,
                              endpoint: str, description: str) -> ssm.StringParameter:
    """A String parameter `parameter_name` (see `check_parameter_name`) holding `endpoint`, the
    writer's `host:port`."""
    check_parameter_name("writer_endpoint_parameter", "parameter_name", parameter_name)
    return ssm.StringParameter(scope, construct_id, parameter_name=parameter_name,
                               string_value=endpoint, description=description)
