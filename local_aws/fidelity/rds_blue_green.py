"""RDS blue/green deployments of a DB instance with its read replicas.

AWS behaviour ("Overview of Amazon RDS Blue/Green Deployments", "Limitations and considerations
for Amazon RDS blue/green deployments"; the limits are `cloud_assembly.upgrades`', shared with
`python -m ops bluegreen`):
- `CreateBlueGreenDeployment` copies the source's topology: the green environment has a copy of
  the writer and of each of its read replicas (`<name>-green-<6 letters>`), each a replica of the
  green writer, at `TargetEngineVersion`, with `TargetDBParameterGroupName` (its family must be
  the target's; without one, the default group of the target's family);
- it refuses a source blue/green does not support: a cross-Region read replica of it, a source
  that is itself a read replica (cascading), an RDS-managed master password, no automated
  backups, a PostgreSQL major upgrade without `rds.logical_replication=1`, a target that is not
  newer (`SourceDatabaseNotSupportedFault`, `InvalidParameterCombination`);
- `SwitchoverBlueGreenDeployment` renames every member: each blue instance gets `-old1` and each
  green one the name (and so the endpoint) of its blue counterpart; the green replicas then
  replicate from the green writer under its new name, the old ones from the old writer; the
  deployment's `SwitchoverDetails` lists every pair; a green member that is not available makes
  the switchover fail (`InvalidBlueGreenDeploymentStateFault`); CloudFormation, which names an
  instance by its identifier, then manages the green instances;
- `DeleteBlueGreenDeployment` keeps both environments, or with `DeleteTarget` (before a
  switchover) deletes the green instances, its replicas too.
Gaps in moto 5.2.5: the green environment is a copy of the writer only (no replicas), of any
source (only a managed password is refused), at any target version, with the source's
parameter group whatever the target's family; the switchover renames the writer only and leaves
the replicas' links naming the old identifiers (a blue replica then follows the green writer);
`DeleteTarget` deletes the green writer only; a stack keeps managing the blue record it created
under its new `-old1` name.

With the PostgreSQL engine attached (`rds_postgres_engine`), the green environment holds the
blue side's data as RDS's does: the green writer's server is a streaming standby of the blue
writer's (so every row written on blue before the switchover reaches it), the green replicas
standbys of the green writer, and the switchover promotes the green writer (`pg_promote`: it
keeps every row it replayed; its replicas follow it) before it renames the members. RDS keeps
the green side in sync by logical replication for a major version, by physical replication
otherwise; here it is always physical, and every server runs the engine's one PostgreSQL
release whatever the version label. Gap this closes: moto's green writer is a new instance
(with the engine, an empty database), so an upgrade through blue/green lost every row.

This patches `RDSBackend.create_blue_green_deployment` and `delete_blue_green_deployment`, and
`BlueGreenDeployment.switchover`, in the local server and under `moto.mock_aws()` alike. The
green environment is ready at once: its status is AVAILABLE right after the create call
answers PROVISIONING, and no `ReplicaLag` is reported.
"""

from __future__ import annotations

import random
import string
from typing import Any

from cloud_assembly.engines import is_major_upgrade, parameter_group_family
from cloud_assembly.upgrades import BlueGreenSource, blue_green_refusal
from local_aws.fidelity._registry import Extension
from local_aws.fidelity.rds_postgres_engine import follow, promote

_original: dict[str, Any] = {}
OLD_SUFFIX = "-old1"
_AVAILABLE = "available"


def source_of(database: Any) -> BlueGreenSource:
    """What decides whether RDS can make a blue/green deployment of `database` (moto's
    record)."""
    cross_region: list[str] = []
    in_region: list[str] = []
    for listed in database.replicas:
        (cross_region if str(listed).startswith("arn:") else in_region).append(
            str(listed).rsplit(":", 1)[-1])
    group = database.backend.db_parameter_groups.get(database.db_parameter_group_name or "")
    parameters = dict(group.parameters) if group is not None else {}
    logical = (parameters.get("rds.logical_replication") or {}).get("ParameterValue")
    return BlueGreenSource(
        engine=database.engine, identifier=database.db_instance_identifier,
        version=database.engine_version, replica=bool(database.source_db_instance_identifier),
        cross_region_replicas=tuple(cross_region), replicas=tuple(in_region),
        managed_password=hasattr(database, "master_user_secret"),
        backup_retention=int(database.backup_retention_period or 0),
        logical_replication=str(logical) == "1" if logical is not None else None)


