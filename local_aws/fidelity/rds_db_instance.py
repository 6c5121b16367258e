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
Gaps in moto 5.2.5: `DeletionProtection` is dropped (a protected instance can be deleted); the
property is read as `VpcSecurityGroupIds`, so the instance lands in the default VPC's default group;
a missing `Port` becomes 3306 whatever the engine; the replica reports the source's ARN; a
`DBParameterGroupName` given as a `Ref` to the template's parameter group fails the stack (moto's
`Ref` yields the group object, not its name); `OptionGroupName` is dropped.
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


class DBInstanceModel(FidelityModel):
    @classmethod
    def cloudformation_type(cls) -> str:
        return RESOURCE_TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return "DBInstanceIdentifier"

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
        port = properties.pop("Port", None)
        source = properties.get("SourceDBInstanceIdentifier")
        database = DBInstance.create_from_cloudformation_json(
            resource_name, {**cloudformation_json, "Properties": properties}, account_id,
            region_name, **kwargs)
        if port is not None:
            database.port = int(port)
        elif not source:
            database.port = DBInstance.default_port(database.engine)
        if source:
            database.source_db_instance_identifier = _same_region_identifier(
                source, account_id=account_id, region=region_name)
        database.deletion_protection = bool(properties.get("DeletionProtection", False))
        if option_group:
            database.option_group_name = option_group
        return database


EXTENSION = model_extension(
    DBInstanceModel, resource_type=RESOURCE_TYPE, name="rds-db-instance",
    closes="AWS::RDS::DBInstance honours DeletionProtection, VPCSecurityGroups and Port")
