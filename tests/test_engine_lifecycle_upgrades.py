"""The templates of an engine upgrade, stage by stage, synthesized through the policy gate in one
App: a MySQL major upgrade (8.0 to 8.4: the replicas first, then the writer) and a PostgreSQL
one (16 to 17: the writer, RDS taking the same-region replicas along), each with same-region
replicas and a cross-region replica. Between two stages only the engine versions change (with
the parameter and option groups' families, at the same logical ids): no DB instance changes a
create-only property or its logical id, so nothing is replaced."""

from __future__ import annotations

import dataclasses
import datetime
import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import pytest

import config
from app import BUILTIN_CFN_VALIDATION, cdk_context
from cloud_assembly import engines, rds
from config.schema import ExtendedSupport
from policy.gate import apply_gate, policy_of
from policy.plugin import Evaluation
from policy.report import markdown
from policy.rules.lifecycle import ENGINE_IN_STANDARD_SUPPORT
from stacks import EnvironmentStacks, build_stacks
from tests.helpers import mysql_copy_of_local, resources

Template = dict[str, Any]
#: A month before MySQL 8.0 leaves standard support: when its upgrade is planned.
TODAY = datetime.date(2026, 6, 30)
#: Conditionally create-only too (CloudFormation replaces the instance when they change).
CREATE_ONLY = (*rds.CREATE_ONLY, "Engine", "AvailabilityZone", "PerformanceInsightsKMSKeyId",
               "SourceDBInstanceIdentifier", "StorageType")

_PG = config.ENVIRONMENTS["local"]  # PostgreSQL 17.9, two regions in one emulator
#: Env local on MySQL 8.4 (the schema's engine fields).
_LOCAL = mysql_copy_of_local()
#: Chosen ahead of the date, in case the upgrade runs past it; dropped once it is done.
_CHOSEN = ExtendedSupport(reason="The upgrade to MySQL 8.4 may run past the end of standard "
                                 "support of MySQL 8.0 on 2026-07-31.")
VARIANTS: dict[str, config.DatabaseConfig] = {
    # MySQL: 8.0 everywhere; stage 1, the replicas (same-region and cross-region) on 8.4;
    # stage 2, the writer too.
    "my-before": dataclasses.replace(_LOCAL, engine_version="8.0.43", extended_support=_CHOSEN),
    "my-stage1": dataclasses.replace(_LOCAL, engine_version="8.0.43", extended_support=_CHOSEN,
                                     replica_engine_version=_LOCAL.engine_version),
    "my-stage2": _LOCAL,
    # PostgreSQL: one stage, the writer's version; after it, env local as configured (the
    # session's synthesis).
    "pg-before": dataclasses.replace(_PG, engine_version="16.13"),
}


@dataclass(frozen=True)
class Variant:
    name: str
    templates: dict[str, Template]  # by stack role: Database, DrReplica, ...
    stacks: EnvironmentStacks
    evaluations: tuple[Evaluation, ...]  # the gate's, of this variant

    @property
    def config(self) -> config.DatabaseConfig:
        return self.stacks.config

    def instances(self) -> dict[str, dict[str, Any]]:
        """{role/logical id: DB instance} of every stack, names made those of any variant."""
        return {f"{role}/{logical_id}": json.loads(json.dumps(body).replace(self.name, "ENV"))
                for role, t in self.templates.items()
                for logical_id, body in resources(t, rds.DB_INSTANCE).items()}

    def groups(self, type_: str, key: str) -> dict[str, str]:
        """{role/logical id: Family (or MajorEngineVersion)} of every parameter (option) group."""
        return {f"{role}/{logical_id}": body["Properties"][key]
                for role, t in self.templates.items()
                for logical_id, body in resources(t, type_).items()}


def _variant(name: str, stacks: EnvironmentStacks, templates: dict[str, Template],
             app: cdk.App) -> Variant:
    prefix = f"RedundantDb-{name}-"
    return Variant(name, {stack.removeprefix(prefix): t for stack, t in templates.items()},
                   stacks, tuple(e for e in policy_of(app).evaluations if e.environment == name))


@pytest.fixture(scope="module")
def variants(environments: dict[str, Any]) -> dict[str, Variant]:
    """Each variant through the gate, all in one App; `pg-after` is env local."""
    app = cdk.App(context=cdk_context(), analytics_reporting=False,
                  builtin_cloud_formation_validation=BUILTIN_CFN_VALIDATION)
    built = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engines, "today", lambda: TODAY)
        for name, cfg in VARIANTS.items():
            built[name] = build_stacks(app, config.validate(dataclasses.replace(cfg, name=name)))
            apply_gate(app, built[name])
        assembly = app.synth()  # raises when the gate refuses any variant
    out = {name: _variant(name, stacks, {s.stack_name: assembly.get_stack_by_name(
        s.stack_name).template for s in stacks.all}, app) for name, stacks in built.items()}
    local = environments["local"]
    out["pg-after"] = _variant("local", local.stacks, local.templates, local.app)
    return out


def _version(variant: Variant, role: str, which: str) -> tuple[str, str]:
    """(EngineVersion, parameter-group family) of the writer or the replicas of a stack."""
    template = variant.templates[role]
    groups = resources(template, "AWS::RDS::DBParameterGroup")
    out = set()
    for body in resources(template, rds.DB_INSTANCE).values():
        props = body["Properties"]
        if (which == "writer") == rds.is_replica(props):
            continue
        group = groups[props["DBParameterGroupName"]["Ref"]]["Properties"]["Family"]
        out.add((props["EngineVersion"], group))
    assert len(out) == 1, out
    return out.pop()


