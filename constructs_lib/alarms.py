"""Alarms that page before the database runs out of room, CPU, connections or replica freshness."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib.validation import in_range

_PERIOD = Duration.minutes(5)
_EVALUATION_PERIODS = 3
_WINDOW = f"{int(_PERIOD.to_minutes()) * _EVALUATION_PERIODS} minutes"
_GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD


@dataclass(frozen=True, kw_only=True)
class AlarmThresholds:
    """When the database alarms fire, each after 3 periods of 5 minutes above (below) it.

    Props:
    - `replica_lag_seconds`: default 300; at least 1.
    - `cpu_percent`: primary CPU; default 80, from 1 to 100.
    - `free_storage_percent`: primary free storage, of its allocated storage; default 10,
      from 1 to 99.
    - `connections`: connections to the primary; default 500; at least 1.
    """

    replica_lag_seconds: int = 300
    cpu_percent: int = 80
    free_storage_percent: int = 10
    connections: int = 500

    def __post_init__(self) -> None:
        for prop, value, low, high in (
            ("replica_lag_seconds", self.replica_lag_seconds, 1, 2**31 - 1),
            ("cpu_percent", self.cpu_percent, 1, 100),
            ("free_storage_percent", self.free_storage_percent, 1, 99),
            ("connections", self.connections, 1, 2**31 - 1),
        ):
            in_range("AlarmThresholds", prop, value, low, high)


def alarm_topic(scope: Construct, construct_id: str, *, key: kms.IKey) -> sns.Topic:
    """The topic alarms notify: encrypted with `key` (whose policy must let CloudWatch use it,
    as `DatabaseKey`'s does), and refusing publishers without TLS."""
    return sns.Topic(scope, construct_id, master_key=key, enforce_ssl=True)


def _alarm(scope: Construct, construct_id: str, *, metric: cloudwatch.Metric, threshold: float,
           comparison: cloudwatch.ComparisonOperator, description: str,
           missing: cloudwatch.TreatMissingData, topic: sns.ITopic) -> cloudwatch.Alarm:
    """An alarm over 3 periods that notifies `topic` when it fires and when it recovers."""
    alarm = metric.create_alarm(
        scope, construct_id, threshold=threshold, comparison_operator=comparison,
        evaluation_periods=_EVALUATION_PERIODS, alarm_description=description,
        treat_missing_data=missing)
    action = actions.SnsAction(topic)
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)
    return alarm


def replica_lag_alarm(scope: Construct, construct_id: str, *, replica: rds.IDatabaseInstance,
                      label: str, threshold_seconds: int, topic: sns.ITopic,
                      impact: str | None = None) -> cloudwatch.Alarm:
    """Replica lag above `threshold_seconds` for 15 minutes. Missing data is breaching: a
    replica that stops reporting lag has stopped replicating."""
    description = (f"{label} more than {threshold_seconds}s behind the primary for {_WINDOW}"
                   + (f": {impact}" if impact else ""))
    return _alarm(scope, construct_id,
                  metric=replica.metric("ReplicaLag", period=_PERIOD, statistic="Maximum"),
                  threshold=threshold_seconds, comparison=_GT, description=description,
                  missing=cloudwatch.TreatMissingData.BREACHING, topic=topic)


class DatabaseAlarms(Construct):
    """CPU, free storage and connections on the primary; replica lag on each replica.

    Every alarm notifies (alarm and OK) an SNS topic encrypted with `key` that only accepts TLS
    publishers: `topic` when given, else one of its own (`Topic`).

    Props:
    - `primary`: the instance whose CPU, free storage and connections are watched.
    - `replicas`: (name, instance) of each replica; the name labels its lag alarm `<name>Lag`.
    - `key`: encrypts the topic.
    - `allocated_storage_gib`: the primary's allocated storage, which the free-storage
      threshold is a percentage of.
    - `thresholds`: default `AlarmThresholds()`.
    - `topic`: default: a topic of its own, encrypted with `key`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        primary: rds.IDatabaseInstance,
        replicas: Sequence[tuple[str, rds.IDatabaseInstance]],
        key: kms.IKey,
        allocated_storage_gib: int,
        thresholds: AlarmThresholds = AlarmThresholds(),
        topic: sns.ITopic | None = None,
    ) -> None:
        in_range("DatabaseAlarms", "allocated_storage_gib", allocated_storage_gib, 1, 65536)
        super().__init__(scope, construct_id)
        t = thresholds
        self.topic = topic or alarm_topic(self, "Topic", key=key)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        def add(name: str, metric: cloudwatch.Metric, threshold: float,
                comparison: cloudwatch.ComparisonOperator, description: str,
                missing: cloudwatch.TreatMissingData) -> None:
            self.alarms[name] = _alarm(self, name, metric=metric, threshold=threshold,
                                       comparison=comparison, description=description,
                                       missing=missing, topic=self.topic)

        not_breaching = cloudwatch.TreatMissingData.NOT_BREACHING
        free_storage_bytes = allocated_storage_gib * 2**30 * t.free_storage_percent // 100
        add("PrimaryCpu", primary.metric_cpu_utilization(period=_PERIOD), t.cpu_percent, _GT,
            f"Primary CPU above {t.cpu_percent}% for {_WINDOW}", not_breaching)
        add("PrimaryFreeStorage", primary.metric_free_storage_space(period=_PERIOD),
            free_storage_bytes, cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            f"Primary free storage below {free_storage_bytes // 2**30} GiB for {_WINDOW}",
            cloudwatch.TreatMissingData.BREACHING)
        add("PrimaryConnections", primary.metric_database_connections(period=_PERIOD),
            t.connections, _GT, f"More than {t.connections} connections to the primary",
            not_breaching)
        for name, replica in replicas:
            self.alarms[f"{name}Lag"] = replica_lag_alarm(
                self, f"{name}Lag", replica=replica, label=name,
                threshold_seconds=t.replica_lag_seconds, topic=self.topic)
