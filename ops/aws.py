"""boto3 clients for one account, per region.

The session honours `--profile` and `--region` like the AWS CLI, and botocore itself honours the
standard `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) variables, so the same code runs
against the local emulator and a real account.

Two kinds of clients: ordinary ones (adaptive retries, to ride out throttling during an incident)
and *probe* clients for a region that may be down (the primary region during a regional failover):
one attempt and short timeouts, so that a region that does not answer is known within seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ops.errors import describe_client_error

# Adaptive retries ride out throttling during a regional incident, when failovers happen; short
# connect timeouts make an unreachable endpoint (e.g. a stopped emulator) fail in seconds.
_CONFIG = Config(retries={"max_attempts": 5, "mode": "adaptive"}, connect_timeout=5,
                 read_timeout=30)
# A region that may be down: one attempt, answer within ~8 s or count as unreachable.
_PROBE_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=3,
                       read_timeout=5)
_SERVICES = ("cloudformation", "rds", "kms", "secretsmanager", "ssm", "cloudwatch", "sts",
             "backup")


@dataclass(frozen=True, kw_only=True)
class Clients:
    """The service clients the operations use, all bound to one session and region."""

    region: str
    cloudformation: Any
    rds: Any
    kms: Any
    secretsmanager: Any
    ssm: Any
    cloudwatch: Any
    sts: Any
    backup: Any = None


# (region, probe) -> Clients: how the CLI reaches a second region (and tests inject theirs).
ClientFactory = Callable[[str, bool], Clients]


def make_session(*, profile: str | None = None, region: str | None = None) -> boto3.Session:
    return boto3.Session(profile_name=profile, region_name=region)


def make_clients(session: boto3.Session, *, region: str | None = None,
                 probe: bool = False) -> Clients:
    """Clients of `session` in `region` (default: the session's); raises `ValueError` when no
    region is known. `probe`: one attempt, short timeouts (a region that may be down)."""
    region = region or session.region_name
    if not region:
        raise ValueError("no AWS region: pass --region, set AWS_REGION or configure the profile")
    config = _PROBE_CONFIG if probe else _CONFIG
    client: Any = session.client  # typed per literal service name; one loop keeps it short
    return Clients(region=region, **{
        service: client(service, region_name=region, config=config) for service in _SERVICES})


def session_factory(session: boto3.Session) -> ClientFactory:
    """A `ClientFactory` over one session (same profile and credentials in every region)."""
    def factory(region: str, probe: bool) -> Clients:
        return make_clients(session, region=region, probe=probe)
    return factory


def unreachable(error: Exception) -> bool:
    """Whether `error` means the region did not answer (connection, timeout, 5xx), as opposed to
    an answer that refuses (access denied, not found...)."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return int(status or 0) >= 500
    return isinstance(error, BotoCoreError)


def region_problem(error: BotoCoreError | ClientError, region: str) -> str:
    """One line on why a call to `region` failed: it did not answer, or it refused (and how)."""
    what = describe_client_error(error) if isinstance(error, ClientError) else str(error)
    return (f"{region} does not answer ({what})" if unreachable(error)
            else f"{region} refused ({what})")
