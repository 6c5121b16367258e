"""Reading DB instances: existence, health, replication source, tags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ops.errors import error_code

# Statuses in which an instance cannot serve as the writer. Transitional statuses (modifying,
# rebooting, backing-up, upgrading...) are not failures: RDS recovers from them on its own.
UNHEALTHY_STATUSES = frozenset({
    "failed", "storage-full", "restore-error", "deleting", "deleted", "stopped", "stopping",
    "inaccessible-encryption-credentials", "inaccessible-encryption-credentials-recoverable",
    "insufficient-capacity",
})
UNHEALTHY_PREFIXES = ("incompatible-",)
AVAILABLE = "available"
# Statuses a replica passes through while RDS promotes it.
PROMOTION_STATUSES = frozenset({"modifying", "rebooting", "backing-up", "configuring-log-exports"})


@dataclass(frozen=True, kw_only=True)
class Health:
    healthy: bool
    status: str
    reason: str


def describe_instance(rds: Any, identifier: str) -> dict[str, Any] | None:
    """The instance's `DBInstance` description, or None when it does not exist."""
    try:
        found: dict[str, Any] = rds.describe_db_instances(
            DBInstanceIdentifier=identifier)["DBInstances"][0]
    except ClientError as error:
        if error_code(error) == "DBInstanceNotFound":
            return None
        raise
    return found


def status_of(instance: dict[str, Any] | None) -> str:
    return "missing" if instance is None else str(instance.get("DBInstanceStatus", "unknown"))


def assess_health(instance: dict[str, Any] | None) -> Health:
    """Whether `instance` can serve writes: missing, failed, storage-full, incompatible-*... are
    unhealthy; every other status is healthy or recovers without a failover."""
    status = status_of(instance)
    if instance is None:
        return Health(healthy=False, status=status, reason="the instance does not exist")
    if status in UNHEALTHY_STATUSES or status.startswith(UNHEALTHY_PREFIXES):
        return Health(healthy=False, status=status, reason=f"status is {status}")
    return Health(healthy=True, status=status, reason=f"status is {status}")


def source_of(instance: dict[str, Any]) -> str | None:
    """The identifier the instance replicates from (an ARN source is reduced to its name)."""
    source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
    if not source:
        return None
    return str(source).rsplit(":", 1)[-1] if str(source).startswith("arn:") else str(source)


def endpoint_of(instance: dict[str, Any]) -> tuple[str, int] | None:
    endpoint = instance.get("Endpoint") or {}
    if not endpoint.get("Address"):
        return None
    return str(endpoint["Address"]), int(endpoint.get("Port", instance.get("DbInstancePort", 0)))


def tags_of(rds: Any, instance: dict[str, Any]) -> dict[str, str]:
    tags = instance.get("TagList")
    if tags is None:
        tags = rds.list_tags_for_resource(ResourceName=instance["DBInstanceArn"])["TagList"]
    return {t["Key"]: t["Value"] for t in tags}
