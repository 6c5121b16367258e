"""boto3 clients for one account and region.

The session honours `--profile` and `--region` like the AWS CLI, and botocore itself honours the
standard `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) variables, so the same code runs
against the local emulator and a real account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

# Adaptive retries ride out throttling during a regional incident, when failovers happen.
_CONFIG = Config(retries={"max_attempts": 10, "mode": "adaptive"})


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


def make_session(*, profile: str | None = None, region: str | None = None) -> boto3.Session:
    return boto3.Session(profile_name=profile, region_name=region)


def make_clients(session: boto3.Session) -> Clients:
    """Clients of `session`; raises `ValueError` when no region is known."""
    region = session.region_name
    if not region:
        raise ValueError("no AWS region: pass --region, set AWS_REGION or configure the profile")

    def client(service: str) -> Any:
        return session.client(service, region_name=region, config=_CONFIG)

    return Clients(
        region=region,
        cloudformation=client("cloudformation"),
        rds=client("rds"),
        kms=client("kms"),
        secretsmanager=client("secretsmanager"),
        ssm=client("ssm"),
        cloudwatch=client("cloudwatch"),
        sts=client("sts"),
    )
