"""What the in-process moto tests share: boto3 clients of one session, what every mock saves
(`lighten`), and a plain-moto fixture for the tests of the emulator's fidelity extensions."""

from __future__ import annotations

import copy
import copyreg
import functools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict, BaseBackend
from moto.ec2.models import ec2_backends
from moto.kms import models as moto_kms_models
from moto.ssm.models import ParameterDict

from local_aws import fidelity

REGION = "us-east-1"
DR_REGION = "us-west-2"

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


# moto's SSM parameter store is a defaultdict whose __init__ takes the account and region,
# which defaultdict's own reduction does not give back: copy it with them.
copyreg.pickle(ParameterDict, lambda d: (ParameterDict, (d.account_id, d.region_name),
                                         dict(vars(d)), None, iter(dict(d).items())))

#: What every moto backend holds, per BackendDict: {account: {region: backend}}.
State = list[tuple[BackendDict[Any], dict[str, dict[str, BaseBackend]]]]


def capture() -> State:
    """A deep copy of every moto backend (one copy: references between them stay shared)."""
    dicts = list(BackendDict._instances)  # type: ignore[misc]
    held = copy.deepcopy([{account: dict(regions) for account, regions in backends.items()}
                          for backends in dicts])
    return list(zip(dicts, held, strict=True))


def restore(state: State) -> None:
    """Every moto backend as `state` holds it, in a copy (the test may change it at will); a
    backend `state` does not hold starts empty, as after `BackendDict.reset()`. The per-account
    dicts stay: each lists its service's regions, which costs ~5 ms to make."""
    for backends in BackendDict._instances:  # type: ignore[misc]
        for regions in backends.values():
            regions.clear()
    held = copy.deepcopy([regions for _, regions in state])
    for (backends, _), accounts in zip(state, held, strict=True):
        for account, regions in accounts.items():
            backends[account].update(regions)


_EMPTY = pytest.StashKey[State]()


def _mock_module(module: pytest.Module) -> State:
    """One mock for the module's tests, stopped after its last; returns its empty state, with
    the EC2 backends of both regions made (each makes a default VPC and subnets: ~20 ms)."""
    patch = pytest.MonkeyPatch()
    lighten(patch)
    mock = mock_aws()
    mock.start()
    module.addfinalizer(patch.undo)
    module.addfinalizer(mock.stop)
    module.addfinalizer(lambda: module.stash.__delitem__(_EMPTY))  # a later test starts again
    for region in (REGION, DR_REGION):
        ec2_backends[DEFAULT_ACCOUNT_ID][region]  # noqa: B018 (made on first access)
    return capture()


@pytest.fixture
def plain_moto(request: pytest.FixtureRequest) -> Iterator[None]:
    """The test starts on plain moto with no resource, whatever another module installed or a
    test before it made, and leaves the extensions as it found them. One mock serves the whole
    module (starting one costs ~30 ms), emptied for each test. A module makes the fixture
    autouse with `pytestmark = pytest.mark.usefixtures("plain_moto")`."""
    module = request.node.getparent(pytest.Module)
    assert module is not None, "plain_moto serves tests of a module"
    previously = fidelity.uninstall()  # before the empty state is made: it is plain moto's
    if _EMPTY not in module.stash:
        module.stash[_EMPTY] = _mock_module(module)
    restore(module.stash[_EMPTY])
    yield
    fidelity.uninstall()
    if previously:
        fidelity.install(only=previously)
