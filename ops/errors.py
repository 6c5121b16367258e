"""Errors the CLI turns into one line on stderr and an exit code."""

from __future__ import annotations

from botocore.exceptions import ClientError


class OpsError(Exception):
    """An operation cannot go on. The message says what is wrong and what to do; exit code 1."""

    exit_code = 1


class Refusal(OpsError):
    """The failover refuses to act because acting would be unsafe or pointless; exit code 3."""

    exit_code = 3


class FailoverTimeout(OpsError):
    """The promoted replica did not become available in time; the failover can be resumed."""


def error_code(error: ClientError) -> str:
    """The AWS error code of `error`, e.g. 'DBInstanceNotFound'."""
    return str(error.response.get("Error", {}).get("Code", ""))


def describe_client_error(error: ClientError) -> str:
    """'Code: message' of an AWS error, for a one-line report."""
    err = error.response.get("Error", {})
    return f"{err.get('Code', 'Unknown')}: {err.get('Message', str(error))}"
