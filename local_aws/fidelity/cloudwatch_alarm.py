"""CloudFormation `AWS::CloudWatch::Alarm` (single-metric alarms), on moto's CloudWatch API.

AWS behaviour: creates the alarm `AlarmName` (or `<stack>-<LogicalId>-<random>`) on one metric
(`Namespace`, `MetricName`, `Dimensions`, `Statistic` or `ExtendedStatistic`, `Period`) compared
with `Threshold` over `EvaluationPeriods`, with `AlarmActions`, `OKActions`,
`InsufficientDataActions`, `TreatMissingData` and `Tags`. `Ref` is the alarm name; `Fn::GetAtt Arn`
its ARN. `DescribeAlarms` lists it (state `INSUFFICIENT_DATA` until data arrives).
Gap in moto 5.2.5: moto has the CloudWatch alarm API but no CloudFormation model, so the database's
CPU, storage, connection and replica-lag alarms are skipped.
Emulation limit: metric-math alarms (`Metrics`) are refused with a clear error (this app has none);
no metric data arrives, so alarms never leave `INSUFFICIENT_DATA` and never notify.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import (
    EmulatedResource,
    FidelityModel,
    model_extension,
)

RESOURCE_TYPE = "AWS::CloudWatch::Alarm"
_REQUIRED = ("ComparisonOperator", "EvaluationPeriods", "MetricName", "Namespace", "Period",
             "Threshold")


class CloudWatchAlarmModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    name_property = "AlarmName"
    attributes = frozenset({"Arn"})

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.cloudwatch.models import cloudwatch_backends

        logical_id = kwargs["LogicalId"]
        properties = cloudformation_json.get("Properties", {})
        if "Metrics" in properties:
            raise ValidationError(message=f"{logical_id}: metric-math alarms (Metrics) are not "
                                          "emulated; use MetricName/Namespace")
        missing = [p for p in _REQUIRED if p not in properties]
        if missing:
            raise ValidationError(message=f"{logical_id}: missing {', '.join(missing)}")
        if ("Statistic" in properties) == ("ExtendedStatistic" in properties):
            raise ValidationError(message=f"{logical_id}: give exactly one of Statistic and "
                                          "ExtendedStatistic")
        name = resource_name  # AlarmName, or moto's `<stack>-<LogicalId>-<random>` as on AWS
        backend: Any = cloudwatch_backends[account_id][region_name]
        alarm = backend.put_metric_alarm(
            name=name,
            namespace=properties["Namespace"],
            metric_name=properties["MetricName"],
            comparison_operator=properties["ComparisonOperator"],
            evaluation_periods=int(properties["EvaluationPeriods"]),
            datapoints_to_alarm=properties.get("DatapointsToAlarm"),
            period=int(properties["Period"]),
            threshold=float(properties["Threshold"]),
            statistic=properties.get("Statistic"),
            extended_statistic=properties.get("ExtendedStatistic"),
            description=properties.get("AlarmDescription"),
            dimensions=[{"Name": d["Name"], "Value": str(d["Value"])}
                        for d in properties.get("Dimensions", [])],
            alarm_actions=list(properties.get("AlarmActions", [])),
            ok_actions=list(properties.get("OKActions", [])),
            insufficient_data_actions=list(properties.get("InsufficientDataActions", [])),
            unit=properties.get("Unit"),
            actions_enabled=properties.get("ActionsEnabled", True),
            treat_missing_data=properties.get("TreatMissingData"),
            tags=properties.get("Tags"),
        )
        return EmulatedResource(physical_resource_id=name, attributes={"Arn": alarm.alarm_arn},
                                on_delete=lambda: backend.delete_alarms([name]))

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> EmulatedResource:
        """In place, as PutMetricAlarm on the same name does."""
        name = original_resource.physical_resource_id
        return cls.create_from_cloudformation_json(
            name, cloudformation_json, account_id, region_name, LogicalId=name)


EXTENSION = model_extension(
    CloudWatchAlarmModel, resource_type=RESOURCE_TYPE, name="cloudwatch-alarm",
    closes="AWS::CloudWatch::Alarm (single metric) is created",
    limit="no metric data arrives: alarms stay INSUFFICIENT_DATA and never notify")
