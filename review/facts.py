"""What a reviewer needs to know about one environment, read from its synthesized templates.

Every fact comes from the normalized templates (what CloudFormation will be asked to build), not
from the config or the construct code, so the report cannot describe an intention the templates
do not carry. The exceptions are stack-level settings that templates do not hold (each stack's
region, the account, termination protection); the caller passes those and the report says so.

An environment can span regions (a cross-region replica and DR vault): every stack is read, and
references between stacks (`Fn::GetStackOutput`) are followed, so "which key protects what" and
"which instance replicates from which" hold across regions.

The output is a list of `Section`s (title, table, notes) and a `Diagram`; `review.report` renders
both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from review.stateful import STATEFUL_TYPES

Template = Mapping[str, Any]
Resource = Mapping[str, Any]
#: (stack name, logical id): a resource anywhere in the environment.
Address = tuple[str, str]

_HASH_SUFFIX = re.compile(r"[0-9A-F]{8}$")
_KEY_PROPERTIES = ("KmsKeyId", "KMSKeyId", "KmsMasterKeyId", "EncryptionKeyArn", "KmsKeyArn",
                   "PerformanceInsightsKMSKeyId", "AutomaticBackupReplicationKmsKeyId")
_KIND = {"AWS::RDS::DBInstance": "DB storage", "AWS::Logs::LogGroup": "log groups",
         "AWS::SecretsManager::Secret": "secret", "AWS::SNS::Topic": "alarm topic",
         "AWS::Backup::BackupVault": "backup vault"}
_TLS_PARAMETERS = {"require_secure_transport": "ON", "rds.force_ssl": "1"}
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


def of_type(resources: Mapping[str, Resource], type_: str) -> dict[str, Resource]:
    return {lid: res for lid, res in resources.items() if res.get("Type") == type_}


def props(resource: Resource) -> Mapping[str, Any]:
    return resource.get("Properties", {})


def referenced(value: Any) -> str | None:
    """The logical id a `Ref` / `Fn::GetAtt` value points at, if it is one."""
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def references_in(value: Any) -> Iterator[str]:
    """Every logical id referenced anywhere inside `value` (e.g. inside an Fn::Join ARN)."""
    target = referenced(value)
    if target is not None and not target.startswith("AWS::"):
        yield target
    if isinstance(value, dict):
        for item in value.values():
            yield from references_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from references_in(item)


def text(value: Any) -> str:
    """A template value as short, readable text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    target = referenced(value)
    if target is not None:
        return short(target)
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


class EnvironmentView:
    """All stacks of one environment, with cross-stack reference resolution and labels."""

    def __init__(self, *, templates: Mapping[str, Template], regions: Mapping[str, str]) -> None:
        self.templates = templates
        self.regions = regions
        self.labels: dict[Address, str] = {}
        for stack, template in templates.items():
            resources = self.resources(stack)
            for lid in resources:
                self.labels[(stack, lid)] = short(lid)
            for lid, res in of_type(resources, "AWS::RDS::DBInstance").items():
                self.labels[(stack, lid)] = str(props(res).get("DBInstanceIdentifier", short(lid)))
            for res in of_type(resources, "AWS::KMS::Alias").values():
                target = referenced(props(res).get("TargetKeyId"))
                if target:
                    self.labels[(stack, target)] = f"KMS key {props(res)['AliasName']}"
            for lid, res in of_type(resources, "AWS::Logs::LogGroup").items():
                self.labels[(stack, lid)] = str(props(res).get("LogGroupName", short(lid)))

    def resources(self, stack: str) -> Mapping[str, Resource]:
        return self.templates[stack].get("Resources", {})

    def region(self, stack: str) -> str:
        return self.regions.get(stack, "deploy-time region")

    def all_of_type(self, type_: str) -> Iterator[tuple[str, str, Resource]]:
        for stack in self.templates:
            for lid, res in of_type(self.resources(stack), type_).items():
                yield stack, lid, res

    def resolve(self, stack: str, value: Any) -> Address | None:
        """The resource a Ref/GetAtt, or a `Fn::GetStackOutput` of another stack, points at."""
        target = referenced(value)
        if target is not None:
            return (stack, target) if target in self.resources(stack) else None
        if isinstance(value, dict) and "Fn::GetStackOutput" in value:
            out = value["Fn::GetStackOutput"]
            other = str(out.get("StackName"))
            if other in self.templates:
                output = self.templates[other].get("Outputs", {}).get(out.get("OutputName"), {})
                return self.resolve(other, output.get("Value"))
        return None

    def label(self, address: Address | None, fallback: str = "-") -> str:
        return self.labels.get(address, fallback) if address else fallback


