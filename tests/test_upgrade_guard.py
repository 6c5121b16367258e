"""The review of an engine upgrade on the session's synthesized templates: each deploy of a
staged upgrade against the one before it, through the review's code path (`review_environment`:
the data-loss guard and the report).

MySQL (env prod: a writer, two same-region replicas, a cross-region replica): 8.0 everywhere,
stage 1 (the replicas on 8.4), stage 2 (the writer too: the session's env prod). PostgreSQL
(env dev: a writer and a same-region replica): the session's dev on 17, then 18. The stages the
session does not hold are its templates with the instances' `EngineVersion` and their
parameter groups' `Family` changed: between two stages nothing else changes (no synth needed:
tests/test_engine_lifecycle_upgrades.py synthesizes these stages through the gate and holds
that). The PostgreSQL cross-region replica's case is tests/test_data_loss_guard.py's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cloud_assembly import engines
from review.normalize import normalize
from review.pipeline import review_environment
from review.report import Review, render
from review.snapshots import Baseline

Template = dict[str, Any]


def declaring(templates: dict[str, Template], version: str, *,
              writer: bool = True, replicas: bool = True) -> dict[str, Template]:
    """A copy of `templates` whose writer and/or replicas declare `version` (with a parameter
    group of its family)."""
    out = json.loads(json.dumps(templates))
    for template in out.values():
        resources = template["Resources"]
        for body in resources.values():
            if body["Type"] != "AWS::RDS::DBInstance":
                continue
            props = body["Properties"]
            if replicas if "SourceDBInstanceIdentifier" in props else writer:
                group = resources[props["DBParameterGroupName"]["Ref"]]["Properties"]
                engine = "postgres" if group["Family"].startswith("postgres") else "mysql"
                props["EngineVersion"] = version
                group["Family"] = engines.parameter_group_family(engine, version)
    return out


@pytest.fixture(scope="module")
def stages(templates: dict[str, dict[str, Template]]) -> dict[str, dict[str, Template]]:
    prod = templates["prod"]
    return {"MyOld": declaring(prod, "8.0.43"),
            "MyStage1": declaring(prod, "8.0.43", replicas=False),
            "Pg18": declaring(templates["dev"], "18.3")}


def review(env: str, old: dict[str, Template], new: dict[str, Template]) -> Review:
    return review_environment(
        env=env, templates=new, regions={}, entries=(),
        baseline=Baseline(source="deployed templates",
                          templates={stack: normalize(t) for stack, t in old.items()}))


def upgrade_lines(review: Review) -> list[str]:
    return [line.split(": ")[0] + ": " + line.split(": ")[1] for line in review.upgrade]


def test_mysql_stage_1_upgrades_the_replicas_and_passes(
        stages: dict[str, dict[str, Template]]) -> None:
    result = review("prod", stages["MyOld"], stages["MyStage1"])

    assert result.passed
    assert upgrade_lines(result) == [
        "replica prod-mysql-replica-1: mysql 8.0.43 -> 8.4.10",
        "replica prod-mysql-replica-2: mysql 8.0.43 -> 8.4.10",
        "cross-region replica prod-mysql-dr-replica: mysql 8.0.43 -> 8.4.10"]
    text = render(result, diagram=False)
    assert ("**Engine upgrade**, in the order CloudFormation runs it (a writer before its "
            "replicas, the DR replica's stack last):\n1. replica prod-mysql-replica-1: mysql "
            "8.0.43 -> 8.4.10: major version upgrade (AllowMajorVersionUpgrade, parameter group "
            "mysql8.0 -> mysql8.4); downtime: the writer keeps serving") in text
    assert "note (EngineVersion): upgraded in place: cross-region replica " \
           "prod-mysql-dr-replica" in text


def test_mysql_stage_2_upgrades_the_writer_and_passes(
        stages: dict[str, dict[str, Template]],
        templates: dict[str, dict[str, Template]]) -> None:
    result = review("prod", stages["MyStage1"], templates["prod"])

    assert result.passed
    assert upgrade_lines(result) == ["writer prod-mysql-primary: mysql 8.0.43 -> 8.4.10"]
    assert "downtime: writes and reads stop" in result.upgrade[0]


def test_mysql_writer_and_replicas_in_one_deploy_fail_the_review(
        stages: dict[str, dict[str, Template]],
        templates: dict[str, dict[str, Template]]) -> None:
    result = review("prod", stages["MyOld"], templates["prod"])

    assert not result.passed
    [finding] = result.verdict.blocking
    assert finding.message().startswith(
        "RedundantDb-prod-Database: database prod-mysql-primary (AWS::RDS::DBInstance "
        "DatabasePrimaryInstance")
    assert "EngineVersion \"8.0.43\" -> \"8.4.10\": RDS refuses this upgrade " \
           "(DBUpgradeDependencyFailure: One or more of the DB Instance's read replicas need to " \
           "be upgraded: prod-mysql-replica-1, prod-mysql-replica-2, prod-mysql-dr-replica)" in finding.message()
    assert result.upgrade[0].startswith("REFUSED: writer prod-mysql-primary")


def test_a_mysql_downgrade_fails_the_review(stages: dict[str, dict[str, Template]],
                                            templates: dict[str, dict[str, Template]]) -> None:
    result = review("prod", templates["prod"], stages["MyStage1"])

    assert not result.passed
    assert [f.label for f in result.verdict.blocking] == ["database prod-mysql-primary"]
    assert "Cannot upgrade mysql from 8.4.10 to 8.0.43" in result.verdict.blocking[0].consequence


def test_postgres_major_upgrades_the_writer_with_its_replica_and_passes(
        stages: dict[str, dict[str, Template]],
        templates: dict[str, dict[str, Template]]) -> None:
    result = review("dev", templates["dev"], stages["Pg18"])

    assert result.passed
    assert upgrade_lines(result) == ["writer dev-postgres-primary: postgres 17.9 -> 18.3",
                                     "replica dev-postgres-replica-1: postgres 17.9 -> 18.3"]
    assert result.upgrade[1].endswith("upgraded by RDS with its writer dev-postgres-primary")


def test_nothing_to_say_when_no_version_changes(
        templates: dict[str, dict[str, Template]]) -> None:
    result = review("prod", templates["prod"], templates["prod"])
    assert result.passed and result.upgrade == ()
    assert "**Engine upgrade**" not in render(result, diagram=False)
