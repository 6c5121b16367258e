"""CloudFormation stack updates, done as CloudFormation does them.

AWS behaviour (`UpdateStack`):
- a parameter given `UsePreviousValue` keeps the value the stack has; a parameter the template
  adds takes its default;
- only the resources whose type or properties changed are touched: a change of an attribute
  alone (DependsOn, Metadata, DeletionPolicy, UpdateReplacePolicy) updates nothing;
- new and changed resources are created or updated in dependency order (a changed resource is
  updated in place when its type allows it: a promoted read replica stays the same instance);
- then, in the cleanup phase, the resources no longer in the template are deleted, dependents
  first, according to the DeletionPolicy of the template deployed *before*: `Retain` keeps the
  resource outside the stack (event `DELETE_SKIPPED`), `Snapshot` deletes a DB instance after a
  final snapshot. CloudFormation ignores the DeletionPolicy of a read replica: it is deleted. A
  delete that fails in the cleanup (deletion protection, a resource still in use) is an event
  (`DELETE_FAILED`) and leaves the resource behind; the update still completes.
- A parameter of type `AWS::SSM::Parameter::Value<...>` naming an SSM parameter that does not
  exist fails the create or update before anything changes: "Unable to fetch parameters [NAME]
  from parameter store for this account."

Gaps in moto 5.2.5: `UsePreviousValue` looks the parameter up among the values given when the
stack was created and fails with a server error (KeyError) for one that was not given, such as
CDK's `BootstrapVersion`: every `cdk deploy` of a changed template fails. Removed resources are
deleted first, before anything is created, whatever their DeletionPolicy, and a failed delete
fails the update. A changed resource whose model has no update is replaced by nothing (later
references to it break); attribute-only changes count as changes. A missing SSM parameter is a
server error (AttributeError).

In-place updates belong to the resource models (`update_from_cloudformation_json` of the
fidelity models: DB instance, security group, alarm, SSM parameter, secret attachment, KMS key);
a change to any other type fails the update with a message naming it: the emulator never
replaces a resource. A failed update is not rolled back: the stack is left
UPDATE_ROLLBACK_FAILED and `make deploy` redeploys on a fresh emulator.

This patches moto's `Stack.update`, `CloudFormationBackend._resolve_update_parameters` and
`ResourceMap.parse_ssm_parameter`, in the local server and under `moto.mock_aws()` alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moto.cloudformation.exceptions import ValidationError

from cloud_assembly import rds, removal
from local_aws.fidelity._registry import Extension, clean

_original: dict[str, Any] = {}
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)[.}]")


@dataclass(frozen=True)
class ResourceEvent:
    """What the update did to one resource (a stack event on AWS)."""

    logical_id: str
    resource_type: str
    status: str  # CREATE_COMPLETE, UPDATE_COMPLETE, DELETE_COMPLETE, DELETE_SKIPPED, DELETE_FAILED
    reason: str | None = None


def _references(value: Any) -> Iterator[str]:
    """Logical ids `value` names: Ref, Fn::GetAtt (both forms), ${Name} in Fn::Sub."""
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            yield value["Ref"]
        attribute = value.get("Fn::GetAtt")
        if isinstance(attribute, list) and attribute:
            yield str(attribute[0])
        elif isinstance(attribute, str):
            yield attribute.split(".", 1)[0]
        sub = value.get("Fn::Sub")
        text = sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) and sub else ""
        if isinstance(text, str):
            yield from _SUB_NAME.findall(text)
        for item in value.values():
            yield from _references(item)


def _dependencies(body: dict[str, Any]) -> set[str]:
    depends = body.get("DependsOn") or []
    return set(_references(body.get("Properties") or {})) | set(
        [depends] if isinstance(depends, str) else depends)


def _ordered(names: set[str], resources: dict[str, Any]) -> list[str]:
    """`names` with each one after the ones of `names` it depends on."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dependency in sorted(_dependencies(resources[name]) & names):
            visit(dependency)
        order.append(name)

    for name in sorted(names):
        visit(name)
    return order


def _changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    return (old.get("Type") != new.get("Type")
            or (old.get("Properties") or {}) != (new.get("Properties") or {}))


def _is_replica(resource: Any) -> bool:
    """The live instance is a read replica (CloudFormation reads what the instance is)."""
    return bool(getattr(resource, "source_db_instance_identifier", None))


def _policy_applies(body: dict[str, Any], resource: Any) -> bool:
    if body.get("Type") != rds.DB_INSTANCE:
        return True
    return rds.deletion_policy_applies(
        {rds.SOURCE: getattr(resource, "source_db_instance_identifier", None)})