@pytest.mark.parametrize(("name", "writer", "replicas", "dr_replica"), [
    ("my-before", ("8.0.43", "mysql8.0"), ("8.0.43", "mysql8.0"), ("8.0.43", "mysql8.0")),
    ("my-stage1", ("8.0.43", "mysql8.0"), ("8.4.10", "mysql8.4"), ("8.4.10", "mysql8.4")),
    ("my-stage2", ("8.4.10", "mysql8.4"), ("8.4.10", "mysql8.4"), ("8.4.10", "mysql8.4")),
    ("pg-before", ("16.13", "postgres16"), ("16.13", "postgres16"), ("16.13", "postgres16")),
    ("pg-after", ("17.9", "postgres17"), ("17.9", "postgres17"), ("17.9", "postgres17")),
])
def test_each_member_declares_its_version_with_a_parameter_group_of_its_family(
        variants: dict[str, Variant], name: str, writer: tuple[str, str],
        replicas: tuple[str, str], dr_replica: tuple[str, str]) -> None:
    variant = variants[name]
    assert _version(variant, "Database", "writer") == writer
    assert _version(variant, "Database", "replicas") == replicas
    assert _version(variant, "DrReplica", "replicas") == dr_replica


def test_two_families_exist_while_the_replicas_run_ahead(variants: dict[str, Variant]) -> None:
    families = set(variants["my-stage1"].groups("AWS::RDS::DBParameterGroup", "Family").values())
    assert families == {"mysql8.0", "mysql8.4"}
    audit = set(variants["my-stage1"].groups("AWS::RDS::OptionGroup",
                                             "MajorEngineVersion").values())
    assert audit == {"8.0", "8.4"}


@pytest.mark.parametrize("name", [*VARIANTS, "pg-after"])
def test_every_instance_may_take_a_major_version_and_declares_its_lifecycle(
        variants: dict[str, Variant], name: str) -> None:
    variant = variants[name]
    wanted = (engines.EXTENDED_SUPPORT if variant.config.extended_support
              else engines.STANDARD_SUPPORT_ONLY)
    instances = variant.instances()
    assert len(instances) == _LOCAL.replica_count + 2  # writer, replicas, DR replica
    for body in instances.values():
        assert body["Properties"]["AllowMajorVersionUpgrade"] is True
        assert body["Properties"]["EngineLifecycleSupport"] == wanted


@pytest.mark.parametrize(("before", "after", "changed"), [
    ("my-before", "my-stage1", {"replicas"}),
    ("my-stage1", "my-stage2", {"writer"}),
    ("pg-before", "pg-after", {"writer", "replicas"}),
])
def test_a_stage_changes_only_engine_versions_and_replaces_nothing(
        variants: dict[str, Variant], before: str, after: str, changed: set[str]) -> None:
    old, new = variants[before].instances(), variants[after].instances()
    assert old.keys() == new.keys()  # the same logical ids: no instance replaced or removed
    # Extended Support dropped with the upgrade done: every instance says so.
    lifecycle = ({"EngineLifecycleSupport"} if variants[before].config.extended_support
                 != variants[after].config.extended_support else set())
    for logical_id in old:
        a, b = old[logical_id]["Properties"], new[logical_id]["Properties"]
        for name in CREATE_ONLY:
            assert a.get(name) == b.get(name), (logical_id, name)
        differing = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        member = "replicas" if rds.is_replica(a) else "writer"
        assert differing == ({"EngineVersion"} if member in changed else set()) | lifecycle, \
            logical_id
    # The groups keep their logical ids (a family change replaces a group, not an instance).
    for type_, key in (("AWS::RDS::DBParameterGroup", "Family"),
                       ("AWS::RDS::OptionGroup", "MajorEngineVersion")):
        assert variants[before].groups(type_, key).keys() == \
            variants[after].groups(type_, key).keys()


def test_the_cross_region_replica_is_deployed_after_the_writer(
        variants: dict[str, Variant]) -> None:
    """Stage 1 upgrades it after the same-region replicas, stage 2 the writer after it."""
    stacks = variants["my-stage1"].stacks
    assert stacks.dr is not None
    assert stacks.database in stacks.dr.replica.dependencies


def test_the_gate_reports_each_support_window(variants: dict[str, Variant]) -> None:
    details = {e.resource.prop("DBInstanceIdentifier"): e.result.detail
               for variant in variants.values() for e in variant.evaluations
               if e.rule is ENGINE_IN_STANDARD_SUPPORT and e.view == "template"}
    assert details["my-stage1-mysql-primary"] == (
        f"mysql 8.0.43: Extended Support opted in: {_CHOSEN.reason}")
    assert details["my-stage1-mysql-dr-replica"] == (
        f"mysql 8.4.10: Extended Support opted in: {_CHOSEN.reason}")
    assert details["local-postgres-dr-replica"] == (
        "postgres 17.9: standard support until 2030-02-28")


def test_the_compliance_report_shows_each_instances_support_window(
        variants: dict[str, Variant], environments: dict[str, Any]) -> None:
    prod = markdown("prod", policy_of(environments["prod"].app).evaluations, [])
    section = prod.split("## Engine versions and support windows")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows == [f"| `{identifier}` | pass | mysql 8.4.10: standard support until 2029-07-31 |"
                    for identifier in ("prod-mysql-primary", "prod-mysql-replica-1",
                                       "prod-mysql-replica-2", "prod-mysql-dr-replica")]
    chosen = markdown("my-stage1", list(variants["my-stage1"].evaluations), [])
    assert (f"| `my-stage1-mysql-primary` | pass | mysql 8.0.43: Extended Support opted in: "
            f"{_CHOSEN.reason} |") in chosen
