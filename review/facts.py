"""What a reviewer needs to know about one environment, read from its synthesized templates.

Every fact comes from the normalized templates (what CloudFormation will be asked to build), not
from the config or the construct code, so the report cannot describe an intention the templates
do not carry. The exceptions are stack-level settings that templates do not hold: each stack's
region (the cloud assembly's), the account and termination protection (the config's); the report
says so.

Templates are read with `cloud_assembly.template`, as the policy gate reads them: references are
followed across the environment's stacks and regions (`Fn::GetStackOutput`, `Fn::ImportValue`),
so "which key protects what" and "which instance replicates from which" hold across regions.
The output is a list of `Section`s (title, table, notes) and the diagram's nodes and edges;
`review.report` renders both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloud_assembly import rds, removal
from cloud_assembly.template import Resource, Stack, boolean, link_stacks, referenced, truthy
from review.stateful import STATEFUL_TYPES

Template = Mapping[str, Any]
#: (stack name, logical id): a resource anywhere in the environment.
Address = tuple[str, str]
#: Where an environment-agnostic stack deploys.
DEPLOY_TIME_REGION = "deploy-time region"

_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")
_KEY_PROPERTIES = ("KmsKeyId", "KMSKeyId", "KmsMasterKeyId", "EncryptionKeyArn", "KmsKeyArn",
                   "PerformanceInsightsKMSKeyId", "AutomaticBackupReplicationKmsKeyId")
_KEY_USE = {"PerformanceInsightsKMSKeyId": "Performance Insights",
            "AutomaticBackupReplicationKmsKeyId": "replicated automated backups"}
_KIND = {rds.DB_INSTANCE: "DB storage", "AWS::Logs::LogGroup": "log groups",
         "AWS::SecretsManager::Secret": "secret", "AWS::SNS::Topic": "alarm topic",
         "AWS::Backup::BackupVault": "backup vault"}
#: The property whose literal value labels a resource (else its logical id without the hash).
_NAME_PROPERTY = {rds.DB_INSTANCE: "DBInstanceIdentifier", "AWS::Logs::LogGroup": "LogGroupName"}
_ATTACHMENT = "AWS::SecretsManager::SecretTargetAttachment"
_COMPARISONS = {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">=",
                "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "<="}


@dataclass(frozen=True, kw_only=True)
class Section:
    """One part of the report: a table (headers + rows) and free-text notes."""

    title: str
    headers: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Instance:
    """A DB instance as the topology table and the diagram show it."""

    stack: str
    logical_id: str
    region: str
    identifier: str
    role: str
    instance_class: str
    multi_az: bool
    placement: str
    source: str | None
    resource: Resource = field(repr=False, compare=False)

    @property
    def address(self) -> Address:
        return self.stack, self.logical_id


@dataclass(frozen=True, kw_only=True)
class Node:
    """A box of the diagram. `shape` is one of database, key, secret, vault."""

    id: str
    region: str
    shape: str
    label: str
    in_vpc: bool = False


@dataclass(frozen=True, kw_only=True)
class Edge:
    source: str
    target: str
    label: str
    dotted: bool = False


@dataclass(frozen=True, kw_only=True)
class RegionBox:
    name: str
    availability_zones: tuple[str, ...]
    vpc_cidrs: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Environment:
    """The facts of one environment: where it runs, its instances, sections and diagram."""

    name: str
    account: str
    regions: tuple[RegionBox, ...]
    instances: tuple[Instance, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    sections: tuple[Section, ...]


# --- template helpers -------------------------------------------------------------------------

def short(logical_id: str) -> str:
    """A logical id without CDK's 8-hex-digit hash: DatabaseAlarmsPrimaryCpu568FA0B7 -> ...Cpu."""
    return _HASH_SUFFIX.sub("", logical_id)