# --- sections ---------------------------------------------------------------------------------

def _source_identifier(view: EnvironmentView, stack: str, value: Any) -> str | None:
    """The DB identifier a replica's SourceDBInstanceIdentifier names (a Ref or a literal ARN)."""
    if value is None:
        return None
    for lid in references_in(value):
        if lid in view.resources(stack):
            return view.label((stack, lid))
    parts = value.get("Fn::Join", ["", []])[1] if isinstance(value, dict) else [value]
    last = parts[-1] if parts else None
    return last.rsplit(":db:", 1)[-1].lstrip(":") if isinstance(last, str) else text(value)


def _instances(view: EnvironmentView, azs: Mapping[str, tuple[str, ...]]) -> tuple[Instance, ...]:
    rows = []
    for stack, lid, res in view.all_of_type("AWS::RDS::DBInstance"):
        p = props(res)
        region = view.region(stack)
        zones = ", ".join(azs.get(region, ())) or "the region's AZs"
        multi_az = bool(p.get("MultiAZ"))
        if "AvailabilityZone" in p:
            placement = str(p["AvailabilityZone"])
        elif multi_az:
            placement = f"Multi-AZ (writer + standby) across {zones}"
        else:
            placement = f"one of {zones} (RDS chooses)"
        rows.append(Instance(
            stack=stack, logical_id=lid, region=region, identifier=view.label((stack, lid)),
            role="replica" if "SourceDBInstanceIdentifier" in p else "primary",
            instance_class=str(p.get("DBInstanceClass", "-")), multi_az=multi_az,
            placement=placement,
            source=_source_identifier(view, stack, p.get("SourceDBInstanceIdentifier"))))
    rows.sort(key=lambda i: (i.role != "primary", "SourceRegion" in props(
        view.resources(i.stack)[i.logical_id]), i.identifier))
    return tuple(rows)


def _topology(view: EnvironmentView, instances: Sequence[Instance]) -> Section:
    rows = []
    for inst in instances:
        p = props(view.resources(inst.stack)[inst.logical_id])
        engine = (f"{p.get('Engine')} {p.get('EngineVersion')}" if inst.role == "primary"
                  else f"same as {inst.source}")
        size = f"{p['AllocatedStorage']} GiB" if "AllocatedStorage" in p else "size of the source"
        storage = (f"{p.get('StorageType', 'gp2')}, {size}, autoscaling to "
                   f"{p.get('MaxAllocatedStorage', '-')} GiB")
        role = (f"cross-region replica (from {p['SourceRegion']})" if "SourceRegion" in p
                else inst.role)
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
    protected: dict[Address, dict[str, set[str]]] = {
        (stack, lid): {} for stack, lid, _ in view.all_of_type("AWS::KMS::Key")}

    def add(key: Address | None, what: str, name: str) -> None:
        if key in protected:
            protected[key].setdefault(what, set()).add(name)

    for stack in view.templates:
        for lid, res in view.resources(stack).items():
            p = props(res)
            kind = _KIND.get(res["Type"], res["Type"].split("::", 1)[1])
            for name in _KEY_PROPERTIES:
                what = {"PerformanceInsightsKMSKeyId": "Performance Insights",
                        "AutomaticBackupReplicationKmsKeyId": "replicated automated backups"
                        }.get(name, kind)
                add(view.resolve(stack, p.get(name)), what, view.label((stack, lid)))
            add(view.resolve(stack, p.get("HostedRotationLambda", {}).get("KmsKeyArn")),
                "rotation function", short(lid))
    rows = []
    for (stack, lid), uses in protected.items():
        p = props(view.resources(stack)[lid])
        rotation = (f"every {p.get('RotationPeriodInDays', 365)} days"
                    if p.get("EnableKeyRotation") else "**OFF**")
        rows.append((view.label((stack, lid)), f"{stack} ({view.region(stack)})", rotation,
                     view.resources(stack)[lid].get("DeletionPolicy", "Delete"),
                     "; ".join(f"{what}: {', '.join(sorted(names))}"
                               for what, names in sorted(uses.items())) or "-"))
    notes = []
    for stack, lid, res in view.all_of_type("AWS::RDS::DBInstance"):
        p = props(res)
        if "SourceDBInstanceIdentifier" in p and "KmsKeyId" not in p:
            notes.append(f"{view.label((stack, lid))}: storage encrypted with its source's key "
                         "(a same-region replica inherits it).")
        elif "SourceDBInstanceIdentifier" not in p and p.get("StorageEncrypted") is not True:
            notes.append(f"**{view.label((stack, lid))}: storage NOT encrypted.**")
    return Section(title="Encryption",
                   headers=("key", "stack (region)", "rotation", "DeletionPolicy", "protects"),
                   rows=tuple(rows), notes=tuple(notes))


