"""Alarms that page before the database runs out of room, CPU, connections or replica freshness."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from constructs import Construct

_PERIOD = Duration.minutes(5)
_EVALUATION_PERIODS = 3


class DatabaseAlarms(Construct):
    """CPU, free storage and connections on the primary; replica lag on each replica.

    Every alarm notifies (alarm and OK) an SNS topic encrypted with `key` that only accepts TLS
    publishers. Missing data on replica lag is breaching: a replica that stops reporting lag has
    stopped replicating.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        primary: rds.IDatabaseInstance,
        replicas: Sequence[tuple[str, rds.IDatabaseInstance]],
        key: kms.IKey,
        cpu_percent: int,
        free_storage_bytes: int,
        connections: int,
        replica_lag_seconds: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Topic", master_key=key, enforce_ssl=True)
        action = actions.SnsAction(self.topic)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        def add(name: str, metric: cloudwatch.Metric, threshold: float,
                comparison: cloudwatch.ComparisonOperator, description: str,
                missing: cloudwatch.TreatMissingData) -> None:
            alarm = metric.create_alarm(
                self, name, threshold=threshold, comparison_operator=comparison,
                evaluation_periods=_EVALUATION_PERIODS, alarm_description=description,
                treat_missing_data=missing)
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
            self.alarms[name] = alarm

        gt = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        lt = cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
        not_breaching = cloudwatch.TreatMissingData.NOT_BREACHING
        add("PrimaryCpu", primary.metric_cpu_utilization(period=_PERIOD), cpu_percent, gt,
            f"Primary CPU above {cpu_percent}% for 15 minutes", not_breaching)
        add("PrimaryFreeStorage", primary.metric_free_storage_space(period=_PERIOD),
            free_storage_bytes, lt,
            f"Primary free storage below {free_storage_bytes // 2**30} GiB for 15 minutes",
            cloudwatch.TreatMissingData.BREACHING)
        add("PrimaryConnections", primary.metric_database_connections(period=_PERIOD),
            connections, gt, f"More than {connections} connections to the primary",
            not_breaching)
        for name, replica in replicas:
            add(f"{name}Lag",
                replica.metric("ReplicaLag", period=_PERIOD, statistic="Maximum"),
                replica_lag_seconds, gt,
                f"{name} more than {replica_lag_seconds}s behind the primary for 15 minutes",
                cloudwatch.TreatMissingData.BREACHING)
