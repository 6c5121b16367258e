"""An AWS Backup plan for the primary, independent of RDS automated backups."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from cloud_assembly.baseline import MIN_BACKUP_RETENTION_DAYS
from constructs_lib.validation import whole_days

# Monthly points move to cold storage after this; AWS Backup keeps a point there >= 90 days.
_COLD_AFTER_DAYS = 30
_MIN_COLD_DAYS = 90


def locked_vault(scope: Construct, construct_id: str, *, key: kms.IKey) -> backup.BackupVault:
    """A backup vault encrypted with `key`, retained when its stack is deleted, that refuses
    deletion of its recovery points by anyone but the account root (a vault access policy)."""
    return backup.BackupVault(scope, construct_id, encryption_key=key,
                              removal_policy=RemovalPolicy.RETAIN,
                              block_recovery_point_deletion=True)


class DatabaseBackupPlan(Construct):
    """Daily and monthly recovery points of `database` in a vault encrypted with `key`.

    - daily at 03:00 UTC, kept `daily_retention` (default 35 days);
    - monthly on the 1st at 04:00 UTC, moved to cold storage after 30 days, kept
      `monthly_retention` (default 1 year).
    The vault is a `locked_vault`. With `copy_to`, every recovery point is also copied to that
    vault (another region's, for disaster recovery) and kept there as long as at the source.

    Props:
    - `database`: the instance backed up.
    - `key`: encrypts the vault.
    - `daily_retention`: default 35 days; whole days, at least `MIN_BACKUP_RETENTION_DAYS` (7).
    - `monthly_retention`: default 365 days; whole days, at least 120 (30 days warm, then the
      90 days AWS Backup keeps a recovery point in cold storage at least).
    - `copy_to`: default none; a vault every recovery point is also copied to.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        database: rds.IDatabaseInstance,
        key: kms.IKey,
        daily_retention: Duration = Duration.days(35),
        monthly_retention: Duration = Duration.days(365),
        copy_to: backup.IBackupVault | None = None,
    ) -> None:
        whole_days("DatabaseBackupPlan", "daily_retention", daily_retention,
                   MIN_BACKUP_RETENTION_DAYS, None)
        whole_days("DatabaseBackupPlan", "monthly_retention", monthly_retention,
                   _COLD_AFTER_DAYS + _MIN_COLD_DAYS, None,
                   f" ({_COLD_AFTER_DAYS} days warm, then at least {_MIN_COLD_DAYS} in cold "
                   "storage)")
        super().__init__(scope, construct_id)
        self.vault = locked_vault(self, "Vault", key=key)
        self.plan = backup.BackupPlan(self, "Plan", backup_vault=self.vault)
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="Daily",
                schedule_expression=events.Schedule.cron(hour="3", minute="0"),
                start_window=Duration.hours(1),
                completion_window=Duration.hours(8),
                delete_after=daily_retention,
                copy_actions=_copy(copy_to, daily_retention),
            )
        )
        self.plan.add_rule(
            backup.BackupPlanRule(
                rule_name="Monthly",
                schedule_expression=events.Schedule.cron(day="1", hour="4", minute="0"),
                start_window=Duration.hours(1),
                completion_window=Duration.hours(8),
                move_to_cold_storage_after=Duration.days(_COLD_AFTER_DAYS),
                delete_after=monthly_retention,
                copy_actions=_copy(copy_to, monthly_retention),
            )
        )
        self.selection = self.plan.add_selection(
            "Database",
            resources=[backup.BackupResource.from_rds_database_instance(database)],
        )


def _copy(vault: backup.IBackupVault | None,
          retention: Duration) -> list[backup.BackupPlanCopyActionProps] | None:
    if vault is None:
        return None
    return [backup.BackupPlanCopyActionProps(destination_backup_vault=vault,
                                             delete_after=retention)]
