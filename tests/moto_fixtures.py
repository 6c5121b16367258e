"""What the in-process moto tests share: boto3 clients of one session, what every mock saves
(`lighten`), and a plain-moto fixture for the tests of the emulator's fidelity extensions."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.kms import models as moto_kms_models

from local_aws import fidelity

REGION = "us-east-1"

# One session for the run: botocore parses a service's JSON model once per session, and
# `mock_aws()` drops boto3's default session, which costs ~0.3 s per client per test otherwise.
SESSION = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                region_name=REGION)

# moto makes an RSA-2048 private key for every KMS key, symmetric ones too (~50 ms each);
# nothing here signs, so every key of the run shares one per key spec.
_private_key = functools.cache(moto_kms_models.generate_private_key)


@functools.cache
def client(service: str, region: str = REGION) -> Any:
    return SESSION.client(service, region_name=region)  # type: ignore[call-overload]


def lighten(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spare the mock the work no test here needs: ~50k default AMIs loaded into every new EC2
    backend (RDS and CloudFormation touch it: ~0.4 s a test) and a new RSA key per KMS key."""
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    monkeypatch.setattr(moto_kms_models, "generate_private_key", _private_key)


@pytest.fixture
def plain_moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test starts on plain moto, whatever another module installed, and leaves it so.
    A module makes it autouse with `pytestmark = pytest.mark.usefixtures("plain_moto")`."""
    lighten(monkeypatch)
    previously = fidelity.uninstall()
    with mock_aws():
        yield
    fidelity.uninstall()
    if previously:
        fidelity.install(only=previously)
