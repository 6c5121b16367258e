"""`PromoteReadReplica` detaches the replica from its source.

AWS behaviour: promoting a read replica makes it a standalone writable instance: its
`ReadReplicaSourceDBInstanceIdentifier` disappears, and the source no longer lists it in
`ReadReplicaDBInstanceIdentifiers`. Promoting an instance that is not a read replica fails with
`InvalidDBInstanceState` ("DB Instance is not a read replica."); an unknown identifier fails with
`DBInstanceNotFound`. `BackupRetentionPeriod` and `PreferredBackupWindow` given to the call apply
to the promoted instance.
Gap in moto 5.2.5: promotion only flips an internal flag; the replica keeps its source and the
source keeps listing it, so a failover cannot be observed; promoting a non-replica silently
succeeds.

This patches `moto.rds.models.RDSBackend.promote_read_replica`, so it works the same in the local
server and under `moto.mock_aws()` (install it with `local_aws.fidelity.install()`).
"""

from __future__ import annotations

from typing import Any

from local_aws.fidelity._registry import Extension

_original: dict[str, Any] = {}


def promote_read_replica(self: Any, db_kwargs: dict[str, Any]) -> Any:
    from moto.rds.exceptions import DBInstanceNotFoundError, RDSClientError

    database_id = db_kwargs["db_instance_identifier"]
    database = self.databases.get(database_id)
    if database is None:
        raise DBInstanceNotFoundError(database_id)
    if not database.is_replica or not database.source_db_instance_identifier:
        raise RDSClientError("InvalidDBInstanceState", "DB Instance is not a read replica.")
    from local_aws.fidelity.rds_postgres_engine import promote

    promote(database)  # its server first, if it has one: a failure leaves it a replica
    try:
        source = self.find_db_from_id(database.source_db_instance_identifier)
    except DBInstanceNotFoundError:
        source = None  # the source is gone (the failover case): nothing lists the replica any more
    if source is not None:
        for listed in (database.db_instance_identifier, database.db_instance_arn):
            if listed in source.replicas:
                source.replicas.remove(listed)
    database.is_replica = False
    database.source_db_instance_identifier = None
    changes = {k: v for k, v in db_kwargs.items() if k != "db_instance_identifier"}
    database.update(**changes)
    return database


def _install() -> None:
    from moto.rds.models import RDSBackend

    if not _original:
        _original["promote_read_replica"] = RDSBackend.promote_read_replica
        RDSBackend.promote_read_replica = promote_read_replica  # type: ignore[method-assign]


def _uninstall() -> None:
    from moto.rds.models import RDSBackend

    if _original:
        RDSBackend.promote_read_replica = _original.pop("promote_read_replica")  # type: ignore[method-assign]


EXTENSION = Extension(
    name="rds-promote-read-replica",
    closes="PromoteReadReplica detaches the replica (source forgets it, it forgets the source)",
    install=_install, uninstall=_uninstall)