def _green_name(identifier: str) -> str:
    return f"{identifier}-green-" + "".join(random.choices(string.ascii_lowercase, k=6))


def create_blue_green_deployment(self: Any, bg_kwargs: dict[str, Any]) -> Any:
    from moto.rds.exceptions import RDSClientError

    database = self.find_db_from_id(bg_kwargs["source"])
    source = source_of(database)
    target = bg_kwargs.get("target_engine_version") or database.engine_version
    if target == database.engine_version:
        refusal = None  # a blue/green deployment for other changes (parameters, storage)
    else:
        refusal = blue_green_refusal(source, target)
    if refusal is not None:
        raise RDSClientError("SourceDatabaseNotSupportedFault", f"The source DB instance "
                             f"{database.db_instance_arn} isn't supported for a blue/green "
                             f"deployment: {refusal}")
    family = parameter_group_family(database.engine, target)
    group = bg_kwargs.get("target_db_parameter_group_name")
    if group:
        found = self.db_parameter_groups.get(group)
        if found is None or found.family != family:
            raise RDSClientError("InvalidParameterCombination", f"The parameter group {group} "
                                 f"with DBParameterGroupFamily {getattr(found, 'family', None)} "
                                 f"can't be used for this instance. Use a parameter group with "
                                 f"DBParameterGroupFamily {family}.")
    elif is_major_upgrade(database.engine, database.engine_version, target):
        group = f"default.{family}"
        bg_kwargs = {**bg_kwargs, "target_db_parameter_group_name": group}
    answer = _original["create"](self, bg_kwargs)
    deployment = self.blue_green_deployments[answer.blue_green_deployment_identifier]
    green_writer = self.find_db_from_id(deployment.target)
    follow(self, green_writer, database)  # a real server: a standby of the blue writer's
    pairs = [(database.db_instance_arn, green_writer.db_instance_arn)]
    for identifier in source.replicas:
        blue = self.databases[identifier]
        green = self.create_db_instance_read_replica({
            "db_instance_identifier": _green_name(identifier),
            "source_db_instance_identifier": green_writer.db_instance_identifier,
            "db_instance_class": blue.db_instance_class, "multi_az": blue.multi_az,
            "availability_zone": blue.availability_zone,
            "vpc_security_group_ids": list(blue.vpc_security_group_ids)})
        green.engine_version = target
        if group:
            green.db_parameter_group_name = group
        pairs.append((blue.db_instance_arn, green.db_instance_arn))
    deployment.member_pairs = pairs
    _details(deployment, "AVAILABLE")
    answer.switchover_details = _pair_details(pairs, "PROVISIONING")
    answer.tasks = deployment.tasks = [*deployment.tasks, *_tasks(bool(source.replicas), target
                                                                  != database.engine_version)]
    return answer


def _tasks(replicas: bool, upgrade: bool) -> list[Any]:
    from moto.rds.models import BlueGreenDeploymentTask

    done = BlueGreenDeploymentTask.SupportedStates.COMPLETED.name
    names = (["CREATING_TOPOLOGY_OF_SOURCE"] if replicas else []) + (
        ["DB_ENGINE_VERSION_UPGRADE"] if upgrade else [])
    return [BlueGreenDeploymentTask(name, done) for name in names]


def _pair_details(pairs: list[tuple[str, str]], status: str) -> list[Any]:
    from moto.rds.models import SwitchoverDetails

    return [SwitchoverDetails(blue, green, status) for blue, green in pairs]


def _details(deployment: Any, status: str) -> None:
    deployment.switchover_details = _pair_details(deployment.member_pairs, status)