def _backups(view: EnvironmentView) -> Section:
    rows = []
    notes = []
    for stack, lid, res in view.all_of_type("AWS::RDS::DBInstance"):
        p = props(res)
        name = view.label((stack, lid))
        if "BackupRetentionPeriod" in p:
            retention = f"{p['BackupRetentionPeriod']} days"
        elif "SourceDBInstanceIdentifier" in p:
            retention = "none (not supported on this replica)"
        else:
            retention = "RDS default (1 day)"
        rows.append((name, "automated (RDS)", retention, str(p.get("PreferredBackupWindow", "-")),
                     "kept" if p.get("DeleteAutomatedBackups") is False else "deleted",
                     f"tags copied to snapshots: {text(p.get('CopyTagsToSnapshot', False))}"))
        if "AutomaticBackupReplicationRegion" in p:
            key = view.label(view.resolve(stack, p.get("AutomaticBackupReplicationKmsKeyId")),
                             text(p.get("AutomaticBackupReplicationKmsKeyId")))
            rows.append((name, f"automated backups replicated to "
                               f"{p['AutomaticBackupReplicationRegion']}",
                         f"{p.get('AutomaticBackupReplicationRetentionPeriod', 7)} days",
                         "continuous", "-", f"encrypted with {key}"))
    for stack, plan_id, plan in view.all_of_type("AWS::Backup::BackupPlan"):
        selected = [view.label((stack, target))
                    for _, _, sel in view.all_of_type("AWS::Backup::BackupSelection")
                    if referenced(props(sel).get("BackupPlanId")) == plan_id
                    for target in references_in(props(sel).get("BackupSelection", {})
                                                .get("Resources"))]
        for rule in props(plan).get("BackupPlan", {}).get("BackupPlanRule", []):
            life = rule.get("Lifecycle", {})
            cold = (f", cold storage after {life['MoveToColdStorageAfterDays']} days"
                    if "MoveToColdStorageAfterDays" in life else "")
            rows.append((", ".join(selected) or "-", f"AWS Backup rule {rule.get('RuleName')}",
                         f"{life.get('DeleteAfterDays', 'forever')} days{cold}",
                         str(rule.get("ScheduleExpression")), "-", "-"))
            for copy in rule.get("CopyActions", []):
                target = view.resolve(stack, copy.get("DestinationBackupVaultArn"))
                where = (f"{view.label(target)} in {view.region(target[0])}" if target
                         else text(copy.get("DestinationBackupVaultArn")))
                rows.append((", ".join(selected) or "-",
                             f"copy of rule {rule.get('RuleName')} to vault {where}",
                             f"{copy.get('Lifecycle', {}).get('DeleteAfterDays', 'forever')} days",
                             "after each backup", "-", "-"))
    vaults = list(view.all_of_type("AWS::Backup::BackupVault"))
    for stack, lid, vault in vaults:
        p = props(vault)
        denies = [s for s in p.get("AccessPolicy", {}).get("Statement", [])
                  if s.get("Effect") == "Deny"
                  and "backup:DeleteRecoveryPoint" in s.get("Action", [])]
        key = view.label(view.resolve(stack, p.get("EncryptionKeyArn")), "AWS managed key")
        notes.append(f"Vault {short(lid)} ({view.region(stack)}): encrypted with {key}, "
                     f"DeletionPolicy {vault.get('DeletionPolicy', 'Delete')}, recovery point "
                     f"deletion {'denied by the vault policy' if denies else 'allowed'}"
                     f"{', vault lock ON' if 'LockConfiguration' in p else ''}.")
    if not vaults:
        notes.append("**No AWS Backup vault: only RDS automated backups.**")
    return Section(title="Backups",
                   headers=("what", "mechanism", "retention", "window/schedule",
                            "automated backups on delete", "notes"),
                   rows=tuple(rows), notes=tuple(notes))