def update_resources(resource_map: Any, template: dict[str, Any],
                     parameters: dict[str, Any] | None) -> list[ResourceEvent]:
    """Update `resource_map` (a stack's) to `template`, as the module doc says; returns what
    happened to each resource touched."""
    from moto.cloudformation.parsing import parse_and_update_resource

    old_resources: dict[str, Any] = dict(resource_map._resource_json_map)
    new_resources: dict[str, Any] = template["Resources"]
    added = {n for n in new_resources if n not in old_resources}
    modified = {n for n in new_resources if n in old_resources
                and _changed(old_resources[n], new_resources[n])}
    removed = {n for n in old_resources if n not in new_resources}

    resource_map._template = template
    if parameters is not None:
        resource_map.input_parameters = parameters
    resource_map.load_mapping()
    resource_map.load_parameters()
    resource_map.load_conditions()
    resource_map._resource_json_map = new_resources

    events: list[ResourceEvent] = []
    for name in _ordered(added | modified, new_resources):
        kind = new_resources[name]["Type"]
        if name in added:
            _ = resource_map[name]  # moto's lazy map creates it (and what it references)
            events.append(ResourceEvent(name, kind, "CREATE_COMPLETE"))
            continue
        original = resource_map._parsed_resources.get(name)
        if original is None:  # a type the emulator skips: still skipped
            continue
        if old_resources[name].get("Type") != kind:
            raise ValidationError(message=f"{name}: its type changed ({old_resources[name]['Type']}"
                                          f" -> {kind}): the emulator does not replace resources")
        native = _NATIVE_UPDATES.get(kind)
        if native is not None:
            native(original, clean(new_resources[name].get("Properties") or {}, resource_map),
                   resource_map)
            events.append(ResourceEvent(name, kind, "UPDATE_COMPLETE"))
            continue
        updated: Any = parse_and_update_resource(name, new_resources[name], resource_map,
                                            account_id=resource_map._account_id,
                                            region_name=resource_map._region_name)
        if updated is None:
            raise ValidationError(message=f"{name} ({kind}): the emulator cannot update this type "
                                          "in place, and does not replace resources")
        resource_map._parsed_resources[name] = updated
        events.append(ResourceEvent(name, kind, "UPDATE_COMPLETE"))

    # Cleanup: dependents first, each according to the DeletionPolicy it was deployed with.
    pending = list(reversed(_ordered(removed, old_resources)))
    failures: dict[str, str] = {}
    for _ in range(3):  # a later pass deletes what an earlier failure still used
        still: list[str] = []
        for name in pending:
            body = old_resources[name]
            resource = resource_map._parsed_resources.get(name)
            if resource is None or isinstance(resource, str):
                resource_map._parsed_resources.pop(name, None)
                continue
            policy = body.get("DeletionPolicy")
            database = body.get("Type") == rds.DB_INSTANCE
            if removal.keeps_resource(policy) and _policy_applies(body, resource):
                resource_map._parsed_resources.pop(name)
                events.append(ResourceEvent(name, body["Type"], "DELETE_SKIPPED",
                                            f"DeletionPolicy {policy}: kept outside the stack"))
                continue
            try:
                _delete(resource_map, resource, body, snapshot=database and policy ==
                        removal.SNAPSHOT and not _is_replica(resource))
            except Exception as error:  # noqa: BLE001 - any failure is the resource's event
                failures[name] = str(error) or type(error).__name__
                still.append(name)
                continue
            resource_map._parsed_resources.pop(name)
            failures.pop(name, None)
            events.append(ResourceEvent(name, body["Type"], "DELETE_COMPLETE"))
        pending = still
        if not pending:
            break
    for name in pending:  # left behind, as CloudFormation's cleanup leaves them
        resource_map._parsed_resources.pop(name, None)
        events.append(ResourceEvent(name, old_resources[name]["Type"], "DELETE_FAILED",
                                    failures[name]))
    return events


def _update_vpc_endpoint(endpoint: Any, properties: dict[str, Any], resource_map: Any) -> None:
    """`AWS::EC2::VPCEndpoint`: its PolicyDocument changes in place (moto's model has no
    update); a change of anything else would replace it, which the emulator does not do."""
    import json

    from moto.ec2.models import ec2_backends

    if properties.get("ServiceName") != endpoint.service_name:
        raise ValidationError(message=f"VPC endpoint {endpoint.id}: ServiceName changed: the "
                                      "emulator does not replace resources")
    policy = properties.get("PolicyDocument")
    backend: Any = ec2_backends[resource_map._account_id][resource_map._region_name]
    backend.modify_vpc_endpoint(endpoint.id, json.dumps(policy) if policy else None,
                                None, None, None, None, None, None)


