"""The secure floors of this project: the constructs' defaults and their validation, the
config's validation and the gate's rules read them here, so a construct and the rule that checks
it cannot disagree."""

from __future__ import annotations

#: Automated backups are kept at least this long (RDS allows 0..35; 0 turns them off).
MIN_BACKUP_RETENTION_DAYS = 7
#: Database and flow logs are audit evidence (AWS Control Tower CT.CLOUDWATCH.PR.2).
MIN_LOG_RETENTION_DAYS = 365
