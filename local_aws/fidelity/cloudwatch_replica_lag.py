"""CloudWatch `AWS/RDS ReplicaLag` of a PostgreSQL read replica, measured on its server.

AWS behaviour: RDS publishes, every minute, each read replica's `ReplicaLag` (seconds behind its
source, dimension `DBInstanceIdentifier`) in the namespace `AWS/RDS`; the runbooks read it to
choose a replica, estimate the RPO, and refuse a planned failover to a replica that lags.
Gap in moto 5.2.5: nothing publishes RDS metrics, so `GetMetricStatistics` has no `ReplicaLag`
datapoint and every lag reads as unknown.

With this extension, while a PostgreSQL engine is attached (`rds_postgres_engine`), a
`GetMetricStatistics` call for `AWS/RDS ReplicaLag` of a replica that runs a server first
publishes the lag measured on that server (`Engine.lag`: 0 when it has replayed all its source's
WAL, else the seconds since the last commit it replayed), stamped now; moto then answers as it
does for any published datapoint. As RDS publishes one datapoint a minute, a measurement replaces
the one published earlier in the same minute (a replica that caught up reads 0 at once, not the
minute's maximum). Instances without a server (other engines, no engine attached) get nothing,
as before.

Emulation limits: published when `GetMetricStatistics` reads it (not every minute, and not for
`GetMetricData`); a replica whose server or source is stopped has no datapoint.
"""

from __future__ import annotations

from typing import Any

from local_aws.engine import EngineError
from local_aws.fidelity import rds_postgres_engine
from local_aws.fidelity._registry import Extension

NAMESPACE = "AWS/RDS"
METRIC = "ReplicaLag"
DIMENSION = "DBInstanceIdentifier"

_originals: dict[str, Any] = {}


def measured_lag(account_id: str, region: str, identifier: str) -> float | None:
    """The seconds the replica `identifier` is behind its source, measured on its server; None
    when it has no server, is no replica, or the lag cannot be measured now."""
    from moto.rds.models import rds_backends

    engine = rds_postgres_engine.attached()
    if engine is None:
        return None
    database = rds_backends[account_id][region].databases.get(identifier)
    name = rds_postgres_engine.server_of(database) if database is not None else None
    server = engine.server(name) if name is not None else None
    if name is None or server is None or not server.replica:
        return None
    try:
        lag = engine.lag(name)
    except EngineError:  # stopped, or its source is: RDS publishes nothing either
        return None
    return lag.seconds


def publish(backend: Any, identifier: str, seconds: float) -> None:
    """Put the replica's `ReplicaLag` datapoint of this minute (stamped by moto, as it stamps
    every datapoint), replacing the one published earlier in the minute."""
    backend.put_metric_data(NAMESPACE, [{
        "MetricName": METRIC, "Value": seconds, "Unit": "Seconds",
        "Dimensions": [{"Name": DIMENSION, "Value": identifier}]}])
    latest = backend.metric_data[-1]
    minute = latest.timestamp.replace(second=0, microsecond=0)
    backend.metric_data = [
        d for d in backend.metric_data[:-1]
        if not (d.namespace == NAMESPACE and d.name == METRIC
                and [(x.name, x.value) for x in d.dimensions] == [(DIMENSION, identifier)]
                and d.timestamp.replace(second=0, microsecond=0) == minute)] + [latest]


def _instance(dimensions: list[dict[str, str]] | None) -> str | None:
    for dimension in dimensions or ():
        if dimension.get("Name") == DIMENSION:
            return dimension.get("Value")
    return None


def get_metric_statistics(self: Any, namespace: str, metric_name: str, *args: Any,
                          **kwargs: Any) -> Any:
    dimensions = kwargs.get("dimensions", args[5] if len(args) > 5 else None)
    identifier = _instance(dimensions) if (namespace, metric_name) == (NAMESPACE, METRIC) \
        else None
    seconds = measured_lag(self.account_id, self.region_name, identifier) \
        if identifier is not None else None
    if seconds is not None:
        assert identifier is not None
        publish(self, identifier, seconds)
    return _originals["get_metric_statistics"](self, namespace, metric_name, *args, **kwargs)


def _install() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    if not _originals:
        _originals["get_metric_statistics"] = CloudWatchBackend.get_metric_statistics
        CloudWatchBackend.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]


def _uninstall() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    if _originals:
        CloudWatchBackend.get_metric_statistics = _originals.pop(  # type: ignore[method-assign]
            "get_metric_statistics")


EXTENSION = Extension(
    name="cloudwatch-replica-lag",
    closes="AWS/RDS ReplicaLag of a PostgreSQL read replica: the lag measured on its server",
    install=_install, uninstall=_uninstall,
)