def _protection(view: EnvironmentView, termination: bool) -> Section:
    rows = []
    for stack in view.templates:
        for lid, res in view.resources(stack).items():
            if res.get("Type") not in STATEFUL_TYPES:
                continue
            deletion_protection = (text(props(res).get("DeletionProtection", False))
                                   if res["Type"] == "AWS::RDS::DBInstance" else "n/a")
            rows.append((view.label((stack, lid)), res["Type"], stack, deletion_protection,
                         res.get("DeletionPolicy", "Delete"),
                         res.get("UpdateReplacePolicy", "Delete")))
    return Section(
        title="Deletion protection and policies",
        headers=("resource", "type", "stack", "DeletionProtection", "DeletionPolicy",
                 "UpdateReplacePolicy"),
        rows=tuple(rows),
        notes=("Stack termination protection (from the config, not the template): "
               f"{'ON' if termination else 'off'}.",))


def _rotation(view: EnvironmentView, stack: str, secret: str) -> str | None:
    resources = view.resources(stack)
    attachments = {lid for lid, att in
                   of_type(resources, "AWS::SecretsManager::SecretTargetAttachment").items()
                   if referenced(props(att).get("SecretId")) == secret}
    for schedule in of_type(resources, "AWS::SecretsManager::RotationSchedule").values():
        p = props(schedule)
        if referenced(p.get("SecretId")) in {secret, *attachments}:
            rules = p.get("RotationRules", {})
            kind = p.get("HostedRotationLambda", {}).get("RotationType", "custom Lambda")
            every = rules.get("ScheduleExpression") or (
                f"every {rules.get('AutomaticallyAfterDays')} days")
            return f"{kind}, {every}"
    return None


def _credentials(view: EnvironmentView) -> Section:
    rows = []
    for stack, lid, res in view.all_of_type("AWS::SecretsManager::Secret"):
        p = props(res)
        generate = p.get("GenerateSecretString", {})
        try:
            username = json.loads(generate.get("SecretStringTemplate", "{}")).get("username", "-")
        except json.JSONDecodeError:
            username = "-"
        targets = [view.label((stack, str(referenced(props(att).get("TargetId")))))
                   for att in of_type(view.resources(stack),
                                      "AWS::SecretsManager::SecretTargetAttachment").values()
                   if referenced(props(att).get("SecretId")) == lid]
        password = (f"generated, {generate.get('PasswordLength', 32)} characters" if generate
                    else "set outside the template")
        rows.append((short(lid), username, password,
                     view.label(view.resolve(stack, p.get("KmsKeyId")), "AWS managed key"),
                     ", ".join(targets) or "-", _rotation(view, stack, lid) or "**none**",
                     res.get("DeletionPolicy", "Delete")))
    iam = [view.label((stack, lid)) for stack, lid, res in view.all_of_type("AWS::RDS::DBInstance")
           if props(res).get("EnableIAMDatabaseAuthentication")]
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


def _ingress(view: EnvironmentView, stack: str) -> dict[str, list[tuple[str, str, str]]]:
    """{security group logical id: [(source, port, description)]} from both rule styles."""
    rules: dict[str, list[tuple[str, str, str]]] = {}
    resources = view.resources(stack)
    for lid, sg in of_type(resources, "AWS::EC2::SecurityGroup").items():
        for rule in props(sg).get("SecurityGroupIngress", []):
            rules.setdefault(lid, []).append(_rule(rule))
    for res in of_type(resources, "AWS::EC2::SecurityGroupIngress").values():
        target = referenced(props(res).get("GroupId"))
        if target:
            rules.setdefault(target, []).append(_rule(props(res)))
    return rules


