"""`reconcile`: check that the declared topology can be deployed over the live one, and prepare
the deploy that makes the stacks follow it.

After a failover the config declares the promoted writer (`config/topology.json`, written by
`failover --record`); `cdk deploy` then renders it as the writer and creates its replicas
(docs/operations.md, 'After a failover'). This command runs before that deploy, reads the live
state of both regions and refuses (exit 3, nothing changed) what the deploy would break:

  (a) the env was never deployed here: a promoted writer cannot be created from nothing
  (b) the declared writer is not the live writer: missing, not available, still a replica (a
      deploy would promote it without draining its lag: use `switchover`), or another instance
      is what the writer-endpoint parameter names
  (c) the writer to retire is deployed with a DeletionPolicy other than Retain: the deploy that
      removes it from the stack would delete it (deploy the current templates of the previous
      topology first: every DB instance is rendered Retain)

It also says what config/topology.json's engine record (`python -m ops upgrade`) means against
config/environments.py: redundant once both declare the same versions.

Then it prepares the deploy: each replica the new generation replaces (it followed the retired
writer; RDS cannot re-parent it) has deletion protection turned off, so that CloudFormation's
cleanup deletes it once its successor exists (`--dry-run`: say so, change nothing). The retired
writer keeps its deletion protection; the plan prints the command that decommissions it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from config import DatabaseConfig
from config.topology import Layout, Member, decommission_commands
from ops.aws import ClientFactory, region_problem
from ops.errors import OpsError, Refusal, describe_client_error
from ops.instances import AVAILABLE, describe_instance, endpoint_of, source_of, status_of
from ops.outputs import stack_exists
from ops.promotion import require_account
from ops.record import engine_record_state
from ops.writer import Endpoint, read_parameter

RETAIN = "Retain"


@dataclass(frozen=True, kw_only=True)
class Step:
    label: str  # e.g. "writer", "retire", "replace", "create"
    text: str


def _stack_name(layout: Layout, member: Member) -> str:
    return layout.stack_name(member.stack)


def deployed_deletion_policy(cloudformation: Any, stack_name: str, identifier: str) -> str | None:
    """The DeletionPolicy the deployed template of `stack_name` gives the DB instance
    `identifier` (None: the stack or the instance is not in it)."""
    try:
        body = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
    except ClientError:
        return None
    template = body if isinstance(body, dict) else json.loads(body)
    for resource in (template.get("Resources") or {}).values():
        if resource.get("Type") == "AWS::RDS::DBInstance" and \
                (resource.get("Properties") or {}).get("DBInstanceIdentifier") == identifier:
            return str(resource.get("DeletionPolicy") or "Delete")
    return None


def plan_reconcile(config: DatabaseConfig, *, factory: ClientFactory, parameter_name: str,
                   region: str | None = None) -> tuple[list[Step], list[tuple[Member, Any]]]:
    """(the plan's lines, the replicas to release with their region's RDS client); `Refusal`
    for (a)-(c) of the module doc. `region`: the writer's, when the env pins none."""
    layout = config.layout
    writer = layout.writer
    region = writer.region or region
    if region is None:
        raise ValueError("no region: the env pins none; pass --region")
    clients = factory(region, False)
    account = require_account(clients.sts, config)
    writer_stack = _stack_name(layout, writer)
    if not stack_exists(clients.cloudformation, writer_stack):
        raise Refusal(f"env {config.name} is not deployed in account {account} region "
                      f"{region} (no stack {writer_stack}): the declared topology (generation "
                      f"{layout.generation}, writer {writer.identifier}) deploys only over the "
                      "environment it was promoted in; a new environment starts from the "
                      "original topology (remove its entry from config/topology.json)")
    instance = describe_instance(clients.rds, writer.identifier)
    if instance is None or status_of(instance) != AVAILABLE:
        raise Refusal(f"the declared writer {writer.identifier} is {status_of(instance)} in "
                      f"{region}: it must be the live, available writer before the stacks "
                      "follow it")
    if source_of(instance) is not None:
        raise Refusal(f"the declared writer {writer.identifier} is still a replica of "
                      f"{source_of(instance)}: promote it first (python -m ops switchover --env "
                      f"{config.name}, or failover), then deploy; a deploy would promote it "
                      "without draining its replica lag")
    parameter = read_parameter(clients.ssm, parameter_name)
    live = endpoint_of(instance)
    named = Endpoint.parse(parameter.value or "")
    if live is not None and named is not None and named.host != live[0]:
        raise Refusal(f"{parameter_name} names {named}, not the declared writer "
                      f"{writer.identifier} ({live[0]}:{live[1]}): finish the failover (re-run "
                      "it) or declare the writer it names")
    steps = [Step(label="writer", text=f"{writer.identifier} ({region}): standalone, "
                                       f"available, named by {parameter_name}")]
    old = layout.previous_writer
    if old is not None:
        steps.append(_retire_step(layout, old, factory))
    release: list[tuple[Member, Any]] = []
    for member in layout.replaced:
        try:
            rds = factory(member.region or region, True).rds
            found = describe_instance(rds, member.identifier)
        except (BotoCoreError, ClientError) as error:
            steps.append(Step(label="replace", text=f"{member.identifier}: unreadable "
                              f"({_problem(error, member.region or region)}); the deploy of its "
                              "stack deletes it once its region answers"))
            continue
        if found is None:
            steps.append(Step(label="replace", text=f"{member.identifier}: gone already"))
            continue
        protected = bool(found.get("DeletionProtection"))
        steps.append(Step(label="replace", text=(
            f"{member.identifier} ({member.region or region}) follows "
            f"{source_of(found) or 'nothing'}: RDS cannot re-parent it; "
            + ("turn deletion protection off so that the deploy deletes it"
               if protected else "deletion protection already off: the deploy deletes it"))))
        if protected:
            release.append((member, rds))
    new = [m.identifier + (f" ({m.region})" if m.region else "")
           for m in (*layout.replicas, *((layout.standby,) if layout.standby else ()))]
    steps.append(Step(label="create", text=", ".join(new) + f": replicas of {writer.identifier}"))
    for member in layout.retired:
        if member is not old:
            steps.append(Step(label="retired", text=f"{member.identifier}: decommission with "
                                                    f"{decommission_commands(member)}"))
    return steps, release


