"""Engine lifecycle in config: the support table (cloud_assembly.engines), the refusal of a
version past its end of standard support, the reasoned Extended Support opt-in, and the
replicas' version during a staged upgrade, per engine. Each refusal by its whole message.
"Today" is pinned: the dates move, the tests do not."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator

import pytest

import config
from cloud_assembly import engines
from config.schema import ConfigError, ExtendedSupport, validate
from tests.helpers import mysql_copy_of_local

TODAY = datetime.date(2026, 11, 30)
REASON = "The vendor certifies its application on MySQL 8.0 only until its 2027 release."


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(engines, "today", lambda: TODAY)
    yield


def _mysql(**changes: object) -> config.DatabaseConfig:
    return mysql_copy_of_local(**changes)


def _postgres(**changes: object) -> config.DatabaseConfig:
    return dataclasses.replace(config.ENVIRONMENTS["dev"], **changes)


def _mariadb(**changes: object) -> config.DatabaseConfig:
    return _mysql(**{"engine": "mariadb", "engine_version": "11.4.10", **changes})


def _refused(cfg: config.DatabaseConfig) -> str:
    with pytest.raises(ConfigError) as error:
        validate(cfg)
    prefix = f"config error in env '{cfg.name}': "
    assert str(error.value).startswith(prefix)
    return str(error.value)[len(prefix):]


# --- the table ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("engine", "version", "major", "family", "end"), [
    ("mysql", "8.4.10", "8.4", "mysql8.4", datetime.date(2029, 7, 31)),
    ("mysql", "8.0.43", "8.0", "mysql8.0", datetime.date(2026, 7, 31)),
    ("postgres", "17.9", "17", "postgres17", datetime.date(2030, 2, 28)),
    ("postgres", "16.13", "16", "postgres16", datetime.date(2029, 2, 28)),
    ("mariadb", "11.4.10", "11.4", "mariadb11.4", datetime.date(2029, 5, 31)),
    ("mariadb", "10.11.10", "10.11", "mariadb10.11", datetime.date(2028, 2, 29)),
])
def test_the_table_gives_major_family_and_end_of_standard_support(
        engine: str, version: str, major: str, family: str, end: datetime.date) -> None:
    assert engines.major_version(engine, version) == major
    assert engines.parameter_group_family(engine, version) == family
    assert engines.end_of_standard_support(engine, version) == end


def test_every_engine_names_its_source_in_the_rds_documentation() -> None:
    assert set(engines.CALENDARS) == set(config.schema.ENGINES)
    for calendar in engines.CALENDARS.values():
        assert calendar.source.startswith("https://docs.aws.amazon.com/AmazonRDS/")


@pytest.mark.parametrize(("engine", "before", "after", "major", "with_source"), [
    ("mysql", "8.0.43", "8.4.10", True, False),
    ("mysql", "8.4.9", "8.4.10", False, False),
    ("mysql", "8.4.10", "8.4.9", False, False),  # a downgrade is no upgrade
    ("postgres", "16.13", "17.9", True, True),  # same-region replicas go with the source
    ("postgres", "17.8", "17.9", False, False),
    ("mariadb", "10.11.10", "11.4.10", True, False),
])
def test_how_rds_upgrades_a_source_and_its_replicas(engine: str, before: str, after: str,
                                                   major: bool, with_source: bool) -> None:
    assert engines.is_major_upgrade(engine, before, after) is major
    assert engines.replicas_upgraded_with_source(engine, before, after) is with_source


@pytest.mark.parametrize(("call", "message"), [
    (lambda: engines.end_of_standard_support("mariadb", "10.5.29"),
     "mariadb 10.5.29: no end of standard support is recorded for major version 10.5; known: "
     "10.6, 10.11, 11.4, 11.8 (source: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
     "MariaDB.Concepts.VersionMgmt.html)"),
    (lambda: engines.calendar("oracle-ee"), "engine 'oracle-ee': one of mysql, postgres, mariadb"),
    (lambda: engines.version_key("8.4.x"),
     "engine version '8.4.x': digits separated by dots, such as '8.4.9' or '17.6'"),
    (lambda: engines.major_version("mysql", "8"),
     "mysql version '8': a major version is X.Y, such as '8.4' or '11.4'"),
])
def test_the_table_refuses_what_it_does_not_know(call: object, message: str) -> None:
    with pytest.raises(engines.EngineVersionError) as error:
        call()  # type: ignore[operator]
    assert str(error.value) == message


# --- every environment in standard support ---------------------------------------------------

@pytest.mark.parametrize("env", sorted(config.ENVIRONMENTS))
def test_every_environment_runs_a_major_version_in_standard_support(env: str) -> None:
    cfg = config.ENVIRONMENTS[env]
    assert cfg.extended_support is None and cfg.replica_engine_version is None
    assert not engines.past_standard_support(cfg.engine, cfg.engine_version)
    assert cfg.engine_version in config.schema.supported_engine_versions(cfg.engine)


def test_the_default_is_the_newest_mysql_8_4_aws_cdk_knows() -> None:
    known = [v for v in config.schema.supported_engine_versions("mysql") if v.startswith("8.4.")]
    assert config.DatabaseConfig(name="x").engine_version == max(known, key=engines.version_key)


# --- past the end of standard support ----------------------------------------------------------

def test_fails_past_the_end_of_standard_support_naming_the_date_and_the_opt_in() -> None:
    assert _refused(_mysql(engine_version="8.0.43")) == (
        "engine_version='8.0.43': mysql 8.0 left RDS standard support on 2026-07-31 (today is "
        "2026-11-30; RDS bills Extended Support for it from the day after): upgrade to a major "
        "version in standard support (8.4 (until 2029-07-31)), or opt in with "
        "extended_support=ExtendedSupport(reason='<why this environment pays for it>')")


def test_fails_on_postgres_past_its_date() -> None:
    assert _refused(_postgres(engine_version="13.20")) == (
        "engine_version='13.20': postgres 13 left RDS standard support on 2026-02-28 (today is "
        "2026-11-30; RDS bills Extended Support for it from the day after): upgrade to a major "
        "version in standard support (14 (until 2027-02-28), 15 (until 2028-02-29), 16 (until "
        "2029-02-28), 17 (until 2030-02-28), 18 (until 2031-02-28)), or opt in with "
        "extended_support=ExtendedSupport(reason='<why this environment pays for it>')")


def test_standard_support_lasts_through_its_last_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "today", lambda: datetime.date(2026, 7, 31))
    validate(_mysql(engine_version="8.0.43"))
    monkeypatch.setattr(engines, "today", lambda: datetime.date(2026, 8, 1))
    assert _refused(_mysql(engine_version="8.0.43")).startswith(
        "engine_version='8.0.43': mysql 8.0 left RDS standard support on 2026-07-31 (today is "
        "2026-08-01;")


def test_accepts_a_version_past_its_date_with_a_reasoned_opt_in() -> None:
    cfg = _mysql(engine_version="8.0.43", extended_support=ExtendedSupport(reason=REASON))
    assert validate(cfg) is cfg


def test_accepts_the_opt_in_ahead_of_the_date() -> None:
    validate(_mysql(extended_support=ExtendedSupport(reason=REASON)))


def test_fails_on_mariadb_past_its_date_with_no_extended_support_to_choose() -> None:
    assert _refused(_mariadb(engine_version="10.6.25")) == (
        "engine_version='10.6.25': mariadb 10.6 left RDS standard support on 2026-08-31, and RDS "
        "offers no Extended Support for mariadb (it upgrades such an instance itself): use a "
        "major version in standard support: 10.11 (until 2028-02-29), 11.4 (until 2029-05-31), "
        "11.8 (until 2030-06-30)")


def test_fails_on_extended_support_for_mariadb() -> None:
    assert _refused(_mariadb(extended_support=ExtendedSupport(reason=REASON))) == (
        f"extended_support=ExtendedSupport(reason={REASON!r}): None: RDS offers no Extended "
        "Support for mariadb")


def test_fails_on_logical_replication_for_mysql() -> None:
    assert _refused(_mysql(logical_replication=True)) == (
        "logical_replication=True: False: rds.logical_replication is a PostgreSQL parameter "
        "(mysql's blue/green deployments replicate from the binary log, which automated backups "
        "already turn on)")


def test_fails_on_a_major_version_the_table_does_not_know() -> None:
    assert _refused(_mariadb(engine_version="10.5.29")) == (
        "engine_version='10.5.29': no end of standard support is recorded for mariadb 10.5 in "
        "cloud_assembly/engines.py; known majors: 10.6, 10.11, 11.4, 11.8 (source: "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/MariaDB.Concepts.VersionMgmt.html)")


@pytest.mark.parametrize("reason", [
    "", "   ", "TODO", "cost", "We need it for now", "TBD: the team decides why we pay later",
    "placeholder until the vendor answers us", "n/a n/a n/a n/a n/a n/a n/a",
    "FIXME write the reason for the bill here",
])
def test_fails_on_a_reason_that_is_no_reason(reason: str) -> None:
    cfg = _mysql(engine_version="8.0.43", extended_support=ExtendedSupport(reason=reason))
    assert _refused(cfg) == (
        f"extended_support.reason={reason!r}: a sentence of at least 5 words and 30 characters "
        "saying why this environment pays for RDS Extended Support (e.g. 'The vendor certifies "
        "its application on MySQL 8.0 only until its 2027 release'), not a placeholder")


def test_fails_on_a_reason_of_the_wrong_type() -> None:
    cfg = _mysql(extended_support=ExtendedSupport(reason=3))  # type: ignore[arg-type]
    assert _refused(cfg) == "extended_support.reason=3: a string"


# --- the replicas' version during a staged upgrade ---------------------------------------------

@pytest.mark.parametrize("cfg", [
    # MySQL, MariaDB: any newer version, minor or major (replicas first)
    _mysql(engine_version="8.0.43", replica_engine_version="8.4.10",
           extended_support=ExtendedSupport(reason=REASON)),
    _mysql(engine_version="8.4.9", replica_engine_version="8.4.10"),
    _mariadb(engine_version="10.11.10", replica_engine_version="11.4.10"),
    # PostgreSQL: a newer minor version of the writer's major version
    _postgres(engine_version="17.8", replica_engine_version="17.9"),
], ids=["mysql-major", "mysql-minor", "mariadb-major", "postgres-minor"])
def test_accepts_replicas_ahead_of_the_writer(cfg: config.DatabaseConfig) -> None:
    assert validate(cfg) is cfg


@pytest.mark.parametrize(("cfg", "message"), [
    (_postgres(engine_version="16.13", replica_engine_version="17.9"),
     "replica_engine_version='17.9': PostgreSQL 17 beside a writer of PostgreSQL 16: RDS "
     "upgrades PostgreSQL read replicas to a new major version together with their source, "
     "never on their own; declare the new version in engine_version (the same-region replicas "
     "follow the writer; a cross-region replica is recreated from it)"),
    (_mysql(replica_engine_version="8.4.9"),
     "replica_engine_version='8.4.9': older than the writer's 8.4.10: a read replica never runs "
     "an older version than its source"),
    (_postgres(replica_engine_version="17.8"),
     "replica_engine_version='17.8': older than the writer's 17.9: a read replica never runs an "
     "older version than its source"),
    (_mysql(replica_engine_version="8.4.10"),
     "replica_engine_version='8.4.10': None while the replicas run the writer's engine_version "
     "'8.4.10': it names the replicas' version only while it differs"),
    (_mysql(replica_engine_version="8.4"),
     "replica_engine_version='8.4': not a version mysql supports (versions of mysql 8: 8.4.5, "
     "8.4.6, 8.4.7, 8.4.8, 8.4.9, 8.4.10)"),
    (_mysql(replica_engine_version="8.4.99"),
     "replica_engine_version='8.4.99': not a version mysql supports (versions of mysql 8: 8.4.5, "
     "8.4.6, 8.4.7, 8.4.8, 8.4.9, 8.4.10)"),
    (_mysql(replica_engine_version="latest"),
     "replica_engine_version='latest': a full engine version such as '8.4.10' or '17.9'"),
    # The replicas' version too is in standard support, or Extended Support is chosen
    (_mysql(engine_version="8.0.42", replica_engine_version="8.0.43"),
     "engine_version='8.0.42': mysql 8.0 left RDS standard support on 2026-07-31 (today is "
     "2026-11-30; RDS bills Extended Support for it from the day after): upgrade to a major "
     "version in standard support (8.4 (until 2029-07-31)), or opt in with "
     "extended_support=ExtendedSupport(reason='<why this environment pays for it>')"),
], ids=["postgres-major", "mysql-older", "postgres-older", "same-as-writer", "major-only",
        "unknown", "not-a-version", "past-its-date"])
def test_fails_on_a_replica_version_rds_refuses(cfg: config.DatabaseConfig,
                                               message: str) -> None:
    assert _refused(cfg) == message