def text(value: Any) -> str:
    """A template value as short, readable text (a reference as the name it refers to)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    name = referenced(value)
    if name is not None:
        return short(name)
    if isinstance(value, dict) and "Fn::GetStackOutput" in value:
        out = value["Fn::GetStackOutput"]
        return f"{out.get('StackName')} output {short(str(out.get('OutputName')))}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def az_text(value: Any) -> str:
    """'eu-west-1a', or "region's AZ 1" for CDK's env-agnostic `Fn::Select`/`Fn::GetAZs`
    (no '#': Mermaid reads '#...;' as an entity code)."""
    if isinstance(value, dict) and "Fn::Select" in value:
        return f"region's AZ {int(value['Fn::Select'][0]) + 1}"
    return text(value)


def _address(stack: Stack, resource: Resource) -> Address:
    return stack.name, resource.logical_id


class EnvironmentView:
    """All stacks of one environment (linked, so references cross them) and resource labels."""

    def __init__(self, stacks: Mapping[str, Stack]) -> None:
        self.stacks = stacks
        self.labels: dict[Address, str] = {}
        for stack in stacks.values():
            for resource in stack.resources.values():
                name = _NAME_PROPERTY.get(resource.type)
                self.labels[_address(stack, resource)] = (
                    str(resource.prop(name, short(resource.logical_id))) if name
                    else short(resource.logical_id))
        for stack, alias in self.all_of_type("AWS::KMS::Alias"):
            for key in self.addresses(stack, alias.prop("TargetKeyId")):
                self.labels[key] = f"KMS key {alias.prop('AliasName')}"

    def region(self, stack: str) -> str:
        return self.stacks[stack].region or DEPLOY_TIME_REGION

    def all_of_type(self, *types: str) -> Iterator[tuple[Stack, Resource]]:
        for stack in self.stacks.values():
            for resource in stack.of_type(*types):
                yield stack, resource

    def addresses(self, stack: Stack, value: Any) -> list[Address]:
        """Every resource `value` (read in `stack`) refers to, in any stack of the environment."""
        return [_address(*found) for found in stack.addresses(value)]

    def address(self, stack: Stack, value: Any) -> Address | None:
        found = self.addresses(stack, value)
        return found[0] if found else None

    def label(self, address: Address | None, fallback: str = "-") -> str:
        return self.labels.get(address, fallback) if address else fallback

    def name(self, stack: Stack, resource: Resource) -> str:
        return self.labels[_address(stack, resource)]

    def label_of(self, stack: Stack, value: Any, fallback: str = "-") -> str:
        """The label of the resource `value` refers to, else `fallback`."""
        return self.label(self.address(stack, value), fallback)


# --- sections ---------------------------------------------------------------------------------

def _source_identifier(view: EnvironmentView, stack: Stack, value: Any) -> str | None:
    """The DB identifier a replica's SourceDBInstanceIdentifier names: a reference to an
    instance of the environment, or an ARN ending in a literal identifier."""
    if value is None:
        return None
    source = view.address(stack, value)
    if source is not None:
        return view.label(source)
    return rds.identifier_in_arn(value) or text(value)


def _instances(view: EnvironmentView, azs: Mapping[str, tuple[str, ...]]) -> tuple[Instance, ...]:
    rows = []
    for stack, db in view.all_of_type(rds.DB_INSTANCE):
        p = db.properties
        region = view.region(stack.name)
        zones = ", ".join(azs.get(region, ())) or "the region's AZs"
        multi_az = truthy(p.get("MultiAZ"))
        if "AvailabilityZone" in p:
            placement = str(p["AvailabilityZone"])
        elif multi_az:
            placement = f"Multi-AZ (writer + standby) across {zones}"
        else:
            placement = f"one of {zones} (RDS chooses)"
        rows.append(Instance(
            stack=stack.name, logical_id=db.logical_id, region=region,
            identifier=view.name(stack, db),
            role="replica" if rds.is_replica(p) else "primary",
            instance_class=str(p.get("DBInstanceClass", "-")), multi_az=multi_az,
            placement=placement, source=_source_identifier(view, stack, p.get(rds.SOURCE)),
            resource=db))
    rows.sort(key=lambda i: (i.role != "primary",
                             rds.is_cross_region_replica(i.resource.properties), i.identifier))
    return tuple(rows)


def _topology(instances: Sequence[Instance]) -> Section:
    rows = []
    for inst in instances:
        p = inst.resource.properties
        engine = (f"{p.get('Engine')} {p.get('EngineVersion')}" if inst.role == "primary"
                  else f"same as {inst.source}")
        size = f"{p['AllocatedStorage']} GiB" if "AllocatedStorage" in p else "size of the source"
        storage = (f"{p.get('StorageType', 'gp2')}, {size}, autoscaling to "
                   f"{p.get('MaxAllocatedStorage', '-')} GiB")
        role = (f"cross-region replica (from {p['SourceRegion']})"
                if rds.is_cross_region_replica(p) else inst.role)
        rows.append((role, inst.identifier, inst.region, inst.instance_class, engine,
                     inst.placement, storage, inst.source or "-"))
    primaries = sum(1 for i in instances if i.role == "primary")
    regions = sorted({i.region for i in instances})
    return Section(title="Topology",
                   headers=("role", "identifier", "region", "class", "engine", "placement",
                            "storage", "source"),
                   rows=tuple(rows),
                   notes=(f"{primaries} primary, {len(instances) - primaries} read replica(s) in "
                          f"{len(regions)} region(s) ({', '.join(regions)}); replicas replicate "
                          "asynchronously from their source.",))


def _encryption(view: EnvironmentView) -> Section:
    keys = list(view.all_of_type("AWS::KMS::Key"))
    protected: dict[Address, dict[str, set[str]]] = {_address(*key): {} for key in keys}

    def add(key: Address | None, what: str, name: str) -> None:
        if key in protected:
            protected[key].setdefault(what, set()).add(name)

    for stack in view.stacks.values():
        for resource in stack.resources.values():
            kind = _KIND.get(resource.type, resource.type.split("::", 1)[-1])
            for name in _KEY_PROPERTIES:
                for address in view.addresses(stack, resource.prop(name)):
                    add(address, _KEY_USE.get(name, kind), view.name(stack, resource))
            rotation_lambda = resource.prop("HostedRotationLambda") or {}
            add(view.address(stack, rotation_lambda.get("KmsKeyArn")), "rotation function",
                short(resource.logical_id))
    rows = []
    for stack, key in keys:
        rotation = (f"every {key.prop('RotationPeriodInDays', 365)} days"
                    if truthy(key.prop("EnableKeyRotation")) else "**OFF**")
        uses = protected[_address(stack, key)]
        rows.append((view.name(stack, key), f"{stack.name} ({view.region(stack.name)})",
                     rotation, removal.effective(key.deletion_policy),
                     "; ".join(f"{what}: {', '.join(sorted(names))}"
                               for what, names in sorted(uses.items())) or "-"))
    notes = []
    for stack, db in view.all_of_type(rds.DB_INSTANCE):
        name = view.name(stack, db)
        if rds.is_replica(db.properties) and "KmsKeyId" not in db.properties:
            notes.append(f"{name}: storage encrypted with its source's key "
                         "(a same-region replica inherits it).")
        elif not rds.is_replica(db.properties) and not truthy(db.prop("StorageEncrypted")):
            notes.append(f"**{name}: storage NOT encrypted.**")
    return Section(title="Encryption",
                   headers=("key", "stack (region)", "rotation", "DeletionPolicy", "protects"),
                   rows=tuple(rows), notes=tuple(notes))


def _selected(view: EnvironmentView, plan: Resource) -> list[Address]:
    """What the backup selections of `plan` back up."""
    return [target for stack, selection in view.all_of_type("AWS::Backup::BackupSelection")
            if stack.target(selection.prop("BackupPlanId")) is plan
            for target in view.addresses(
                stack, (selection.prop("BackupSelection") or {}).get("Resources"))]


def _backups(view: EnvironmentView) -> Section:
    rows = []
    notes = []
    for stack, db in view.all_of_type(rds.DB_INSTANCE):
        p = db.properties
        name = view.name(stack, db)
        if "BackupRetentionPeriod" in p:
            retention = f"{p['BackupRetentionPeriod']} days"
        elif rds.is_replica(p):
            retention = "none (not supported on this replica)"
        else:
            retention = "RDS default (1 day)"
        rows.append((name, "automated (RDS)", retention, str(p.get("PreferredBackupWindow", "-")),
                     "kept" if boolean(p.get("DeleteAutomatedBackups")) is False else "deleted",
                     f"tags copied to snapshots: {text(p.get('CopyTagsToSnapshot', False))}"))
        if "AutomaticBackupReplicationRegion" in p:
            key = p.get("AutomaticBackupReplicationKmsKeyId")
            rows.append((name, f"automated backups replicated to "
                               f"{p['AutomaticBackupReplicationRegion']}",
                         f"{p.get('AutomaticBackupReplicationRetentionPeriod', 7)} days",
                         "continuous", "-",
                         f"encrypted with {view.label_of(stack, key, text(key))}"))
    for stack, plan in view.all_of_type("AWS::Backup::BackupPlan"):
        selected = ", ".join(view.label(target) for target in _selected(view, plan)) or "-"
        for rule in (plan.prop("BackupPlan") or {}).get("BackupPlanRule", []):
            life = rule.get("Lifecycle", {})
            cold = (f", cold storage after {life['MoveToColdStorageAfterDays']} days"
                    if "MoveToColdStorageAfterDays" in life else "")
            rows.append((selected, f"AWS Backup rule {rule.get('RuleName')}",
                         f"{life.get('DeleteAfterDays', 'forever')} days{cold}",
                         str(rule.get("ScheduleExpression")), "-", "-"))
            for copy in rule.get("CopyActions", []):
                target = view.address(stack, copy.get("DestinationBackupVaultArn"))
                where = (f"{view.label(target)} in {view.region(target[0])}" if target
                         else text(copy.get("DestinationBackupVaultArn")))
                rows.append((selected, f"copy of rule {rule.get('RuleName')} to vault {where}",
                             f"{copy.get('Lifecycle', {}).get('DeleteAfterDays', 'forever')} days",
                             "after each backup", "-", "-"))
    vaults = list(view.all_of_type("AWS::Backup::BackupVault"))
    for stack, vault in vaults:
        p = vault.properties
        denies = [s for s in p.get("AccessPolicy", {}).get("Statement", [])
                  if s.get("Effect") == "Deny"
                  and "backup:DeleteRecoveryPoint" in s.get("Action", [])]
        key = view.label_of(stack, p.get("EncryptionKeyArn"), "AWS managed key")
        notes.append(f"Vault {short(vault.logical_id)} ({view.region(stack.name)}): encrypted "
                     f"with {key}, DeletionPolicy {removal.effective(vault.deletion_policy)}, "
                     "recovery point deletion "
                     f"{'denied by the vault policy' if denies else 'allowed'}"
                     f"{', vault lock ON' if 'LockConfiguration' in p else ''}.")
    if not vaults:
        notes.append("**No AWS Backup vault: only RDS automated backups.**")
    return Section(title="Backups",
                   headers=("what", "mechanism", "retention", "window/schedule",
                            "automated backups on delete", "notes"),
                   rows=tuple(rows), notes=tuple(notes))


def _protection(view: EnvironmentView, termination: bool) -> Section:
    rows = []
    for stack, resource in view.all_of_type(*STATEFUL_TYPES):
        deletion_protection = (text(resource.prop("DeletionProtection", False))
                               if resource.type == rds.DB_INSTANCE else "n/a")
        rows.append((view.name(stack, resource), resource.type, stack.name,
                     deletion_protection, removal.effective(resource.deletion_policy),
                     removal.effective(resource.update_replace_policy)))
    return Section(
        title="Deletion protection and policies",
        headers=("resource", "type", "stack", "DeletionProtection", "DeletionPolicy",
                 "UpdateReplacePolicy"),
        rows=tuple(rows),
        notes=("Stack termination protection (from the config, not the template): "
               f"{'ON' if termination else 'off'}.",))


def _attachments(stack: Stack, secret: Resource) -> list[Resource]:
    """The target attachments of `secret` (the instances it holds the credentials of)."""
    return [attachment for attachment in stack.of_type(_ATTACHMENT)
            if stack.target(attachment.prop("SecretId")) is secret]


def _rotation(stack: Stack, secret: Resource) -> str | None:
    rotated = [secret, *_attachments(stack, secret)]
    for schedule in stack.of_type("AWS::SecretsManager::RotationSchedule"):
        if any(stack.target(schedule.prop("SecretId")) is r for r in rotated):
            rules = schedule.prop("RotationRules") or {}
            kind = (schedule.prop("HostedRotationLambda") or {}).get(
                "RotationType", "custom Lambda")
            every = rules.get("ScheduleExpression") or (
                f"every {rules.get('AutomaticallyAfterDays')} days")
            return f"{kind}, {every}"
    return None


def _credentials(view: EnvironmentView) -> Section:
    rows = []
    for stack, secret in view.all_of_type("AWS::SecretsManager::Secret"):
        generate = secret.prop("GenerateSecretString") or {}
        try:
            username = json.loads(generate.get("SecretStringTemplate", "{}")).get("username", "-")
        except json.JSONDecodeError:
            username = "-"
        targets = [view.label_of(stack, attachment.prop("TargetId"))
                   for attachment in _attachments(stack, secret)]
        password = (f"generated, {generate.get('PasswordLength', 32)} characters" if generate
                    else "set outside the template")
        rows.append((short(secret.logical_id), username, password,
                     view.label_of(stack, secret.prop("KmsKeyId"), "AWS managed key"),
                     ", ".join(targets) or "-", _rotation(stack, secret) or "**none**",
                     removal.effective(secret.deletion_policy)))
    iam = [view.name(stack, db) for stack, db in view.all_of_type(rds.DB_INSTANCE)
           if truthy(db.prop("EnableIAMDatabaseAuthentication"))]
    return Section(title="Credentials and rotation",
                   headers=("secret", "master user", "password", "encrypted with",
                            "attached to", "rotation", "DeletionPolicy"),
                   rows=tuple(rows),
                   notes=(f"IAM database authentication enabled on: {', '.join(iam) or 'none'}.",))


def _rule(rule: Mapping[str, Any]) -> tuple[str, str, str]:
    source = (rule.get("CidrIp") or rule.get("CidrIpv6")
              or f"security group {text(rule.get('SourceSecurityGroupId'))}")
    ports = (str(rule.get("FromPort")) if rule.get("FromPort") == rule.get("ToPort")
             else f"{rule.get('FromPort')}-{rule.get('ToPort')}")
    return str(source), f"{rule.get('IpProtocol')}/{ports}", str(rule.get("Description", "-"))


def _ingress(view: EnvironmentView) -> dict[Address, list[tuple[str, str, str]]]:
    """{security group: [(source, port, description)]} from both rule styles."""
    rules: dict[Address, list[tuple[str, str, str]]] = {}
    for stack, group in view.all_of_type("AWS::EC2::SecurityGroup"):
        for rule in group.prop("SecurityGroupIngress") or []:
            rules.setdefault(_address(stack, group), []).append(_rule(rule))
    for stack, ingress in view.all_of_type("AWS::EC2::SecurityGroupIngress"):
        target = view.address(stack, ingress.prop("GroupId"))
        if target:
            rules.setdefault(target, []).append(_rule(ingress.properties))
    return rules


def _network(view: EnvironmentView) -> Section:
    rows = []
    ingress = _ingress(view)
    for stack, db in view.all_of_type(rds.DB_INSTANCE):
        p = db.properties
        for group in p.get("VPCSecurityGroups", []):
            address = view.address(stack, group)
            for source, port, rule in (ingress.get(address, []) if address else []) or [
                    ("nothing (no ingress rule)", "-", "-")]:
                rows.append((view.name(stack, db), text(p.get("PubliclyAccessible")),
                             str(p.get("Port")), source, port, rule))
    notes = []
    for stack in view.stacks.values():
        if not any(stack.of_type("AWS::EC2::VPC")):
            continue
        gateways = [t.split("::")[-1] for t in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway",
                                                "AWS::EC2::EgressOnlyInternetGateway")
                    if any(stack.of_type(t))]
        public = [short(s.logical_id) for s in stack.of_type("AWS::EC2::Subnet")
                  if truthy(s.prop("MapPublicIpOnLaunch"))]
        endpoints = [text(e.prop("ServiceName")).rsplit(".", 1)[-1].strip('"]}')
                     for e in stack.of_type("AWS::EC2::VPCEndpoint")]
        flow = [str(f.prop("TrafficType", "-")) for f in stack.of_type("AWS::EC2::FlowLog")]
        route = (f"**{', '.join(gateways)} present**" if gateways
                 else "none (no internet or NAT gateway)")
        notes.append(f"{stack.name} ({view.region(stack.name)}): internet route {route}; subnets "
                     f"assigning public IPs: {', '.join(public) or 'none'}; VPC endpoints: "
                     f"{', '.join(endpoints) or 'none'}; flow logs: {', '.join(flow) or 'none'}.")
    return Section(title="Network exposure",
                   headers=("instance", "public", "port", "allowed source", "protocol/port",
                            "rule"),
                   rows=tuple(rows), notes=tuple(notes))


def _tls_required_by(stack: Stack, db: Resource) -> str | None:
    """`name=value` of the parameter that makes the instance refuse unencrypted connections,
    as its parameter group's engine family reads it; None when it does not."""
    group = stack.target(db.prop("DBParameterGroupName"))
    if group is None:
        return None
    try:
        tls = rds.tls_parameter(str(group.prop("Family")))
    except ValueError:  # an engine without such a parameter, or a family only known at deploy
        return None
    value = (group.prop("Parameters") or {}).get(tls.name)
    return f"{tls.name}={value}" if value is not None and tls.enforced_by(value) else None