def _network(view: EnvironmentView) -> Section:
    rows = []
    for stack in view.templates:
        ingress = _ingress(view, stack)
        for lid, res in of_type(view.resources(stack), "AWS::RDS::DBInstance").items():
            p = props(res)
            for sg in p.get("VPCSecurityGroups", []):
                for source, port, rule in ingress.get(str(referenced(sg)), []) or [
                        ("nothing (no ingress rule)", "-", "-")]:
                    rows.append((view.label((stack, lid)), text(p.get("PubliclyAccessible")),
                                 str(p.get("Port")), source, port, rule))
    notes = []
    for stack in view.templates:
        net = view.resources(stack)
        if not of_type(net, "AWS::EC2::VPC"):
            continue
        gateways = [t.split("::")[-1] for t in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway",
                                                "AWS::EC2::EgressOnlyInternetGateway")
                    if of_type(net, t)]
        public = [short(lid) for lid, s in of_type(net, "AWS::EC2::Subnet").items()
                  if props(s).get("MapPublicIpOnLaunch")]
        endpoints = [text(props(e).get("ServiceName")).rsplit(".", 1)[-1].strip('"]}')
                     for e in of_type(net, "AWS::EC2::VPCEndpoint").values()]
        flow = [str(props(f).get("TrafficType", "-"))
                for f in of_type(net, "AWS::EC2::FlowLog").values()]
        route = (f"**{', '.join(gateways)} present**" if gateways
                 else "none (no internet or NAT gateway)")
        notes.append(f"{stack} ({view.region(stack)}): internet route {route}; subnets assigning "
                     f"public IPs: {', '.join(public) or 'none'}; VPC endpoints: "
                     f"{', '.join(endpoints) or 'none'}; flow logs: {', '.join(flow) or 'none'}.")
    return Section(title="Network exposure",
                   headers=("instance", "public", "port", "allowed source", "protocol/port",
                            "rule"),
                   rows=tuple(rows), notes=tuple(notes))


def _tls(view: EnvironmentView) -> Section:
    rows = []
    for stack, lid, res in view.all_of_type("AWS::RDS::DBInstance"):
        p = props(res)
        group = view.resources(stack).get(str(referenced(p.get("DBParameterGroupName"))), {})
        parameters = props(group).get("Parameters", {}) if group else {}
        enforced = [f"{k}={v}" for k, v in parameters.items() if _TLS_PARAMETERS.get(k) == str(v)]
        rows.append((view.label((stack, lid)), ", ".join(enforced) or "**not enforced**",
                     str(p.get("CACertificateIdentifier", "RDS default"))))
    return Section(title="TLS in transit",
                   headers=("instance", "TLS required by", "CA certificate"), rows=tuple(rows))


def _alarms(view: EnvironmentView) -> Section:
    rows = []
    for stack, lid, res in sorted(view.all_of_type("AWS::CloudWatch::Alarm"),
                                  key=lambda item: (item[0], item[1])):
        p = props(res)
        dims = [view.label(view.resolve(stack, d.get("Value")), text(d.get("Value")))
                for d in p.get("Dimensions", [])]
        threshold = p.get("Threshold")
        if p.get("MetricName") == "FreeStorageSpace" and isinstance(threshold, (int, float)):
            threshold = f"{threshold / 2**30:g} GiB"
        minutes = int(p.get("Period", 60)) * int(p.get("EvaluationPeriods", 1)) // 60
        operator = _COMPARISONS.get(p.get("ComparisonOperator"), p.get("ComparisonOperator"))
        rows.append((short(lid), view.region(stack),
                     f"{p.get('MetricName')} ({p.get('Statistic', '-')})", ", ".join(dims) or "-",
                     f"{operator} {threshold} for {minutes} min",
                     str(p.get("TreatMissingData", "missing")),
                     ", ".join(sorted({text(a) for a in p.get("AlarmActions", [])})) or "**none**"))
    return Section(title="Alarms",
                   headers=("alarm", "region", "metric", "on", "fires when", "missing data",
                            "notifies"),
                   rows=tuple(rows))


# --- the diagram ------------------------------------------------------------------------------

