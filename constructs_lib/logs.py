"""Log groups for an instance's CloudWatch log exports, created before the instance."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from aws_cdk import RemovalPolicy, Token
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cloud_assembly.baseline import MIN_LOG_RETENTION_DAYS
from cloud_assembly.rds import LOG_RETENTION_DAYS
from constructs_lib.validation import db_identifier, invalid, log_retention_days


class InstanceLogGroups(Construct):
    """`/aws/rds/instance/<identifier>/<log>` for each exported log, encrypted and with retention.

    RDS would otherwise create these groups itself, unencrypted and kept forever. Creating them
    first (the instance depends on this construct) is the only way to choose their key and
    retention without a custom resource. The groups are retained with the stack: logs are
    evidence.

    Props:
    - `instance_identifier`: the DB instance whose logs these are (names the groups).
    - `log_types`: the exported logs, one group each (e.g. audit, error, slowquery).
    - `key`: the KMS key CloudWatch Logs encrypts them with; its policy must let the regional
      CloudWatch Logs service use it (`DatabaseKey` does).
    - `retention_days`: default `MIN_LOG_RETENTION_DAYS` (365); one of
      `cloud_assembly.rds.LOG_RETENTION_DAYS`, never less than the default.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        instance_identifier: str,
        log_types: Sequence[str],
        key: kms.IKey,
        retention_days: int = MIN_LOG_RETENTION_DAYS,
    ) -> None:
        db_identifier("InstanceLogGroups", "instance_identifier", instance_identifier)
        retention = retention_period(
            log_retention_days("InstanceLogGroups", "retention_days", retention_days))
        super().__init__(scope, construct_id)
        self.groups = {
            log: logs.LogGroup(
                self,
                log,
                log_group_name=f"/aws/rds/instance/{instance_identifier}/{log}",
                encryption_key=key,
                retention=retention,
                removal_policy=RemovalPolicy.RETAIN,
            )
            for log in log_types
        }


@cache
def _retention_by_days() -> dict[int, logs.RetentionDays]:
    """CDK's member for each retention in `LOG_RETENTION_DAYS`, found by its number of days.

    In Python a jsii enum member's value is its name; aws-cdk-lib itself sees the number, which
    `Token.as_number` hands back.
    """
    cdk_days = {int(Token.as_number(member)): member for member in logs.RetentionDays}
    return {days: cdk_days[days] for days in LOG_RETENTION_DAYS}


def retention_period(days: int) -> logs.RetentionDays:
    """CDK's enum member for a retention of `days` days (any value CloudWatch Logs accepts)."""
    if days not in LOG_RETENTION_DAYS:
        raise invalid("retention_period", "days", days,
                      f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
    return _retention_by_days()[days]
