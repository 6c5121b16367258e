"""The project's Redundancy rules, each an explained check of one resource type."""

from policy.model import Rule
from policy.rules import (
    backups,
    configured,
    credentials,
    disaster_recovery,
    encryption,
    escape_hatch,
    lifecycle,
    network,
    redundancy,
    retention,
)

# Evaluated on each view, the construct tree and the template.
PER_VIEW_RULES: tuple[Rule, ...] = (
    *backups.RULES,
    *encryption.RULES,
    *redundancy.RULES,
    *retention.RULES,
    *credentials.RULES,
    *network.RULES,
    *disaster_recovery.RULES,
    *configured.RULES,
    *lifecycle.RULES,
)
# Evaluated once, on the template view, against the construct view.
CROSS_VIEW_RULES: tuple[Rule, ...] = escape_hatch.RULES

ALL_RULES: tuple[Rule, ...] = (*PER_VIEW_RULES, *CROSS_VIEW_RULES)

RULE_IDS: tuple[str, ...] = tuple(rule.id for rule in ALL_RULES)
