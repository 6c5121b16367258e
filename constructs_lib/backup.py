"""An AWS Backup plan for the primary, independent of RDS automated backups."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct


class DatabaseBackupPlan(Construct):
    """Daily and monthly recovery points of `database` in a vault encrypted with `key`.

    - daily at 03:00 UTC, kept `daily_retention` (default 35 days);
    - monthly on the 1st at 04:00 UTC, moved to cold storage after 30 days, kept
      `monthly_retention` (default 1 year).
    The vault is retained when its stack is deleted and refuses deletion of its recovery points
    by anyone but the account root (a vault access policy). With `copy_to`, every recovery point
    is also copied to that vault (another region's, for disaster recovery) and kept there as
    long as at the source.
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
        copy_to: backup.IBackupVaultRef | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vault = backup.BackupVault(
            self,
            "Vault",
            encryption_key=key,
            removal_policy=RemovalPolicy.RETAIN,
            block_recovery_point_deletion=True,
        )
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
                move_to_cold_storage_after=Duration.days(30),
                delete_after=monthly_retention,
                copy_actions=_copy(copy_to, monthly_retention),
            )
        )
        self.selection = self.plan.add_selection(
            "Database",
            resources=[backup.BackupResource.from_rds_database_instance(database)],
        )


def _copy(vault: backup.IBackupVaultRef | None,
          retention: Duration) -> list[backup.BackupPlanCopyActionProps] | None:
    if vault is None:
        return None
    return [backup.BackupPlanCopyActionProps(destination_backup_vault=vault,
                                             delete_after=retention)]
