"""Engine-version upgrades of DB instances in the order RDS requires: `ModifyDBInstance` and the
stack updates of `AWS::RDS::DBInstance`.

AWS behaviour (the rules and RDS's messages are `cloud_assembly.upgrades`', shared with the
data-loss guard and `python -m ops upgrade`):
- an older `EngineVersion` is refused ("Cannot upgrade mysql from 8.4.9 to 8.0.43");
- a new major version needs `AllowMajorVersionUpgrade` and, when the modify or the instance
  names a parameter group, one of the new major version's family;
- a source goes after its read replicas (MySQL, MariaDB, PostgreSQL minor versions):
  `DBUpgradeDependencyFailure` "One or more of the DB Instance's read replicas need to be
  upgraded: ID";
- a PostgreSQL major upgrade of a source upgrades its in-Region read replicas with it; a
  PostgreSQL read replica is never upgraded to a new major version on its own; a cross-Region
  replica is not upgraded with its source and stops replicating (its `StatusInfos` says
  `read replication` `error`);
- a stack update that changes an instance's `EngineVersion` (with `AllowMajorVersionUpgrade`)
  or `DBParameterGroupName` is one `ModifyDBInstance` of that instance, refused as above: the
  update fails (the DB instance's stack is left as CloudFormation leaves a failed update).
Gaps in moto 5.2.5: `ModifyDBInstance` sets any `EngineVersion` (older, a new major without the
flag or with the old family's parameter group, a source before its replicas), and a PostgreSQL
major upgrade leaves the in-Region replicas on the old version; a stack update (the
`rds-db-instance` extension's model) changes neither `EngineVersion` nor
`DBParameterGroupName`.

This patches `moto.rds.models.RDSBackend.modify_db_instance` and wraps the stack update of the
`rds-db-instance` extension's model (`DBInstanceModel.update_from_cloudformation_json`), in the
local server and under `moto.mock_aws()` alike.
"""

from __future__ import annotations

from typing import Any

from cloud_assembly.template import boolean
from cloud_assembly.upgrades import (
    CROSS_REGION,
    REPLICA,
    WRITER,
    Member,
    carried_along,
    modify_refusal,
)
from local_aws.fidelity._registry import Extension

_original: dict[str, Any] = {}
#: What `StatusInfos` says of a replica whose source moved to a newer major version without it.
REPLICATION_BROKEN = {"StatusType": "read replication", "Normal": False, "Status": "error",
                      "Message": "the source was upgraded to a newer major version: this "
                                 "cross-Region read replica can no longer replicate from it"}


def _family(backend: Any, group: str | None) -> str | None:
    if not group:
        return None
    if group.startswith("default."):
        return group.removeprefix("default.")
    found = backend.db_parameter_groups.get(group)
    return None if found is None else found.family


def _replicas(database: Any) -> list[tuple[Member, Any]]:
    """`database`'s read replicas (same region by identifier, cross-region by ARN) with their
    records."""
    from moto.rds.models import rds_backends

    out = []
    for listed in database.replicas:
        if str(listed).startswith("arn:"):
            region, identifier = listed.split(":")[3], listed.rsplit(":", 1)[-1]
            record = rds_backends[database.account_id][region].databases.get(identifier)
            kind = CROSS_REGION
        else:
            record = database.backend.databases.get(listed)
            kind = REPLICA
        if record is not None:
            out.append((Member(identifier=record.db_instance_identifier, kind=kind,
                               version=record.engine_version), record))
    return out


def _kind(database: Any) -> str:
    source = database.source_db_instance_identifier
    if not source:
        return WRITER
    return CROSS_REGION if str(source).startswith("arn:") and \
        source.split(":")[3] != database.region else REPLICA


