"""Configured values are promises: where the environment's config sets a property, the resource
carries at least that. The config reaches the rules as plain data (`PolicySettings`, built by
`policy.gate`); a promise the settings leave empty is not checked."""

from __future__ import annotations

import re
from typing import Any

from cloud_assembly.template import Resource, literal_string, truthy
from policy.model import (
    COMPLIANT,
    NOT_APPLICABLE,
    Result,
    Rule,
    StackView,
    is_replica,
    is_writer,
    non_compliant,
)

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(day|days|hour|hours)\s*\)$")
_ABOVE = ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold")
_BELOW = ("LessThanThreshold", "LessThanOrEqualToThreshold")


def _number(value: Any) -> float | None:
    """A literal number (CloudFormation accepts numbers as strings too), else None."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _property(name: str, detail: str) -> Result:
    return non_compliant(f"{name}: {detail}", f"Property::{name}")


def _instance(resource: Resource, stack: StackView) -> Result | tuple[Result, ...]:
    settings = stack.settings
    if not settings.instances:
        return NOT_APPLICABLE
    identifier = resource.prop("DBInstanceIdentifier")
    promise = settings.instance(identifier)
    if promise is None:
        declared = ", ".join(i.identifier for i in settings.instances)
        return _property("DBInstanceIdentifier", f"{identifier!r} is no instance the config "
                         f"declares ({declared})")
    found: list[Result] = []
    if promise.replica != is_replica(resource):
        found.append(_property("SourceDBInstanceIdentifier", (
            "the config declares a read replica; the template makes it a standalone instance"
            if promise.replica else "the config declares the primary; the template makes it "
            "a read replica")))
    interval = _number(resource.prop("MonitoringInterval"))
    if not interval:
        found.append(_property("MonitoringInterval", f"{resource.prop('MonitoringInterval')!r}: "
                               "enhanced monitoring is off; configured every "
                               f"{promise.monitoring_interval} s"))
    elif interval > promise.monitoring_interval:
        found.append(_property("MonitoringInterval", f"every {interval:g} s; configured every "
                               f"{promise.monitoring_interval} s"))
    exported = resource.prop("EnableCloudwatchLogsExports") or []
    for log in promise.log_exports:
        if not isinstance(exported, list) or log not in exported:
            found.append(non_compliant(f"EnableCloudwatchLogsExports={exported!r} lacks the "
                                       f"configured {log!r}", f"LogExport::{log}"))
    if promise.backup_retention_days is not None:
        days = _number(resource.prop("BackupRetentionPeriod"))
        if days is None or days < promise.backup_retention_days:
            found.append(_property("BackupRetentionPeriod",
                                   f"{resource.prop('BackupRetentionPeriod')!r}; configured "
                                   f"{promise.backup_retention_days} days"))
    if promise.multi_az and not truthy(resource.prop("MultiAZ")):
        found.append(_property("MultiAZ", f"{resource.prop('MultiAZ')!r}; configured multi-AZ"))
    if _number(resource.prop("Port")) != promise.port:
        found.append(_property("Port", f"{resource.prop('Port')!r}; configured {promise.port}"))
    if promise.performance_insights and not truthy(resource.prop("EnablePerformanceInsights")):
        found.append(_property("EnablePerformanceInsights",
                               f"{resource.prop('EnablePerformanceInsights')!r}; configured on"))
    for name, wanted in (("EngineVersion", promise.engine_version),
                         ("EngineLifecycleSupport", promise.lifecycle_support)):
        if wanted is not None and resource.prop(name) != wanted:
            found.append(_property(name, f"{resource.prop(name)!r}; configured {wanted!r}"))
    if not promise.replica and is_writer(resource, stack):
        found += _declared_instances(resource, stack)
    return tuple(found) or COMPLIANT


def _declared_instances(primary: Resource, stack: StackView) -> list[Result]:
    """On the primary: every instance the config declares exists, and at least
    `replica_count` same-region replicas of this primary."""
    found = []
    for promise in stack.settings.instances:
        if promise.identifier != primary.prop("DBInstanceIdentifier") and \
                stack.instance_named(promise.identifier) is None:
            found.append(non_compliant(f"the config declares {promise.identifier}; no DB "
                                       "instance of the app has that identifier",
                                       f"Instance::{promise.identifier}"))
    wanted = stack.settings.replica_count
    if wanted is not None:
        replicas = sum(1 for other in stack.of_type("AWS::RDS::DBInstance")
                       if is_replica(other)
                       and stack.target(other.prop("SourceDBInstanceIdentifier")) is primary)
        if replicas < wanted:
            found.append(non_compliant(f"{replicas} read replica(s) of this primary in its "
                                       f"stack; configured {wanted}", "ReplicaCount"))
    return found


INSTANCE_AS_CONFIGURED = Rule(
    id="Redundancy-InstanceAsConfigured",
    info="A database instance does not carry what the environment's config sets for it.",
    explanation="The config is the contract reviewed for each environment: monitoring interval, "
                "exported logs, backup retention, multi-AZ, port, Performance Insights, engine "
                "version, Extended Support and the number of replicas. An instance (found by "
                "its configured identifier) that monitors less often, exports fewer logs, keeps "
                "backups for less time or runs single-AZ, on another port, on another engine "
                "version, with another EngineLifecycleSupport (paid Extended Support nobody "
                "chose, or none where it was), or without its replicas quietly breaks it.",
    resource_types=("AWS::RDS::DBInstance",),
    check=_instance,
)


def _log_retention(resource: Resource, stack: StackView) -> Result:
    wanted = stack.settings.log_retention_days
    if wanted is None:
        return NOT_APPLICABLE
    value = resource.prop("RetentionInDays")
    if value is None:
        return COMPLIANT  # CloudWatch Logs keeps the events forever
    days = _number(value)
    if days is None or days < wanted:
        return _property("RetentionInDays", f"{value!r}; configured {wanted} days")
    return COMPLIANT


LOG_RETENTION_AS_CONFIGURED = Rule(
    id="Redundancy-LogRetentionAsConfigured",
    info="A log group keeps its events for less than the configured log retention.",
    explanation="Database and flow logs are audit evidence: they are kept for the environment's "
                "log_retention_days (never below a year). A shorter retention deletes evidence "
                "before anyone asks for it.",
    resource_types=("AWS::Logs::LogGroup",),
    check=_log_retention,
)


def _rotation_days(rules: Any) -> float | None:
    """The rotation interval in days of a schedule's RotationRules, None when not a literal
    `AutomaticallyAfterDays` or `rate(...)` expression."""
    if not isinstance(rules, dict):
        return None
    if "AutomaticallyAfterDays" in rules:
        return _number(rules["AutomaticallyAfterDays"])
    match = _RATE.match(literal_string(rules.get("ScheduleExpression")) or "")
    if match is None:
        return None
    return int(match[1]) / (24 if match[2].startswith("hour") else 1)


def _rotation(resource: Resource, stack: StackView) -> Result:
    wanted = stack.settings.secret_rotation_days
    if wanted is None:
        return NOT_APPLICABLE
    rules = resource.prop("RotationRules")
    days = _rotation_days(rules)
    if days is None:
        return _property("RotationRules", f"{rules!r} is no literal interval (AutomaticallyAfter"
                         f"Days or rate(...)); configured every {wanted} days")
    if days > wanted:
        return _property("RotationRules", f"every {days:g} days; configured every {wanted} days")
    return COMPLIANT


ROTATION_AS_CONFIGURED = Rule(
    id="Redundancy-RotationAsConfigured",
    info="The credentials secret rotates less often than the configured interval.",
    explanation="secret_rotation_days bounds how long a leaked password stays valid. A schedule "
                "that rotates less often, or whose interval cannot be read, extends that window.",
    resource_types=("AWS::SecretsManager::RotationSchedule",),
    check=_rotation,
)


def _alarm(resource: Resource, stack: StackView) -> Result:
    if resource.prop("Namespace") != "AWS/RDS":
        return NOT_APPLICABLE
    promise = next((a for a in stack.settings.alarms if a.metric == resource.prop("MetricName")),
                   None)
    if promise is None:
        return NOT_APPLICABLE
    operator = resource.prop("ComparisonOperator")
    if operator not in (_ABOVE if promise.above else _BELOW):
        return _property("ComparisonOperator", f"{operator!r}; the configured alarm fires "
                         f"{'above' if promise.above else 'below'} its threshold")
    threshold = _number(resource.prop("Threshold"))
    late = threshold is None or (threshold > promise.threshold if promise.above
                                 else threshold < promise.threshold)
    if late:
        return _property("Threshold", f"{resource.prop('Threshold')!r}; configured "
                         f"{promise.threshold:g} (fires {'above' if promise.above else 'below'})")
    return COMPLIANT


ALARM_AS_CONFIGURED = Rule(
    id="Redundancy-AlarmAsConfigured",
    info="A database alarm fires later than its configured threshold.",
    explanation="The alarms' thresholds (CPU, free storage, connections, replica lag) are "
                "configured per environment so someone is paged in time. A higher threshold "
                "(lower, for free storage) or a flipped comparison pages too late or never.",
    resource_types=("AWS::CloudWatch::Alarm",),
    check=_alarm,
)

RULES = (INSTANCE_AS_CONFIGURED, LOG_RETENTION_AS_CONFIGURED, ROTATION_AS_CONFIGURED,
         ALARM_AS_CONFIGURED)
