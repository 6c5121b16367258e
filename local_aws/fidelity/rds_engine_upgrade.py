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
- a stack update that changes an instance's `EngineVersion` (with `AllowMajorVersionUpgrade`),
  `DBParameterGroupName` or `OptionGroupName` is one `ModifyDBInstance` of that instance,
  refused as above: the update fails (the DB instance's stack is left as CloudFormation leaves a
  failed update);
- an option group can be made for every major version RDS runs (`cloud_assembly.engines`'
  calendars: MySQL 8.4, MariaDB 10.11, 11.4, 11.8 ...);
- a new major version's groups: a DB parameter group's `Family` and an option group's
  `EngineName`, `MajorEngineVersion` and `OptionGroupDescription` are create-only, so a stack
  update that changes them replaces the group (a new one, under a new generated name, which the
  instance moves to in its own update); the group's parameters (options) change in place.
Gaps in moto 5.2.5: `ModifyDBInstance` sets any `EngineVersion` (older, a new major without the
flag or with the old family's parameter group, a source before its replicas), and a PostgreSQL
major upgrade leaves the in-Region replicas on the old version; a stack update (the
`rds-db-instance` extension's model) changes neither `EngineVersion`, `DBParameterGroupName` nor
`OptionGroupName`, and neither moto's `AWS::RDS::DBParameterGroup` nor the `rds-option-group`
extension's model can be updated (the update fails); moto's option groups stop at MySQL 8.0 and
MariaDB 10.6 ("Cannot find major version 8.4 for mysql").

This patches `moto.rds.models.RDSBackend.modify_db_instance` and `create_option_group`, wraps
the stack update of the `rds-db-instance` extension's model
(`DBInstanceModel.update_from_cloudformation_json`) and gives moto's `DBParameterGroup` and the
`rds-option-group` model their update, in the local server and under `moto.mock_aws()` alike.
A replaced group stays in the emulator (CloudFormation deletes it in the update's cleanup).
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
    option_group = properties.get("OptionGroupName")
    if option_group and option_group != database.option_group_name:
        changes["option_group_name"] = option_group
    if changes:
        identifier = database.db_instance_identifier
        rds_backends[account_id][region_name].modify_db_instance(
            identifier, {"db_instance_identifier": identifier, **changes})
    return _original["update"].__func__(cls, original_resource, new_resource_name,
                                        cloudformation_json, account_id, region_name)


def create_option_group(self: Any, option_group_kwargs: Any) -> Any:
    """`RDSBackend.create_option_group`, for the major versions RDS runs that moto's table
    lacks."""
    from moto.rds.models import OptionGroup

    from cloud_assembly import engines

    engine = option_group_kwargs.get("engine_name")
    major = str(option_group_kwargs.get("major_engine_version"))
    calendar = engines.CALENDARS.get(str(engine))
    name = option_group_kwargs.get("option_group_name")
    if calendar is None or major not in calendar.standard_support_ends or \
            name in self.option_groups or not option_group_kwargs.get("option_group_description"):
        return _original["create_option_group"](self, option_group_kwargs)
    group = OptionGroup(self, **option_group_kwargs)
    self.option_groups[name] = group
    return group


def update_parameter_group(cls: Any, original_resource: Any, new_resource_name: str,
                           cloudformation_json: dict[str, Any], account_id: str,
                           region_name: str) -> Any:
    """`AWS::RDS::DBParameterGroup`: a new `Family` replaces the group; parameters change in
    place."""
    from moto.rds.models import DBParameterGroup

    properties = cloudformation_json.get("Properties", {})
    if properties.get("Family") != original_resource.family:
        return DBParameterGroup.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name)
    original_resource.update_parameters(
        [{"ParameterName": name, "ParameterValue": value}
         for name, value in (properties.get("Parameters") or {}).items()])
    return original_resource


_OPTION_GROUP_CREATE_ONLY = (("EngineName", "engine_name"),
                             ("MajorEngineVersion", "major_engine_version"),
                             ("OptionGroupDescription", "description"))


def update_option_group(cls: Any, original_resource: Any, new_resource_name: str,
                        cloudformation_json: dict[str, Any], account_id: str,
                        region_name: str) -> Any:
    """`AWS::RDS::OptionGroup` (the `rds-option-group` model): a new engine, major version or
    description replaces the group; its options change in place."""
    from moto.rds.models import rds_backends

    properties = cloudformation_json.get("Properties", {})
    backend: Any = rds_backends[account_id][region_name]
    current = backend.option_groups[original_resource.physical_resource_id]
    if any(str(properties.get(prop)) != str(getattr(current, attribute))
           for prop, attribute in _OPTION_GROUP_CREATE_ONLY):
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json,
                                                   account_id, region_name,
                                                   LogicalId=new_resource_name)
    options = properties.get("OptionConfigurations") or []
    if options:
        backend.modify_option_group(current.name, options_to_include=options)
    return original_resource


def _install() -> None:
    from moto.rds.models import DBParameterGroup, RDSBackend

    from local_aws.fidelity.rds_db_instance import DBInstanceModel
    from local_aws.fidelity.rds_option_group import OptionGroupModel

    if not _original:
        _original["modify_db_instance"] = RDSBackend.modify_db_instance
        _original["create_option_group"] = RDSBackend.create_option_group
        _original["update"] = DBInstanceModel.__dict__["update_from_cloudformation_json"]
        _original["parameter_group"] = DBParameterGroup.__dict__.get(
            "update_from_cloudformation_json")
        _original["option_group"] = OptionGroupModel.__dict__.get(
            "update_from_cloudformation_json")
        RDSBackend.modify_db_instance = modify_db_instance  # type: ignore[method-assign]
        RDSBackend.create_option_group = create_option_group  # type: ignore[method-assign]
        DBInstanceModel.update_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
            update_from_cloudformation_json)
        DBParameterGroup.update_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
            update_parameter_group)
        OptionGroupModel.update_from_cloudformation_json = classmethod(  # type: ignore[method-assign,assignment]
            update_option_group)


def _uninstall() -> None:
    from moto.rds.models import DBParameterGroup, RDSBackend

    from local_aws.fidelity.rds_db_instance import DBInstanceModel
    from local_aws.fidelity.rds_option_group import OptionGroupModel

    if _original:
        RDSBackend.modify_db_instance = _original.pop("modify_db_instance")  # type: ignore[method-assign]
        RDSBackend.create_option_group = _original.pop("create_option_group")  # type: ignore[method-assign]
        DBInstanceModel.update_from_cloudformation_json = _original.pop("update")  # type: ignore[method-assign]
        for model, key in ((DBParameterGroup, "parameter_group"),
                           (OptionGroupModel, "option_group")):
            original = _original.pop(key)
            if original is None:
                del model.update_from_cloudformation_json  # the inherited one again
            else:
                model.update_from_cloudformation_json = original  # type: ignore[method-assign]


EXTENSION = Extension(
    name="rds-engine-upgrade",
    closes="ModifyDBInstance and stack updates upgrade the engine in the order RDS requires "
           "(replicas first, or with their PostgreSQL source), refusing what RDS refuses",
    install=_install, uninstall=_uninstall)