def check_upgrade(backend: Any, database: Any, db_kwargs: Any) -> list[tuple[Any, str]]:
    """Raise RDS's error for an engine-version change of `database` it refuses; otherwise
    (replica record, what happens to it) for the replicas the change carries along
    ("upgraded") or leaves behind ("left")."""
    from moto.rds.exceptions import RDSClientError

    version = db_kwargs.get("engine_version")
    if not version or version == database.engine_version:
        return []
    engine = database.engine
    group = db_kwargs.get("db_parameter_group_name") or database.db_parameter_group_name
    member = Member(identifier=database.db_instance_identifier, kind=_kind(database),
                    version=database.engine_version)
    replicas = _replicas(database)
    refusal = modify_refusal(
        engine, member, version,
        allow_major=bool(boolean(db_kwargs.get("allow_major_version_upgrade"))),
        parameter_group=group, family=_family(backend, group),
        replicas=[m for m, _ in replicas])
    if refusal is not None:
        raise RDSClientError(refusal.code, refusal.message)
    along, behind = carried_along(engine, member, version, [m for m, _ in replicas])
    records = {m.identifier: record for m, record in replicas}
    return ([(records[m.identifier], "upgraded") for m in along]
            + [(records[m.identifier], "left") for m in behind])


def modify_db_instance(self: Any, db_instance_identifier: str, db_kwargs: Any) -> Any:
    """`RDSBackend.modify_db_instance`, with the engine version checked as RDS does."""
    database = self.describe_db_instances(db_instance_identifier)[0]
    effects = check_upgrade(self, database, db_kwargs)
    result = _original["modify_db_instance"](self, db_instance_identifier, db_kwargs)
    for replica, what in effects:
        if what == "upgraded":
            replica.engine_version = database.engine_version
        else:
            replica.status_infos = [dict(REPLICATION_BROKEN)]
    return result


def update_from_cloudformation_json(cls: Any, original_resource: Any, new_resource_name: str,
                                    cloudformation_json: dict[str, Any], account_id: str,
                                    region_name: str) -> Any:
    """A stack update's `EngineVersion` and `DBParameterGroupName` as one `ModifyDBInstance`,
    then the rest of the update (the `rds-db-instance` model's)."""
    from moto.rds.models import rds_backends

    database = original_resource
    properties = cloudformation_json.get("Properties", {})
    group = properties.get("DBParameterGroupName")
    if group is not None and not isinstance(group, str):
        group = group.name  # moto's Ref yields the model itself
    changes: dict[str, Any] = {}
    version = properties.get("EngineVersion")
    if version and version != database.engine_version:
        changes["engine_version"] = version
        changes["allow_major_version_upgrade"] = bool(
            boolean(properties.get("AllowMajorVersionUpgrade")))
    if group and group != database.db_parameter_group_name:
        changes["db_parameter_group_name"] = group
    if changes:
        identifier = database.db_instance_identifier
        rds_backends[account_id][region_name].modify_db_instance(
            identifier, {"db_instance_identifier": identifier, **changes})
    return _original["update"].__func__(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name)


def _install() -> None:
    from moto.rds.models import RDSBackend

    from local_aws.fidelity.rds_db_instance import DBInstanceModel

    if not _original:
        _original["modify_db_instance"] = RDSBackend.modify_db_instance
        _original["update"] = DBInstanceModel.__dict__["update_from_cloudformation_json"]
        RDSBackend.modify_db_instance = modify_db_instance  # type: ignore[method-assign]
        DBInstanceModel.update_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
            update_from_cloudformation_json)


def _uninstall() -> None:
    from moto.rds.models import RDSBackend

    from local_aws.fidelity.rds_db_instance import DBInstanceModel

    if _original:
        RDSBackend.modify_db_instance = _original.pop("modify_db_instance")  # type: ignore[method-assign]
        DBInstanceModel.update_from_cloudformation_json = _original.pop("update")  # type: ignore[method-assign]


EXTENSION = Extension(
    name="rds-engine-upgrade",
    closes="ModifyDBInstance and stack updates upgrade the engine in the order RDS requires "
           "(replicas first, or with their PostgreSQL source), refusing what RDS refuses",
    install=_install, uninstall=_uninstall)