def switchover(self: Any) -> None:
    """`BlueGreenDeployment.switchover`: every member renamed, the replicas' links kept."""
    from moto.rds.exceptions import InvalidBlueGreenDeploymentStateFault

    pairs = getattr(self, "member_pairs", None)
    if pairs is None:  # made before the extension was installed: moto's own
        _original["switchover"](self)
        return
    backend = self.backend
    members = [(backend.find_db_from_id(blue), backend.find_db_from_id(green))
               for blue, green in pairs]
    if any(green.status != _AVAILABLE for _, green in members):
        self.status = self.SupportedStates.SWITCHOVER_FAILED.name
        raise InvalidBlueGreenDeploymentStateFault(self.blue_green_deployment_identifier)
    try:
        promote(members[0][1])  # a real green writer stops replicating and takes writes
    except Exception:
        self.status = self.SupportedStates.SWITCHOVER_FAILED.name
        raise
    names = [blue.db_instance_identifier for blue, _ in members]
    for blue, _ in members:
        _rename(backend, blue, blue.db_instance_identifier + OLD_SUFFIX)
    for (_, green), name in zip(members, names, strict=True):
        _rename(backend, green, name)
    (old_writer, new_writer), replicas = members[0], members[1:]
    old_writer.replicas = [blue.db_instance_identifier for blue, _ in replicas]
    new_writer.replicas = [green.db_instance_identifier for _, green in replicas]
    for blue, green in replicas:
        blue.source_db_instance_identifier = old_writer.db_instance_identifier
        green.source_db_instance_identifier = new_writer.db_instance_identifier
    _manage_by_name(backend, members)
    self.member_pairs = [(blue.db_instance_arn, green.db_instance_arn)
                         for blue, green in members]
    self.source, self.target = old_writer.db_instance_arn, new_writer.db_instance_arn
    self.status = self.SupportedStates.SWITCHOVER_COMPLETED.name
    _details(self, self.status)
    self.status_details = "Switchover completed"


def _manage_by_name(backend: Any, members: list[tuple[Any, Any]]) -> None:
    """CloudFormation names a DB instance by its identifier (its physical id): after the
    switchover a stack manages the green instance that took the name. moto's stacks hold the
    record they created, so each blue record a stack holds is swapped for its green one."""
    from moto.cloudformation.models import cloudformation_backends

    greens = {id(blue): green for blue, green in members}
    stacks = cloudformation_backends[backend.account_id][backend.region_name].stacks
    for stack in stacks.values():
        parsed = stack.resource_map._parsed_resources
        for logical_id, resource in list(parsed.items()):
            if id(resource) in greens:
                parsed[logical_id] = greens[id(resource)]


def _rename(backend: Any, database: Any, name: str) -> None:
    backend.modify_db_instance(database.db_instance_identifier, {
        "db_instance_identifier": database.db_instance_identifier,
        "new_db_instance_identifier": name})


def delete_blue_green_deployment(self: Any, blue_green_deployment_identifier: str,
                                 delete_target: bool = False) -> Any:
    deployment = self.blue_green_deployments.get(blue_green_deployment_identifier)
    pairs = getattr(deployment, "member_pairs", None) or []
    switched = deployment is not None and \
        deployment.status == deployment.SupportedStates.SWITCHOVER_COMPLETED.name
    if delete_target and not switched:
        for _, green in reversed(pairs[1:]):
            replica = self.find_db_from_id(green)
            replica.deletion_protection = False
            self.delete_db_instance(db_instance_identifier=replica.db_instance_identifier)
        if pairs:
            self.find_db_from_id(pairs[0][1]).deletion_protection = False
    return _original["delete"](self, blue_green_deployment_identifier, delete_target)


def _install() -> None:
    from moto.rds.models import BlueGreenDeployment, RDSBackend

    if not _original:
        _original["create"] = RDSBackend.create_blue_green_deployment
        _original["delete"] = RDSBackend.delete_blue_green_deployment
        _original["switchover"] = BlueGreenDeployment.switchover
        RDSBackend.create_blue_green_deployment = create_blue_green_deployment  # type: ignore[method-assign]
        RDSBackend.delete_blue_green_deployment = delete_blue_green_deployment  # type: ignore[method-assign]
        BlueGreenDeployment.switchover = switchover  # type: ignore[method-assign]


def _uninstall() -> None:
    from moto.rds.models import BlueGreenDeployment, RDSBackend

    if _original:
        RDSBackend.create_blue_green_deployment = _original.pop("create")  # type: ignore[method-assign]
        RDSBackend.delete_blue_green_deployment = _original.pop("delete")  # type: ignore[method-assign]
        BlueGreenDeployment.switchover = _original.pop("switchover")  # type: ignore[method-assign]


EXTENSION = Extension(
    name="rds-blue-green",
    closes="CreateBlueGreenDeployment copies the writer and its read replicas and refuses what "
           "RDS refuses; the switchover renames every member and keeps the replicas' links",
    install=_install, uninstall=_uninstall,
    limit="a blue/green deployment is ready at once and reports no replication lag; with the "
          "PostgreSQL engine the green side replicates physically, on the engine's one release")
