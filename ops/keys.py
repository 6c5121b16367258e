"""KMS key identity: a key id, key ARN, alias name or alias ARN all resolve to one key ARN."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from botocore.exceptions import ClientError


class KeyResolver:
    """Resolves key references with `kms:DescribeKey`, once per reference."""

    def __init__(self, kms: Any) -> None:
        self._kms = kms
        self.arn = lru_cache(maxsize=None)(self._arn)

    def _arn(self, reference: str) -> str | None:
        """The key ARN `reference` names, or None when KMS does not know it."""
        try:
            return str(self._kms.describe_key(KeyId=reference)["KeyMetadata"]["Arn"])
        except ClientError:
            return None

    def same_key(self, reference: str | None, expected: str) -> bool:
        """Whether `reference` names the key `expected` names."""
        if not reference:
            return False
        if reference == expected:
            return True
        resolved = self.arn(reference)
        return resolved is not None and resolved == self.arn(expected)
