"""CloudFormation `AWS::RDS::DBInstance` with `DeletionProtection`, `VPCSecurityGroups`, `Port`
(and `OptionGroupName`).

AWS behaviour:
- `DeletionProtection: true` makes `DeleteDBInstance` fail until it is turned off.
- `VPCSecurityGroups` (security group ids) are the instance's `VpcSecurityGroups`; an unknown id
  fails the creation.
- `OptionGroupName` makes the instance a member of that option group.
- `Port` is the endpoint port; without it the engine's default (3306 MySQL/MariaDB, 5432
  PostgreSQL), and a read replica inherits its source's port.
- A same-region read replica created from its source's ARN reports the source by identifier in
  `ReadReplicaSourceDBInstanceIdentifier`.
- A cross-region read replica (`SourceDBInstanceIdentifier` = the source's ARN in another region,
  with `SourceRegion` naming that region) is created in the stack's region: in its own
  `DBSubnetGroupName` (a group of its region) and an availability zone of that group, encrypted
  with `KmsKeyId` (a key of its region, required when the source is encrypted); it reports the
  source by ARN and the source lists it by ARN. `SourceRegion` missing or naming another region
  than the ARN fails (the API's pre-signed URL is made for that region).
Gaps in moto 5.2.5: `DeletionProtection` is dropped (a protected instance can be deleted); the
property is read as `VpcSecurityGroupIds`, so the instance lands in the default VPC's default group;
a missing `Port` becomes 3306 whatever the engine; the replica reports the source's ARN; a
`DBParameterGroupName` given as a `Ref` to the template's parameter group fails the stack (moto's
`Ref` yields the group object, not its name); `OptionGroupName` is dropped. A cross-region replica
fails with `DBSubnetGroupNotFound`: moto copies the source and looks its subnet group up in the
source's region; it would also keep the source's availability zone (`us-east-1a` for a replica in
us-west-2); `SourceRegion` is ignored.
- A stack update changes an instance in place (`update_from_cloudformation_json`): removing
  `SourceDBInstanceIdentifier` promotes the read replica (it is detached from its source, as
  `PromoteReadReplica` does: an instance the runbook promoted already has nothing to detach);
  backup retention and window, deletion protection, class, multi-AZ, master password, security
  groups and port are modified (a changed master password also reaches a PostgreSQL
  instance's server: `rds_postgres_engine`). A change CloudFormation would answer with a
  replacement (a new identifier, or a source added to a standalone instance) fails the update:
  the emulator does not replace instances.
Gaps in moto 5.2.5 for updates: the model has no update, so a stack update loses the instance
from the stack (see `cfn_stack_update`).
Everything else is moto's own `DBInstance` model.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import FidelityModel, model_extension

RESOURCE_TYPE = "AWS::RDS::DBInstance"


def _same_region_identifier(source: str, *, account_id: str, region: str) -> str:
    prefix = f"arn:aws:rds:{region}:{account_id}:db:"
    return source.removeprefix(prefix)


def _arn_region(source: str) -> str | None:
    """The region of a source given as an ARN (`arn:PARTITION:rds:REGION:ACCOUNT:db:ID`)."""
    parts = source.split(":")
    return parts[3] if source.startswith("arn:") and len(parts) == 7 else None


def _check_cross_region(logical_id: str, properties: dict[str, Any], *, source: str,
                        source_region: str, account_id: str) -> None:
    from moto.rds.models import rds_backends

    given = properties.get("SourceRegion")
    if given != source_region:
        raise ValidationError(message=f"{logical_id}: a cross-region read replica of {source} "
                                      f"needs SourceRegion {source_region}, got {given!r}")
    try:
        origin = rds_backends[account_id][source_region].find_db_from_id(source)
    except Exception as error:  # moto's DBInstanceNotFound
        raise ValidationError(message=f"{logical_id}: source {source}: {error}") from error
    if origin.storage_encrypted and not properties.get("KmsKeyId"):
        raise ValidationError(message=f"{logical_id}: the source {source} is encrypted: a "
                                      "cross-region read replica needs a KmsKeyId of its region")


def _port(logical_id: str, properties: dict[str, Any], *, source: str | None, account_id: str,
          region: str) -> int:
    """`Port`, or the source's (a replica), or the engine's default."""
    from moto.rds.models import DBInstance, rds_backends

    if properties.get("Port") is not None:
        return int(properties["Port"])
    if not source:
        engine = str(properties.get("Engine"))
        try:
            return DBInstance.default_port(engine)
        except KeyError:
            raise ValidationError(message=f"{logical_id}: Engine {engine!r} has no default "
                                          "port; set Port") from None
    try:
        origin = rds_backends[account_id][_arn_region(source) or region].find_db_from_id(source)
    except Exception as error:  # moto's DBInstanceNotFound
        raise ValidationError(message=f"{logical_id}: source {source}: {error}") from error
    assert origin.port is not None
    return int(origin.port)


def _place_in_own_region(database: Any, subnet_group: Any, zone: str | None) -> None:
    """moto's copy of the source still holds the source region's placement: move it."""
    if subnet_group is not None:
        database.db_subnet_group_name = getattr(subnet_group, "name", subnet_group)
    group = getattr(database, "db_subnet_group", None)
    zones = sorted({s["SubnetAvailabilityZone"]["Name"] for s in (group.subnets if group else ())})
    database.availability_zone = zone or (zones[0] if zones else f"{database.region}a")


class DBInstanceModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    name_property = "DBInstanceIdentifier"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        from moto.rds.models import DBInstance

        return DBInstance.has_cfn_attr(attr)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> Any:
        from moto.ec2.models import ec2_backends
        from moto.rds.models import DBInstance, rds_backends

        logical_id = kwargs["LogicalId"]
        properties = dict(cloudformation_json.get("Properties", {}))
        group_ids = list(properties.pop("VPCSecurityGroups", []) or [])
        ec2 = ec2_backends[account_id][region_name]
        unknown = [g for g in group_ids if ec2.get_security_group_from_id(g) is None]
        if unknown:
            raise ValidationError(message=f"{logical_id}: VPCSecurityGroups {unknown} do not "
                                          f"exist in {account_id}/{region_name}")
        properties["VpcSecurityGroupIds"] = group_ids
        group = properties.get("DBParameterGroupName")
        if group is not None and not isinstance(group, str):
            properties["DBParameterGroupName"] = group.name  # moto's Ref yields the model itself
        option_group = properties.get("OptionGroupName")
        if option_group and option_group not in rds_backends[account_id][region_name].option_groups:
            raise ValidationError(message=f"{logical_id}: OptionGroupName {option_group} does not "
                                          "exist")
        source = properties.get("SourceDBInstanceIdentifier")
        source_region = _arn_region(source) if source else None
        cross_region = source_region is not None and source_region != region_name
        subnet_group = None
        if cross_region:
            assert source is not None and source_region is not None
            _check_cross_region(logical_id, properties, source=source,
                                source_region=source_region, account_id=account_id)
            subnet_group = properties.pop("DBSubnetGroupName", None)
        # Known before moto creates the instance (the engine of a PostgreSQL one listens there).
        properties["Port"] = _port(logical_id, properties, source=source,
                                   account_id=account_id, region=region_name)
        database = DBInstance.create_from_cloudformation_json(
            resource_name, {**cloudformation_json, "Properties": properties}, account_id,
            region_name, **kwargs)
        if cross_region:
            _place_in_own_region(database, subnet_group, properties.get("AvailabilityZone"))
        if source:
            database.source_db_instance_identifier = _same_region_identifier(
                source, account_id=account_id, region=region_name)
        database.deletion_protection = bool(properties.get("DeletionProtection", False))
        if option_group:
            database.option_group_name = option_group
        return database

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource: Any, new_resource_name: str,
        cloudformation_json: dict[str, Any], account_id: str, region_name: str,
    ) -> Any:
        from moto.ec2.models import ec2_backends
        from moto.rds.models import rds_backends

        from cloud_assembly.template import boolean
        from local_aws.fidelity.rds_promote_read_replica import promote_read_replica

        database = original_resource
        identifier = database.db_instance_identifier
        properties = cloudformation_json.get("Properties", {})
        wanted = properties.get("DBInstanceIdentifier", identifier)
        if wanted != identifier:
            raise ValidationError(message=f"{identifier}: DBInstanceIdentifier -> {wanted} "
                                          "replaces the instance: the emulator does not")
        backend = rds_backends[account_id][region_name]
        source = properties.get("SourceDBInstanceIdentifier")
        if source and not database.source_db_instance_identifier:
            raise ValidationError(message=f"{identifier}: a SourceDBInstanceIdentifier on a "
                                          "standalone instance replaces it: the emulator does not")
        if not source and database.source_db_instance_identifier:
            promote_read_replica(backend, {"db_instance_identifier": identifier})
        groups = properties.get("VPCSecurityGroups")
        if groups is not None:
            ec2 = ec2_backends[account_id][region_name]
            unknown = [g for g in groups if ec2.get_security_group_from_id(g) is None]
            if unknown:
                raise ValidationError(message=f"{identifier}: VPCSecurityGroups {unknown} do not "
                                              f"exist in {account_id}/{region_name}")
        changes: dict[str, Any] = {
            "backup_retention_period": _int(properties.get("BackupRetentionPeriod")),
            "preferred_backup_window": properties.get("PreferredBackupWindow"),
            "deletion_protection": boolean(properties.get("DeletionProtection", False)),
            "db_instance_class": properties.get("DBInstanceClass"),
            "multi_az": boolean(properties.get("MultiAZ")),
            "master_user_password": properties.get("MasterUserPassword"),
            "vpc_security_group_ids": list(groups) if groups is not None else None,
            "port": _int(properties.get("Port")),
        }
        previous_password = database._master_user_password  # moto's getter refuses to tell
        database.update(**changes)
        if changes["master_user_password"] not in (None, previous_password):
            from local_aws.fidelity.rds_postgres_engine import master_password_changed

            master_password_changed(database, changes["master_user_password"])
        return database


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


EXTENSION = model_extension(
    DBInstanceModel, resource_type=RESOURCE_TYPE, name="rds-db-instance",
    closes="AWS::RDS::DBInstance honours DeletionProtection, VPCSecurityGroups and Port; a "
           "cross-region replica is placed in its own region",
    property_limits={
        "AWS::RDS::DBInstance.SourceRegion": "one emulator hosts both regions: the cross-region "
        "replica is attached to its source on this machine (no inter-region transfer or "
        "latency; its KmsKeyId is recorded, nothing is re-encrypted)",
        **{f"AWS::RDS::DBInstance.Engine={engine}": "a record only, no engine runs: nothing "
           "listens on the endpoint, nothing is replicated and no ReplicaLag is reported (the "
           "failovers' RPO estimate is 'unknown')" for engine in ("mysql", "mariadb")},
        "AWS::RDS::DBInstance.AutomaticBackupReplicationRegion": "automated backups are not "
        "replicated to the DR region (moto has no automated backups or their replication); "
        "the property is accepted and dropped",
    })