def _tls(view: EnvironmentView) -> Section:
    rows = tuple((view.name(stack, db),
                  _tls_required_by(stack, db) or "**not enforced**",
                  str(db.prop("CACertificateIdentifier", "RDS default")))
                 for stack, db in view.all_of_type(rds.DB_INSTANCE))
    return Section(title="TLS in transit",
                   headers=("instance", "TLS required by", "CA certificate"), rows=rows)


def _alarms(view: EnvironmentView) -> Section:
    rows = []
    for stack, alarm in sorted(view.all_of_type("AWS::CloudWatch::Alarm"),
                               key=lambda item: _address(*item)):
        p = alarm.properties
        dims = [view.label_of(stack, d.get("Value"), text(d.get("Value")))
                for d in p.get("Dimensions", [])]
        threshold = p.get("Threshold")
        if p.get("MetricName") == "FreeStorageSpace" and isinstance(threshold, (int, float)):
            threshold = f"{threshold / 2**30:g} GiB"
        minutes = int(p.get("Period", 60)) * int(p.get("EvaluationPeriods", 1)) // 60
        operator = p.get("ComparisonOperator")
        operator = _COMPARISONS.get(operator, operator) if isinstance(operator, str) else operator
        rows.append((short(alarm.logical_id), view.region(stack.name),
                     f"{p.get('MetricName')} ({p.get('Statistic', '-')})", ", ".join(dims) or "-",
                     f"{operator} {threshold} for {minutes} min",
                     str(p.get("TreatMissingData", "missing")),
                     ", ".join(sorted({text(a) for a in p.get("AlarmActions", [])})) or "**none**"))
    return Section(title="Alarms",
                   headers=("alarm", "region", "metric", "on", "fires when", "missing data",
                            "notifies"),
                   rows=tuple(rows))


