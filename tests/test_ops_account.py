"""The account check `verify` and `failover` share (`ops.account.account_problem`): one problem,
reported by `verify` as a FAIL line and by both failovers as a refusal, in the same words."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from config.environments import ENVIRONMENTS
from ops.account import account_problem
from ops.aws import Clients
from tests.ops_fixtures import (
    Deployed,
    dr_config,
    fresh_dr_environment,
    local_config,
    mocked_two_regions,
)

OTHER = "210987654321"
PROBLEM = (f"the credentials are for account {DEFAULT_ACCOUNT_ID}, but env local lives in "
           f"account {OTHER}: check --profile")


@pytest.fixture(scope="module")
def regions() -> Iterator[tuple[Clients, Clients]]:
    with mocked_two_regions() as clients:
        yield clients


def deployed(regions: tuple[Clients, Clients], monkeypatch: pytest.MonkeyPatch, *,
             account: str | None) -> Deployed:
    """env local with its DR region, its config pinned to `account`: the deployed resources do
    not name the account, so every test restores the same deployed state."""
    env = fresh_dr_environment(*regions, monkeypatch)
    config = dr_config(account=account)
    monkeypatch.setitem(ENVIRONMENTS, config.name, config)
    return dataclasses.replace(env, config=config)


@pytest.mark.parametrize(("pinned", "problem"), [
    (None, None),  # the env pins no account: any credentials may operate it
    (DEFAULT_ACCOUNT_ID, None),
    (OTHER, PROBLEM),
])
def test_account_problem(pinned: str | None, problem: str | None) -> None:
    assert account_problem(local_config(account=pinned), DEFAULT_ACCOUNT_ID) == problem


def test_verify_fails_with_the_problem(regions: tuple[Clients, Clients],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    env = deployed(regions, monkeypatch, account=OTHER)

    code, out, _ = env.run("verify")

    assert code == 1
    assert [line for line in out.splitlines() if line.startswith("FAIL")] == [
        f"FAIL  account {DEFAULT_ACCOUNT_ID}: account of the credentials: expected {OTHER}, "
        f"actual {DEFAULT_ACCOUNT_ID} ({PROBLEM})"]


@pytest.mark.parametrize("argv", [("failover",), ("failover", "--region-dr")])
def test_failovers_refuse_with_the_problem(regions: tuple[Clients, Clients],
                                           monkeypatch: pytest.MonkeyPatch,
                                           argv: tuple[str, ...]) -> None:
    """Checked before anything else: the healthy writer would be refused too, with another
    message."""
    env = deployed(regions, monkeypatch, account=OTHER)
    assert env.dr is not None
    before = (env.parameter_value(), env.dr_parameter_value(), env.tags(env.replicas[0]),
              env.tags(env.dr.replica))

    code, out, err = env.run(*argv)

    assert (code, out, err) == (3, "", f"error: {PROBLEM}\n")
    assert (env.parameter_value(), env.dr_parameter_value(), env.tags(env.replicas[0]),
            env.tags(env.dr.replica)) == before


@pytest.mark.parametrize(("pinned", "line"), [
    (DEFAULT_ACCOUNT_ID, f"PASS  account {DEFAULT_ACCOUNT_ID}: account of the credentials = "
                         f"{DEFAULT_ACCOUNT_ID}"),
    (None, f"SKIP  account {DEFAULT_ACCOUNT_ID}: account (env local pins no account)"),
])
def test_verify_passes_or_skips_without_a_problem(regions: tuple[Clients, Clients],
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  pinned: str | None, line: str) -> None:
    env = deployed(regions, monkeypatch, account=pinned)

    code, out, _ = env.run("verify")

    assert code == 0
    assert line in out.splitlines()
