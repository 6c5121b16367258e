"""Whose credentials these are, and whether they may operate an env.

An env may pin its AWS account (config field `account`). `verify` reports the comparison as a
check and `failover` refuses to act on a mismatch; both ask `account_problem`, so they agree on
what a mismatch is and say it with the same words.
"""

from __future__ import annotations

from typing import Any

from config import DatabaseConfig


def caller_account(sts: Any) -> str:
    """The account of the credentials `sts` was made with."""
    return str(sts.get_caller_identity()["Account"])


def account_problem(config: DatabaseConfig, account: str) -> str | None:
    """Why credentials of `account` must not operate env `config`; None when they may (the env
    pins no account, or pins this one)."""
    if config.account is None or account == config.account:
        return None
    return (f"the credentials are for account {account}, but env {config.name} lives in account "
            f"{config.account}: check --profile")