# --- the diagram ------------------------------------------------------------------------------

def _node_id(address: Address) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(address))


def _diagram(view: EnvironmentView, instances: Sequence[Instance]
             ) -> tuple[tuple[Node, ...], tuple[Edge, ...]]:
    nodes: list[Node] = []
    edges: list[Edge] = []
    for inst in instances:
        nodes.append(Node(id=_node_id(inst.address), region=inst.region,
                          shape="database", in_vpc=True,
                          label=f"{inst.role}<br/>{inst.identifier}<br/>{inst.instance_class} · "
                                f"{'Multi-AZ' if inst.multi_az else 'Single-AZ'}"))
    by_identifier = {inst.identifier: inst for inst in instances}
    for inst in instances:
        source = by_identifier.get(inst.source or "")
        if source is not None:
            label = ("async replication" if source.region == inst.region
                     else "cross-region async replication")
            edges.append(Edge(source=_node_id(source.address),
                              target=_node_id(inst.address), label=label))
    for stack, key in view.all_of_type("AWS::KMS::Key"):
        nodes.append(Node(id=_node_id(_address(stack, key)), region=view.region(stack.name),
                          shape="key", label=view.name(stack, key)))
    for inst in instances:
        key_address = view.address(view.stacks[inst.stack], inst.resource.prop("KmsKeyId"))
        if key_address is not None:
            edges.append(Edge(source=_node_id(key_address), target=_node_id(inst.address),
                              label="encrypts", dotted=True))
    for stack, secret in view.all_of_type("AWS::SecretsManager::Secret"):
        secret_id = _node_id(_address(stack, secret))
        nodes.append(Node(id=secret_id, region=view.region(stack.name), shape="secret",
                          label=f"Secret {short(secret.logical_id)}<br/>rotation: "
                                f"{_rotation(stack, secret) or 'no rotation'}"))
        for attachment in _attachments(stack, secret):
            target = view.address(stack, attachment.prop("TargetId"))
            if target:
                edges.append(Edge(source=secret_id, target=_node_id(target),
                                  label="master credentials", dotted=True))
    for stack, vault in view.all_of_type("AWS::Backup::BackupVault"):
        nodes.append(Node(id=_node_id(_address(stack, vault)), region=view.region(stack.name),
                          shape="vault", label=f"Backup vault {short(vault.logical_id)}"))
    for stack, plan in view.all_of_type("AWS::Backup::BackupPlan"):
        rules = (plan.prop("BackupPlan") or {}).get("BackupPlanRule", [])
        targets = {view.address(stack, r.get("TargetBackupVault")) for r in rules}
        vaults = sorted(vault for vault in targets if vault)
        names = ", ".join(str(r.get("RuleName")) for r in rules)
        edges += [Edge(source=_node_id(target), target=_node_id(vault),
                       label=f"backups: {names}")
                  for target in _selected(view, plan) for vault in vaults]
        for rule in rules:
            origin = view.address(stack, rule.get("TargetBackupVault"))
            for copy in rule.get("CopyActions", []):
                destination = view.address(stack, copy.get("DestinationBackupVaultArn"))
                if origin and destination:
                    edges.append(Edge(source=_node_id(origin), target=_node_id(destination),
                                      label=f"copies of {rule.get('RuleName')}"))
    return tuple(nodes), tuple(edges)


