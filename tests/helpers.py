"""Small readers of synthesized templates shared by the tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import aws_cdk as cdk

import config
from cloud_assembly import rds
from cloud_assembly.template import Resource, Stack, references
from policy.gate import policy_of
from policy.model import StackView
from policy.views import POLICY_TYPES, construct_view_via_jsii, construct_views
from stacks import EnvironmentStacks, build_stacks

Template = dict[str, Any]


#: The fields that make an environment PostgreSQL or MySQL (env local runs PostgreSQL).
ENGINE_FIELDS = ("engine", "engine_version", "port", "log_exports", "logical_replication")


def mysql_copy_of_local(**changes: Any) -> config.DatabaseConfig:
    """Env local on MySQL: the schema's defaults of every engine field (MySQL 8.4, its port
    and log exports, no logical replication), then `changes`. Not validated."""
    mysql = {f.name: f.default for f in dataclasses.fields(config.DatabaseConfig)
             if f.name in ENGINE_FIELDS}
    return dataclasses.replace(config.ENVIRONMENTS["local"], **{**mysql, **changes})


def without_dr_region(cfg: config.DatabaseConfig, **changes: Any) -> config.DatabaseConfig:
    """`cfg` (validated) without its DR region: its network and database stacks only, for a
    test of what acts in the primary region (a synth of two stacks instead of five)."""
    return config.validate(dataclasses.replace(cfg, dr_region=None, dr_availability_zones=(),
                                               **changes))


def gated_app(outdir: Path | str) -> cdk.App:
    """An App as `app.build_app` makes one, writing into `outdir`."""
    from app import BUILTIN_CFN_VALIDATION, cdk_context

    return cdk.App(outdir=str(outdir), context=cdk_context(), analytics_reporting=False,
                   builtin_cloud_formation_validation=BUILTIN_CFN_VALIDATION)


def redundancy_only_app(outdir: Path | str) -> cdk.App:
    """An App as `gated_app`, on which `add_gated` puts the gate's Redundancy rules without
    cdk-nag's four packs (`policy.gate.redundancy_rules_only`): for an app of many copies whose
    tests read the Redundancy rules' findings alone. What cdk-nag finds is proven on the
    environments as configured (the session's synthesis) and through the CLI."""
    from policy.gate import redundancy_rules_only

    app = gated_app(outdir)
    redundancy_rules_only(app)
    return app


def add_gated(app: cdk.App, cfg: config.DatabaseConfig) -> EnvironmentStacks:
    """The stacks of `cfg` in `app`, with the policy gate on them (as `app.build_app`)."""
    from policy.gate import apply_gate

    stacks = build_stacks(app, cfg)
    apply_gate(app, stacks)
    return stacks


def resources(template: Template, type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def one(template: Template, type_: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def by_path(template: Template, suffix: str) -> tuple[str, dict[str, Any]]:
    """The resource whose construct path ends with `suffix`."""
    found = [(k, v) for k, v in template["Resources"].items()
             if v.get("Metadata", {}).get("aws:cdk:path", "").endswith(suffix)]
    assert len(found) == 1, f"expected one resource at */{suffix}, found {[k for k, _ in found]}"
    return found[0]


def primary(template: Template) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in resources(template, rds.DB_INSTANCE).items()
             if not rds.is_replica(v["Properties"])]
    assert len(found) == 1
    return found[0]


def replicas(template: Template) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources(template, rds.DB_INSTANCE).items()
            if rds.is_replica(v["Properties"])}


def refs(value: Any) -> set[str]:
    """Every logical id referenced inside `value` within its own template (Ref, Fn::GetAtt,
    Fn::Sub), pseudo parameters (AWS::Region...) left out."""
    return {logical_id for _, logical_id in references(value, Stack("", {}))}


def both_views(app: cdk.App) -> tuple[list[StackView] | None, list[StackView]]:
    """(the view read from the tree, the reference asked of Node) of a synthesized app."""
    synthesized = policy_of(app).synthesized
    by_path = {c.node.path: c for c in app.node.find_all() if isinstance(c, cdk.Stack)}
    return (construct_views(app, synthesized),
            [construct_view_via_jsii(by_path[s.path], s) for s in synthesized])


def _comparable(resource: Resource) -> tuple[Any, ...]:
    policies = ((resource.deletion_policy, resource.update_replace_policy)
                if resource.type in POLICY_TYPES else None)
    return resource.type, resource.properties, resource.path, policies


def assert_same_views(fast: list[StackView] | None, reference: list[StackView]) -> None:
    assert fast is not None, "the tree was not read"
    assert [v.name for v in fast] == [v.name for v in reference]
    for mine, theirs in zip(fast, reference, strict=True):
        assert mine.region == theirs.region
        assert sorted(mine.resources) == sorted(theirs.resources), mine.name
        for logical_id, resource in mine.resources.items():
            assert _comparable(resource) == _comparable(theirs.resources[logical_id]), \
                f"{mine.name}/{logical_id}"
        assert {k: (v["Value"], v.get("Export")) for k, v in mine.outputs.items()} == \
               {k: (v["Value"], v.get("Export")) for k, v in theirs.outputs.items()}
