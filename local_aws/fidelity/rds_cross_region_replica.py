"""Deleting a cross-region read replica detaches it from its source.

AWS behaviour: deleting a read replica removes it from its source's
`ReadReplicaDBInstanceIdentifiers`, where a same-region replica is listed by identifier and a
cross-region replica by ARN (`arn:aws:rds:us-west-2:ACCOUNT:db:local-postgres-dr-replica`).
Gap in moto 5.2.5: the source lists a cross-region replica by ARN (as AWS does), but deleting the
replica removes it by identifier: `list.remove(x): x not in list` (ValueError), so the delete
fails with a server error and the replica stays, still listed on its source.

This patches `moto.rds.models.DBInstance.remove_replica`, so it works the same in the local server
and under `moto.mock_aws()`.
"""

from __future__ import annotations

from typing import Any

from local_aws.fidelity._registry import Extension

_original: dict[str, Any] = {}


def remove_replica(self: Any, replica: Any) -> None:
    """Forget `replica`, listed by identifier (same region) or by ARN (cross-region)."""
    for listed in (replica.db_instance_identifier, replica.db_instance_arn):
        if listed in self.replicas:
            self.replicas.remove(listed)


def _install() -> None:
    from moto.rds.models import DBInstance

    if not _original:
        _original["remove_replica"] = DBInstance.remove_replica
        DBInstance.remove_replica = remove_replica  # type: ignore[method-assign]


def _uninstall() -> None:
    from moto.rds.models import DBInstance

    if _original:
        DBInstance.remove_replica = _original.pop("remove_replica")  # type: ignore[method-assign]


EXTENSION = Extension(
    name="rds-cross-region-replica",
    closes="DeleteDBInstance of a cross-region read replica detaches it from its source",
    install=_install, uninstall=_uninstall)