_NATIVE_UPDATES = {"AWS::EC2::VPCEndpoint": _update_vpc_endpoint}


def _delete(resource_map: Any, resource: Any, body: dict[str, Any], *, snapshot: bool) -> None:
    if snapshot:
        from moto.rds.models import rds_backends

        backend = rds_backends[resource_map._account_id][resource_map._region_name]
        identifier = resource.db_instance_identifier
        backend.delete_db_instance(identifier, final_db_snapshot_identifier=f"{identifier}-final")
        return
    resource_map._delete_resource(resource, body)


def stack_update(self: Any, template: str, role_arn: str | None = None,
                 parameters: dict[str, Any] | None = None,
                 tags: dict[str, str] | None = None) -> None:
    """`Stack.update`: resources as `update_resources` does them, with their events."""
    from moto.cloudformation.models import Event

    self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
    self.template = template
    self._parse_template()
    try:
        events = update_resources(self.resource_map, self.template_dict, parameters)
    except Exception as error:
        self.status = "UPDATE_ROLLBACK_FAILED"
        self._add_stack_event("UPDATE_ROLLBACK_FAILED", resource_status_reason=str(error))
        raise
    for event in events:
        resource = self.resource_map._parsed_resources.get(event.logical_id)
        physical = getattr(resource, "physical_resource_id", None) or event.logical_id
        self.events.append(Event(stack_id=self.stack_id, stack_name=self.name,
                                 logical_resource_id=event.logical_id,
                                 physical_resource_id=str(physical),
                                 resource_type=event.resource_type,
                                 resource_status=event.status,
                                 resource_status_reason=event.reason, resource_properties=None))
    self.output_map = self._create_output_map()
    self._add_stack_event("UPDATE_COMPLETE")
    self.status = "UPDATE_COMPLETE"
    self.role_arn = role_arn
    if parameters:
        self.parameters = parameters
    if tags is not None:
        self.tags = tags


def resolve_update_parameters(self: Any, instance: Any,
                              incoming_params: list[dict[str, str]]) -> dict[str, str]:
    """Given values, and the stack's previous value for `UsePreviousValue` (a parameter that
    never had one takes the template's default)."""
    previous = dict(getattr(instance, "parameters", None) or {})
    out: dict[str, str] = {}
    for parameter in incoming_params:
        key = parameter["ParameterKey"]
        if "ParameterValue" in parameter:
            out[key] = parameter["ParameterValue"]
        elif parameter.get("UsePreviousValue", False) and key in previous:
            out[key] = previous[key]
        # else: never given a value, so its previous value is the default, which applies
    return out


def parse_ssm_parameter(self: Any, value: str, value_type: str) -> Any:
    from moto.ssm.models import ssm_backends

    try:
        parameter = ssm_backends[self._account_id][self._region_name].get_parameter(value)
    except Exception:  # noqa: BLE001 - moto's ParameterNotFound: the same answer as None
        parameter = None
    if parameter is None:
        raise ValidationError(message=f"Unable to fetch parameters [{value}] from parameter "
                                      "store for this account.")
    return _original["parse_ssm_parameter"](self, value, value_type)


def _install() -> None:
    from moto.cloudformation import models, parsing

    if not _original:
        _original["update"] = models.Stack.update
        _original["resolve"] = models.CloudFormationBackend._resolve_update_parameters
        _original["parse_ssm_parameter"] = parsing.ResourceMap.parse_ssm_parameter
        models.Stack.update = stack_update  # type: ignore[method-assign]
        models.CloudFormationBackend._resolve_update_parameters = (  # type: ignore[method-assign]
            resolve_update_parameters)
        parsing.ResourceMap.parse_ssm_parameter = parse_ssm_parameter  # type: ignore[method-assign]


def _uninstall() -> None:
    from moto.cloudformation import models, parsing

    if _original:
        models.Stack.update = _original.pop("update")  # type: ignore[method-assign]
        models.CloudFormationBackend._resolve_update_parameters = (  # type: ignore[method-assign]
            _original.pop("resolve"))
        parsing.ResourceMap.parse_ssm_parameter = (  # type: ignore[method-assign]
            _original.pop("parse_ssm_parameter"))


EXTENSION = Extension(
    name="cfn-stack-update",
    closes="UpdateStack updates changed resources in place in dependency order, honours "
           "UsePreviousValue, and deletes removed resources last per their DeletionPolicy",
    install=_install, uninstall=_uninstall)
