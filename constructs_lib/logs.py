"""Log groups for an instance's CloudWatch log exports, created before the instance."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


class InstanceLogGroups(Construct):
    """`/aws/rds/instance/<identifier>/<log>` for each exported log, encrypted and with retention.

    RDS would otherwise create these groups itself, unencrypted and kept forever. Creating them
    first (the instance depends on this construct) is the only way to choose their key and
    retention without a custom resource. The groups are retained with the stack: logs are
    evidence.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        instance_identifier: str,
        log_types: Sequence[str],
        key: kms.IKey,
        retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.groups = {
            log: logs.LogGroup(
                self,
                log,
                log_group_name=f"/aws/rds/instance/{instance_identifier}/{log}",
                encryption_key=key,
                retention=retention_period(retention_days),
                removal_policy=RemovalPolicy.RETAIN,
            )
            for log in log_types
        }


_RETENTION = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS",
    30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS", 120: "FOUR_MONTHS", 150: "FIVE_MONTHS",
    180: "SIX_MONTHS", 365: "ONE_YEAR", 400: "THIRTEEN_MONTHS", 545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS", 1096: "THREE_YEARS", 1827: "FIVE_YEARS", 2192: "SIX_YEARS",
    2557: "SEVEN_YEARS", 2922: "EIGHT_YEARS", 3288: "NINE_YEARS", 3653: "TEN_YEARS",
}


def retention_period(days: int) -> logs.RetentionDays:
    """CDK's enum member for a retention of `days` days."""
    if days not in _RETENTION:
        raise ValueError(f"log_retention_days={days}: allowed are {sorted(_RETENTION)}")
    return getattr(logs.RetentionDays, _RETENTION[days])
