"""What the in-process moto tests of the emulator's fidelity extensions share: a plain-moto
fixture and boto3 clients of one session."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_aws import fidelity

REGION = "us-east-1"

# One session for the run: botocore parses a service's JSON model once per session, and
# `mock_aws()` drops boto3's default session, which costs ~0.3 s per client per test otherwise.
_SESSION = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION)


@functools.cache
def client(service: str, region: str = REGION) -> Any:
    return _SESSION.client(service, region_name=region)  # type: ignore[call-overload]


@pytest.fixture
def plain_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test starts on plain moto, whatever another module installed, and leaves it so.
    A module makes it autouse with `pytestmark = pytest.mark.usefixtures("plain_moto")`."""
    # moto loads ~50k default AMIs into every new EC2 backend (about 0.4 s a test otherwise).
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    previously = fidelity.uninstall()
    with mock_aws():
        yield
    fidelity.uninstall()
    if previously:
        fidelity.install(only=previously)
