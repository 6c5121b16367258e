"""CloudFormation `AWS::RDS::OptionGroup`, on moto's RDS option-group API.

AWS behaviour: creates an option group for `EngineName` / `MajorEngineVersion` with
`OptionGroupDescription` and the options of `OptionConfigurations` (`OptionName`,
`OptionSettings`); without `OptionGroupName`, CloudFormation generates a lowercase name. `Ref` is
the name; an `AWS::RDS::DBInstance` that names it in `OptionGroupName` is a member of it. This app
uses one per instance for the MariaDB audit plugin (MySQL's `audit` log).
Gap in moto 5.2.5: moto has the option-group API but no CloudFormation model, so the groups are
skipped and the instances sit in the engine's default option group (see `rds_db_instance` for
`OptionGroupName`).
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import (
    EmulatedResource,
    FidelityModel,
    model_extension,
)

RESOURCE_TYPE = "AWS::RDS::OptionGroup"


class OptionGroupModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    name_property = "OptionGroupName"
    attributes = frozenset()

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.rds.models import rds_backends

        logical_id = kwargs["LogicalId"]
        properties = cloudformation_json.get("Properties", {})
        missing = [p for p in ("EngineName", "MajorEngineVersion", "OptionGroupDescription")
                   if not properties.get(p)]
        if missing:
            raise ValidationError(message=f"{logical_id}: missing {', '.join(missing)}")
        backend: Any = rds_backends[account_id][region_name]
        name = resource_name.lower()
        try:
            backend.create_option_group({
                "option_group_name": name,
                "engine_name": properties["EngineName"],
                "major_engine_version": str(properties["MajorEngineVersion"]),
                "option_group_description": properties["OptionGroupDescription"],
                "tags": properties.get("Tags"),
            })
            options = properties.get("OptionConfigurations") or []
            if options:
                backend.modify_option_group(name, options_to_include=options)
        except Exception as error:  # moto's RDSClientError: engine/version or option problems
            raise ValidationError(message=f"{logical_id}: {error}") from error
        return EmulatedResource(physical_resource_id=name,
                                on_delete=lambda: backend.delete_option_group(name))


EXTENSION = model_extension(
    OptionGroupModel, resource_type=RESOURCE_TYPE, name="rds-option-group",
    closes="AWS::RDS::OptionGroup is created with its options")