def _retire_step(layout: Layout, old: Member, factory: ClientFactory) -> Step:
    region = old.region or layout.writer.region
    assert region is not None
    try:
        cloudformation = factory(region, True).cloudformation
        policy = deployed_deletion_policy(cloudformation, _stack_name(layout, old),
                                          old.identifier)
    except (BotoCoreError, ClientError) as error:
        return Step(label="retire", text=f"{old.identifier} ({region}): unreadable "
                                         f"({_problem(error, region)}); the deploy of its stack "
                                         "needs the region")
    if policy is not None and policy != RETAIN:
        raise Refusal(f"{old.identifier} is deployed with DeletionPolicy {policy}: the deploy "
                      "that retires it would delete it. Deploy the previous topology's current "
                      "templates first (every DB instance is rendered Retain), then reconcile")
    return Step(label="retire", text=(
        f"{old.identifier} ({region}): leaves the stack, kept (DeletionPolicy Retain, deletion "
        f"protection on, fenced); decommission later with {decommission_commands(old)}"))


def _problem(error: Exception, region: str) -> str:
    if isinstance(error, (BotoCoreError, ClientError)):
        return region_problem(error, region)
    return str(error)


def run(config: DatabaseConfig, *, factory: ClientFactory, parameter_name: str, dry_run: bool,
        out: TextIO, region: str | None = None) -> None:
    layout = config.layout
    engine = engine_record_state(config)
    if engine is not None:
        print(f"Engine: {engine}", file=out)
    if not layout.promoted:
        print(f"env {config.name} declares its original topology (writer "
              f"{layout.writer.identifier}): nothing to reconcile", file=out)
        return
    steps, release = plan_reconcile(config, factory=factory, parameter_name=parameter_name,
                                    region=region)
    print(f"Reconcile plan: {layout.change}", file=out)
    for step in steps:
        print(f"  {step.label + ':':<9}{step.text}", file=out)
    if dry_run:
        print("Dry run: nothing was changed.", file=out)
        return
    for member, rds in release:
        try:
            rds.modify_db_instance(DBInstanceIdentifier=member.identifier,
                                   DeletionProtection=False, ApplyImmediately=True)
        except ClientError as error:
            raise OpsError(f"cannot turn deletion protection off on {member.identifier}: "
                           f"{describe_client_error(error)}; the deploy would leave it behind "
                           "(DELETE_FAILED). Fix the cause and re-run") from error
        print(f"==> {member.identifier}: deletion protection off (the deploy replaces it)",
              file=out)
    print(f"Next: deploy the stacks (cdk deploy -c env={config.name} --all; locally "
          "`make deploy`), then `python -m ops verify`.", file=out)