def _node_id(stack: str, lid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{stack}_{lid}")


def _diagram(view: EnvironmentView, instances: Sequence[Instance]
             ) -> tuple[tuple[Node, ...], tuple[Edge, ...]]:
    nodes: list[Node] = []
    edges: list[Edge] = []
    az = "Multi-AZ"
    for inst in instances:
        nodes.append(Node(id=_node_id(inst.stack, inst.logical_id), region=inst.region,
                          shape="database", in_vpc=True,
                          label=f"{inst.role}<br/>{inst.identifier}<br/>{inst.instance_class} · "
                                f"{az if inst.multi_az else 'Single-AZ'}"))
    by_identifier = {inst.identifier: inst for inst in instances}
    for inst in instances:
        source = by_identifier.get(inst.source or "")
        if source is not None:
            label = ("async replication" if source.region == inst.region
                     else "cross-region async replication")
            edges.append(Edge(source=_node_id(source.stack, source.logical_id),
                              target=_node_id(inst.stack, inst.logical_id), label=label))
    for stack, lid, _ in view.all_of_type("AWS::KMS::Key"):
        nodes.append(Node(id=_node_id(stack, lid), region=view.region(stack), shape="key",
                          label=view.label((stack, lid))))
    for inst in instances:
        p = props(view.resources(inst.stack)[inst.logical_id])
        key = view.resolve(inst.stack, p.get("KmsKeyId"))
        if key is not None:
            edges.append(Edge(source=_node_id(*key), target=_node_id(inst.stack, inst.logical_id),
                              label="encrypts", dotted=True))
    for stack, lid, _ in view.all_of_type("AWS::SecretsManager::Secret"):
        rotation = _rotation(view, stack, lid) or "no rotation"
        nodes.append(Node(id=_node_id(stack, lid), region=view.region(stack), shape="secret",
                          label=f"Secret {short(lid)}<br/>rotation: {rotation}"))
        for att in of_type(view.resources(stack),
                           "AWS::SecretsManager::SecretTargetAttachment").values():
            target = referenced(props(att).get("TargetId"))
            if referenced(props(att).get("SecretId")) == lid and target:
                edges.append(Edge(source=_node_id(stack, lid), target=_node_id(stack, target),
                                  label="master credentials", dotted=True))
    for stack, lid, _ in view.all_of_type("AWS::Backup::BackupVault"):
        nodes.append(Node(id=_node_id(stack, lid), region=view.region(stack), shape="vault",
                          label=f"Backup vault {short(lid)}"))
    for stack, plan_id, plan in view.all_of_type("AWS::Backup::BackupPlan"):
        rules = props(plan).get("BackupPlan", {}).get("BackupPlanRule", [])
        selected = [target for _, _, sel in view.all_of_type("AWS::Backup::BackupSelection")
                    if referenced(props(sel).get("BackupPlanId")) == plan_id
                    for target in references_in(props(sel).get("BackupSelection", {})
                                                .get("Resources"))]
        vaults = sorted({str(referenced(r.get("TargetBackupVault"))) for r in rules
                         if referenced(r.get("TargetBackupVault"))})
        names = ", ".join(str(r.get("RuleName")) for r in rules)
        edges += [Edge(source=_node_id(stack, target), target=_node_id(stack, vault),
                       label=f"backups: {names}") for target in selected for vault in vaults]
        for rule in rules:
            origin = referenced(rule.get("TargetBackupVault"))
            for copy in rule.get("CopyActions", []):
                destination = view.resolve(stack, copy.get("DestinationBackupVaultArn"))
                if origin and destination:
                    edges.append(Edge(source=_node_id(stack, origin),
                                      target=_node_id(*destination),
                                      label=f"copies of {rule.get('RuleName')}"))
    return tuple(nodes), tuple(edges)


def describe(*, name: str, account: str | None, termination_protection: bool,
             templates: Mapping[str, Template], regions: Mapping[str, str]) -> Environment:
    """The facts of one environment from its normalized templates ({stack: template}) and the
    region of each stack (templates do not say where they deploy)."""
    view = EnvironmentView(templates=templates, regions=regions)
    azs: dict[str, tuple[str, ...]] = {}
    cidrs: dict[str, tuple[str, ...]] = {}
    for stack, _, subnet in view.all_of_type("AWS::EC2::Subnet"):
        region = view.region(stack)
        azs[region] = (*azs.get(region, ()), az_text(props(subnet).get("AvailabilityZone")))
    for stack, _, vpc in view.all_of_type("AWS::EC2::VPC"):
        region = view.region(stack)
        cidrs[region] = (*cidrs.get(region, ()), str(props(vpc).get("CidrBlock")))
    instances = _instances(view, azs)
    nodes, edges = _diagram(view, instances)
    primary_regions = {i.region for i in instances if i.role == "primary"}
    region_names = sorted({view.region(stack) for stack in templates},
                          key=lambda region: (region not in primary_regions, region))
    return Environment(
        name=name, account=account or "chosen at deploy time",
        regions=tuple(RegionBox(name=r, availability_zones=tuple(dict.fromkeys(azs.get(r, ()))),
                                vpc_cidrs=cidrs.get(r, ())) for r in region_names),
        instances=instances, nodes=nodes, edges=edges,
        sections=(
            _topology(view, instances),
            _encryption(view),
            _backups(view),
            _protection(view, termination_protection),
            _credentials(view),
            _network(view),
            _tls(view),
            _alarms(view),
        ))
