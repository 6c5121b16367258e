"""The project's Redundancy rules, each an explained check of one resource type."""

from policy.model import Rule
from policy.rules import (
    backups,
    credentials,
    disaster_recovery,
    encryption,
    network,
    redundancy,
    retention,
)

ALL_RULES: tuple[Rule, ...] = (
    *backups.RULES,
    *encryption.RULES,
    *redundancy.RULES,
    *retention.RULES,
    *credentials.RULES,
    *network.RULES,
    *disaster_recovery.RULES,
)

RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in ALL_RULES)