def describe(*, name: str, account: str | None, termination_protection: bool,
             templates: Mapping[str, Template],
             regions: Mapping[str, str | None]) -> Environment:
    """The facts of one environment from its normalized templates ({stack: template}) and the
    region of each stack (from the cloud assembly: templates do not say where they deploy;
    None, or a stack left out, for an environment-agnostic stack)."""
    view = EnvironmentView(link_stacks(
        Stack.from_template(stack, template, region=regions.get(stack))
        for stack, template in templates.items()))
    azs: dict[str, tuple[str, ...]] = {}
    cidrs: dict[str, tuple[str, ...]] = {}
    for stack, subnet in view.all_of_type("AWS::EC2::Subnet"):
        region = view.region(stack.name)
        azs[region] = (*azs.get(region, ()), az_text(subnet.prop("AvailabilityZone")))
    for stack, vpc in view.all_of_type("AWS::EC2::VPC"):
        region = view.region(stack.name)
        cidrs[region] = (*cidrs.get(region, ()), str(vpc.prop("CidrBlock")))
    instances = _instances(view, azs)
    nodes, edges = _diagram(view, instances)
    primary_regions = {i.region for i in instances if i.role == "primary"}
    region_names = sorted({view.region(stack) for stack in view.stacks},
                          key=lambda region: (region not in primary_regions, region))
    return Environment(
        name=name, account=account or "chosen at deploy time",
        regions=tuple(RegionBox(name=r, availability_zones=tuple(dict.fromkeys(azs.get(r, ()))),
                                vpc_cidrs=cidrs.get(r, ())) for r in region_names),
        instances=instances, nodes=nodes, edges=edges,
        sections=(
            _topology(instances),
            _encryption(view),
            _backups(view),
            _protection(view, termination_protection),
            _credentials(view),
            _network(view),
            _tls(view),
            _alarms(view),
        ))
