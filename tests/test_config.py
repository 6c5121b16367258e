"""Every config mistake is refused before any construct exists, with one clear message that
names the environment, the field, the value and what is allowed."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Literal

import pytest

import config
from cloud_assembly import engines
from config.schema import (
    LOG_RETENTION_DAYS,
    AlarmThresholds,
    ConfigError,
    _conforms,
    _describe,
    validate,
)
from config.topology import Promotion, Topology
from constructs_lib.logs import retention_period
from tests.helpers import mysql_copy_of_local

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation judges engine versions by today's date (cloud_assembly.engines.today): the
    cases hold on one date."""
    monkeypatch.setattr(engines, "today", lambda: datetime.date(2026, 11, 30))


def _dev(**changes: object) -> config.DatabaseConfig:
    return dataclasses.replace(config.ENVIRONMENTS["dev"], **changes)


def _mysql(**changes: object) -> config.DatabaseConfig:
    return mysql_copy_of_local(**changes)


@pytest.mark.parametrize("env", sorted(config.ENVIRONMENTS))
def test_every_environment_is_valid(env: str) -> None:
    assert validate(config.ENVIRONMENTS[env]) is config.ENVIRONMENTS[env]


def test_default_environment_is_dev() -> None:
    assert config.load().name == "dev"


def test_account_override_is_validated_and_applied() -> None:
    assert config.load("prod", account="210987654321").account == "210987654321"
    with pytest.raises(ConfigError, match=r"env 'prod': account='12345': .*12 digits"):
        config.load("prod", account="12345")


def test_fails_on_unknown_environment_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError) as error:
        config.load("stage")
    assert str(error.value) == (
        "config error in env 'stage': env='stage': unknown environment; known: local, dev, prod")


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (_dev(backup_retention_days=0),
         "env 'dev': backup_retention_days=0: automated backups are required: 0 would disable "
         "them; use 7..35 days"),
        (_dev(backup_retention_days=6), "backup_retention_days=6: between 7 and 35 days"),
        (_dev(backup_retention_days=36), "backup_retention_days=36: between 7 and 35 days"),
        (_dev(replica_count=0), "replica_count=0: between 1 and 5 read replicas"),
        (_dev(replica_count=6), "replica_count=6: between 1 and 5 read replicas"),
        (_dev(instance_class="r6g.large"),
         "instance_class='r6g.large': an RDS instance class of the form db.<family>.<size>"),
        (_dev(replica_instance_class="db.large"),
         "replica_instance_class='db.large': an RDS instance class of the form db.<family>"),
        (_dev(port=5432),
         "port=5432: not the postgres default port 5432"),
        (_mysql(port=3306), "port=3306: not the mysql default port 3306"),
        (_dev(port=80), "port=80: a port between 1150 and 65535"),
        (_dev(engine="oracle"), "engine='oracle': one of mysql, postgres, mariadb"),
        (_dev(engine_version="16"), "engine_version='16': a full engine version such as"),
        (_dev(engine_version="16.99"),
         "engine_version='16.99': not a version postgres supports (versions of postgres 16:"),
        (_mysql(engine_version="9.9.9"),
         "engine_version='9.9.9': not a version mysql supports (known majors:"),
        (_dev(backup_window="04:00-05:00", maintenance_window="sun:04:30-sun:05:30"),
         "maintenance_window='sun:04:30-sun:05:30': must not overlap backup_window "
         "'04:00-05:00' on any day"),
        (_dev(backup_window="23:30-00:30", maintenance_window="mon:00:00-mon:01:00"),
         "must not overlap backup_window '23:30-00:30'"),
        (_dev(backup_window="4am"), "backup_window='4am': 'hh24:mi-hh24:mi' in UTC"),
        (_dev(backup_window="04:00-04:10"), "backup_window='04:00-04:10': at least 30 minutes"),
        (_dev(maintenance_window="sunday"), "maintenance_window='sunday': 'ddd:hh24:mi-"),
        (_dev(allocated_storage_gib=10), "allocated_storage_gib=10: between 20 and 65536"),
        (_dev(max_allocated_storage_gib=50),
         "max_allocated_storage_gib=50: more than allocated_storage_gib (50)"),
        (_dev(deletion_protection=False), "deletion_protection=False: every database is"),
        (_dev(monitoring_interval_seconds=0), "monitoring_interval_seconds=0: one of 1, 5, 10"),
        (_dev(log_exports=("slowquery",)), "log_exports='slowquery': postgres exports "
                                           "postgresql, upgrade"),
        (_dev(log_exports=()), "log_exports=(): at least one of postgresql"),
        (_dev(log_retention_days=8), "log_retention_days=8: a CloudWatch Logs retention"),
        (_dev(log_retention_days=90), "log_retention_days=90: at least 365 days: database logs"),
        (_dev(account="abc"), "account='abc': an AWS account id is 12 digits"),
        (_dev(region="mars-1"), "region='mars-1': an AWS region name"),
        (_dev(availability_zones=("us-east-1a", "us-east-1b")),
         "availability_zones=('us-east-1a', 'us-east-1b'): naming availability zones needs a "
         "region"),
        (_mysql(availability_zones=("us-east-1a",)),
         "availability_zones=('us-east-1a',): at least two distinct AZs"),
        (_mysql(availability_zones=("us-east-1a", "eu-west-1b")),
         "availability_zones='eu-west-1b': an AZ of region us-east-1"),
        (_dev(master_username="admin"), "master_username='admin': not a reserved name"),
        (_dev(master_username="1user"), "master_username='1user': a letter then up to 15"),
        (_dev(database_name="my-db"), "database_name='my-db': a letter then up to 62"),
        (_dev(secret_rotation_days=0), "secret_rotation_days=0: between 1 and 365 days"),
        (_dev(alarms=AlarmThresholds(cpu_percent=120)),
         "alarms.cpu_percent=120: between 1 and 100"),
        (dataclasses.replace(config.ENVIRONMENTS["prod"], retain_on_delete=False),
         "env 'prod': retain_on_delete/termination_protection=(False, True): both True in prod"),
        (dataclasses.replace(config.ENVIRONMENTS["prod"], multi_az=False),
         "env 'prod': multi_az=False: prod runs a multi-AZ primary"),
        # Types, from the annotations, before any sense check
        (_dev(replica_count="2"), "replica_count='2': an integer"),
        (_dev(replica_count=True), "replica_count=True: an integer"),
        (_dev(multi_az="yes"), "multi_az='yes': True or False"),
        (_dev(log_exports="audit"), "log_exports='audit': a tuple of strings"),
        (_dev(log_exports=["postgresql"]), "log_exports=['postgresql']: a tuple of strings"),
        (_mysql(availability_zones=["us-east-1a", "us-east-1b"]),
         "availability_zones=['us-east-1a', 'us-east-1b']: a tuple of strings"),
        (_mysql(availability_zones="us-east-1a"),
         "availability_zones='us-east-1a': a tuple of strings"),
        (_dev(region=1), "region=1: a string or None"),
        (_dev(engine="MySQL"), "engine='MySQL': one of mysql, postgres, mariadb"),
        (_dev(port=5433.0), "port=5433.0: an integer"),
        (_dev(alarms=None), "alarms=None: an AlarmThresholds"),
        (_dev(alarms=AlarmThresholds(cpu_percent="80")), "alarms.cpu_percent='80': an integer"),
        (_dev(alarms=AlarmThresholds(connections=500.5)), "alarms.connections=500.5: an integer"),
        # Sense
        (_dev(name="Dev_1"), "env 'Dev_1': name='Dev_1': a lowercase letter, then up to 19"),
        (_dev(name="dev-"), "name='dev-': a lowercase letter"),
        (_dev(log_exports=("postgresql", "postgresql")),
         "log_exports=('postgresql', 'postgresql'): each log type once"),
        (_dev(vpc_cidr="10.20.0.0"), "vpc_cidr='10.20.0.0': an IPv4 network (no host bits set) "
                                     "from /16 to /23: room for a /24 database subnet in each "
                                     "of 2 AZs"),
        (_dev(vpc_cidr="10.20.0.0/24"), "vpc_cidr='10.20.0.0/24': an IPv4 network"),
        (_dev(vpc_cidr="10.0.0.0/8"), "vpc_cidr='10.0.0.0/8': an IPv4 network"),
        (_dev(vpc_cidr="10.20.0.1/16"), "vpc_cidr='10.20.0.1/16': an IPv4 network (no host bits"),
        (_dev(vpc_cidr="fd00::/56"), "vpc_cidr='fd00::/56': an IPv4 network"),
        (_dev(vpc_cidr="ten"), "vpc_cidr='ten': an IPv4 network"),
        (dataclasses.replace(config.ENVIRONMENTS["prod"], vpc_cidr="10.30.0.0/23"),
         "vpc_cidr='10.30.0.0/23': an IPv4 network (no host bits set) from /16 to /22: room for "
         "a /24 database subnet in each of 3 AZs"),
        (dataclasses.replace(config.ENVIRONMENTS["prod"], dr_vpc_cidr="10.130.0.0/33"),
         "dr_vpc_cidr='10.130.0.0/33': an IPv4 network (no host bits set) from /16 to /22"),
        (_mysql(dr_vpc_cidr="10.110.0.0/24"),
         "dr_vpc_cidr='10.110.0.0/24': an IPv4 network (no host bits set) from /16 to /23"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_fails_on_bad_value(cfg: config.DatabaseConfig, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate(cfg)
    text = str(error.value)
    assert text.startswith(f"config error in env '{cfg.name}': ")
    assert message in text
    assert "\n" not in text


def _mariadb(**changes: object) -> config.DatabaseConfig:
    return _mysql(**{"engine": "mariadb", "engine_version": "10.11.10", **changes})


@pytest.mark.parametrize("cfg", [
    # Windows at minute precision: touching is not overlapping
    _dev(backup_window="03:00-04:00", maintenance_window="sun:04:00-sun:05:00"),
    _dev(backup_window="05:00-06:00", maintenance_window="sun:04:00-sun:05:00"),
    _dev(backup_window="02:15-02:45", maintenance_window="sun:02:45-sun:03:30"),
    _dev(backup_window="02:45-03:15", maintenance_window="sat:02:00-sat:02:45"),
    # exactly 30 minutes, also across midnight
    _dev(backup_window="02:00-02:30", maintenance_window="sun:04:00-sun:04:30"),
    _dev(backup_window="23:45-00:15", maintenance_window="wed:04:00-wed:04:30"),
    # a backup window across midnight, the maintenance window right after it
    _dev(backup_window="23:45-00:15", maintenance_window="mon:00:15-mon:01:00"),
    # a maintenance window from Sunday into Monday, the backup window after it
    _dev(backup_window="00:30-01:30", maintenance_window="sun:23:30-mon:00:30"),
    _dev(backup_window="23:00-23:30", maintenance_window="sun:23:30-mon:00:30"),
    # the limits, inclusive
    _dev(port=1150), _dev(port=65535), _dev(replica_count=1), _dev(replica_count=5),
    _dev(allocated_storage_gib=20), _dev(allocated_storage_gib=65535,
                                        max_allocated_storage_gib=65536),
    _dev(backup_retention_days=35), _dev(secret_rotation_days=1), _dev(secret_rotation_days=365),
    _dev(master_username="a" * 16), _dev(database_name="d" * 63), _dev(name="d" * 20),
    _dev(name="d-1"), _dev(monitoring_interval_seconds=1), _dev(log_retention_days=3653),
    _dev(alarms=AlarmThresholds(replica_lag_seconds=1, cpu_percent=1, free_storage_percent=1,
                                connections=1)),
    _dev(alarms=AlarmThresholds(replica_lag_seconds=86400, cpu_percent=100,
                                free_storage_percent=99, connections=100000)),
    # MariaDB: MySQL's log types and default port, its own versions
    _mariadb(), _mariadb(log_exports=("audit", "error", "general", "slowquery")),
    # a name RDS reserves is refused only as a whole name
    _dev(master_username="admin2"), _dev(master_username="rootuser"),
    # DR: AZs of the DR region, a DR network beside the primary's
    _mysql(dr_availability_zones=()),
    _mysql(dr_availability_zones=("us-west-2a", "us-west-2b", "us-west-2c"),
           dr_vpc_cidr="10.11.0.0/16"),
    dataclasses.replace(config.ENVIRONMENTS["prod"], account="123456789012"),
])
def test_accepts_a_value_at_the_limit(cfg: config.DatabaseConfig) -> None:
    assert validate(cfg) is cfg


@pytest.mark.parametrize(("cfg", "message"), [
    (_dev(backup_window="03:00-04:01", maintenance_window="sun:04:00-sun:05:00"),
     "maintenance_window='sun:04:00-sun:05:00': must not overlap backup_window '03:00-04:01' "
     "on any day"),
    (_dev(backup_window="04:59-05:30", maintenance_window="sun:04:00-sun:05:00"),
     "maintenance_window='sun:04:00-sun:05:00': must not overlap backup_window '04:59-05:30' on any day"),
    (_dev(backup_window="02:15-02:45", maintenance_window="sun:02:44-sun:03:30"),
     "maintenance_window='sun:02:44-sun:03:30': must not overlap backup_window '02:15-02:45' on any day"),
    (_dev(backup_window="02:15-02:45", maintenance_window="fri:01:00-fri:02:16"),
     "maintenance_window='fri:01:00-fri:02:16': must not overlap backup_window '02:15-02:45' on any day"),
    (_dev(backup_window="00:00-00:45", maintenance_window="sun:23:30-mon:00:30"),
     "maintenance_window='sun:23:30-mon:00:30': must not overlap backup_window '00:00-00:45' "
     "on any day"),
    (_dev(backup_window="23:00-23:31", maintenance_window="sun:23:30-mon:00:30"),
     "maintenance_window='sun:23:30-mon:00:30': must not overlap backup_window '23:00-23:31' on any day"),
    (_dev(backup_window="12:00-13:00", maintenance_window="mon:00:00-sun:23:59"),
     "maintenance_window='mon:00:00-sun:23:59': must not overlap backup_window '12:00-13:00' on any day"),
    (_dev(backup_window="02:00-02:29"), "backup_window='02:00-02:29': at least 30 minutes long"),
    (_dev(backup_window="23:45-00:14"), "backup_window='23:45-00:14': at least 30 minutes long"),
    (_dev(backup_window="02:00-02:00"), "backup_window='02:00-02:00': at least 30 minutes long"),
    (_dev(backup_window="24:00-01:00"), "backup_window='24:00-01:00': 'hh24:mi-hh24:mi' in UTC, "
                                        "e.g. '02:00-03:00'"),
    (_dev(maintenance_window="sun:04:00-sun:04:29"),
     "maintenance_window='sun:04:00-sun:04:29': at least 30 minutes long"),
    (_dev(maintenance_window="sun:23:45-mon:00:14"),
     "maintenance_window='sun:23:45-mon:00:14': at least 30 minutes long"),
    (_dev(maintenance_window="sun:04:00-sun:04:60"),
     "maintenance_window='sun:04:00-sun:04:60': 'ddd:hh24:mi-ddd:hh24:mi' in UTC, e.g. "
     "'sun:04:00-sun:05:00'"),
    (_dev(port=1149), "port=1149: a port between 1150 and 65535"),
    (_dev(deletion_protection=False),
     "deletion_protection=False: every database is protected from deletion; turn it off by hand "
     "at decommission time (aws rds modify-db-instance --no-deletion-protection)"),
    (_dev(log_exports=()), "log_exports=(): at least one of postgresql, upgrade, "
                           "iam-db-auth-error"),
    (_dev(log_retention_days=8),
     "log_retention_days=8: a CloudWatch Logs retention: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, "
     "180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653"),
    (_dev(log_retention_days=90), "log_retention_days=90: at least 365 days: database logs are "
                                  "audit evidence (AWS Control Tower CT.CLOUDWATCH.PR.2)"),
    (_dev(port=65536), "port=65536: a port between 1150 and 65535"),
    (_mariadb(port=3306), "port=3306: not the mariadb default port 3306: a non-default port "
                          "keeps out scanners looking for databases"),
    (_mariadb(log_exports=("postgresql",)),
     "log_exports='postgresql': mariadb exports audit, error, general, slowquery"),
    (_mariadb(engine_version="8.0.43"), "engine_version='8.0.43': not a version mariadb "
                                        "supports (known majors: 10, 11)"),
    *((_dev(master_username=name), f"master_username={name!r}: not a reserved name (admin, "
       "mysql, postgres, rdsadmin, rdsrepladmin, root)")
      for name in ("admin", "rdsadmin", "root", "postgres", "mysql", "rdsrepladmin", "Admin",
                   "ROOT")),
    (_dev(master_username="a" * 17),
     f"master_username={'a' * 17!r}: a letter then up to 15 letters, digits or underscores"),
    (_dev(database_name="d" * 64),
     f"database_name={'d' * 64!r}: a letter then up to 62 letters, digits or underscores"),
    (_dev(name="d" * 21), f"name={'d' * 21!r}: a lowercase letter, then up to 19 lowercase "
                          "letters, digits or single hyphens (it names the stacks and the DB "
                          "instances), not ending in a hyphen"),
    (_dev(name="d--1"), "name='d--1': a lowercase letter, then up to 19 lowercase letters, "
                        "digits or single hyphens (it names the stacks and the DB instances), "
                        "not ending in a hyphen"),
    (_dev(replica_count=6), "replica_count=6: between 1 and 5 read replicas"),
    (_dev(allocated_storage_gib=65537), "allocated_storage_gib=65537: between 20 and 65536 GiB "
                                        "of gp3 storage"),
    (_dev(allocated_storage_gib=100, max_allocated_storage_gib=65537),
     "max_allocated_storage_gib=65537: more than allocated_storage_gib (100) and at most 65536, "
     "so storage autoscaling has room"),
    (_dev(secret_rotation_days=366), "secret_rotation_days=366: between 1 and 365 days"),
    (_dev(monitoring_interval_seconds=2),
     "monitoring_interval_seconds=2: one of 1, 5, 10, 15, 30, 60 (enhanced monitoring is on)"),
    (_dev(log_exports=("postgresql", "postgresql", "upgrade")),
     "log_exports=('postgresql', 'postgresql', 'upgrade'): each log type once"),
    *((_dev(alarms=AlarmThresholds(**{name: value})), f"alarms.{name}={value}: between {low} "
       f"and {high}")
      for name, low, high in (("replica_lag_seconds", 1, 86400), ("cpu_percent", 1, 100),
                              ("free_storage_percent", 1, 99), ("connections", 1, 100000))
      for value in (low - 1, high + 1)),
    # DR
    (_mysql(dr_region=None), "dr_availability_zones=('us-west-2a', 'us-west-2b'): naming DR "
                             "availability zones needs a dr_region"),
    (_mysql(dr_region="us-west-9"), "dr_region='us-west-9': an AWS region name with RDS "
                                    "cross-region replicas: us-east-1, us-east-2,"),
    (_mysql(region=None, availability_zones=()),
     "dr_region='us-west-2': a DR region needs an explicit region for the primary (the "
     "replica's source ARN and SourceRegion name it)"),
    (_mysql(dr_region="us-east-1", dr_availability_zones=()),
     "dr_region='us-east-1': must differ from the primary region us-east-1: a replica in the "
     "same region does not survive the loss of the region"),
    (_mysql(dr_availability_zones=("us-west-2a", "us-west-2a")),
     "dr_availability_zones=('us-west-2a', 'us-west-2a'): at least two distinct AZs for a "
     "multi-AZ DR replica"),
    (_mysql(dr_availability_zones=("us-west-2a", "us-west-22")),
     "dr_availability_zones='us-west-22': an AZ of region us-west-2, e.g. 'us-west-2a'"),
    (_mysql(dr_availability_zones=("us-west-2a", "us-east-1b")),
     "dr_availability_zones='us-east-1b': an AZ of region us-west-2, e.g. 'us-west-2a'"),
    (_mysql(dr_vpc_cidr="10.10.128.0/17"),
     "dr_vpc_cidr='10.10.128.0/17': must not overlap vpc_cidr 10.10.0.0/16 (the VPCs may be "
     "peered for failover)"),
    (_mysql(availability_zones=("us-east-1a", "us-east-1ab")),
     "availability_zones='us-east-1ab': an AZ of region us-east-1, e.g. 'us-east-1a'"),
    (_mysql(availability_zones=("us-east-1a", "us-east-1a")),
     "availability_zones=('us-east-1a', 'us-east-1a'): at least two distinct AZs for a multi-AZ "
     "database"),
    (_dev(region="eu-west-1", account="1234567890123"),
     "account='1234567890123': an AWS account id is 12 digits, or None for an env-agnostic "
     "synth"),
    (_dev(region="eu-west-1a"), "region='eu-west-1a': an AWS region name such as 'eu-west-1', "
                                "or None for env-agnostic synth"),
    # What a supported engine version looks like: the latest of that major, else the majors
    (_dev(engine_version="16.99"), "engine_version='16.99': not a version postgres supports "
                                   "(versions of postgres 16: 16.8, 16.9, 16.10, 16.11, 16.12, "
                                   "16.13)"),
    (_dev(engine_version="99.1"), "engine_version='99.1': not a version postgres supports "
                                  "(known majors: 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)"),
    (_mysql(engine_version="9.9.9"), "engine_version='9.9.9': not a version mysql supports "
                                     "(known majors: 5, 8)"),
    (_dev(allocated_storage_gib=65536, max_allocated_storage_gib=65536),
     "max_allocated_storage_gib=65536: more than allocated_storage_gib (65536) and at most "
     "65536, so storage autoscaling has room"),
    # The declared topology is typed like every other field, down to its items
    (_dev(topology=None), "topology=None: a Topology"),
    (_dev(topology=Topology(promotions=[Promotion(writer="x")])),
     "topology.promotions=[Promotion(writer='x', region=None)]: a tuple of Promotion"),
    (_dev(topology=Topology(promotions=(Promotion(writer="dev-postgres-replica-1"),
                                        Promotion(writer=1)))),
     "topology.promotions[1].writer=1: a string"),
    (_dev(topology=Topology(decommissioned=("a", 2))),
     "topology.decommissioned=('a', 2): a tuple of strings"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None)
def test_fails_at_the_limit(cfg: config.DatabaseConfig, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate(cfg)
    text = str(error.value)
    if message.endswith(","):  # a list too long to spell out here
        assert text.startswith(f"config error in env '{cfg.name}': {message}")
    else:
        assert text == f"config error in env '{cfg.name}': {message}"


@pytest.mark.parametrize(("hint", "value", "conforms", "described"), [
    # The annotation forms the type check supports, beyond those the config's fields use today
    (tuple[int, str], (1, "a"), True, "a tuple of (an integer, a string)"),
    (tuple[int, str], (1, 2), False, "a tuple of (an integer, a string)"),
    (tuple[int, str], (1,), False, "a tuple of (an integer, a string)"),
    (tuple[int, str], [1, "a"], False, "a tuple of (an integer, a string)"),
    (tuple[bool, ...], (True,), True, "a tuple of booleans"),
    (tuple[float, ...], (1.5, 2.0), True, "a tuple of float"),
    (float, 1.5, True, "a number"),
    (float, True, False, "a number"),
    (Any, object(), True, "an Any"),
    (int | None, None, True, "an integer or None"),
    (Literal[1, "1"], "1", True, "one of 1, 1"),
    (Literal[1, "1"], True, False, "one of 1, 1"),
])
def test_the_type_check_reads_each_annotation_form(hint: Any, value: object, conforms: bool,
                                                   described: str) -> None:
    assert _conforms(value, hint) is conforms
    assert _describe(hint) == described


_FIELDS = [f.name for f in dataclasses.fields(config.DatabaseConfig)]
_ALARM_FIELDS = [f.name for f in dataclasses.fields(AlarmThresholds)]
# No field is annotated with any of these types.
_NO_FIELD_TAKES = (["x"], {"x": 1}, 2.5, b"x")


@pytest.mark.parametrize("value", _NO_FIELD_TAKES, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("name", _FIELDS)
def test_fails_on_a_value_of_the_wrong_type_in_any_field(name: str, value: object) -> None:
    for env in config.ENVIRONMENTS:
        with pytest.raises(ConfigError) as error:
            validate(dataclasses.replace(config.ENVIRONMENTS[env], **{name: value}))
        assert (error.value.field_name, error.value.value) == (name, value)
        assert "\n" not in str(error.value)


@pytest.mark.parametrize("value", _NO_FIELD_TAKES, ids=lambda v: type(v).__name__)
@pytest.mark.parametrize("name", _ALARM_FIELDS)
def test_fails_on_a_value_of_the_wrong_type_in_any_alarm_field(name: str, value: object) -> None:
    with pytest.raises(ConfigError) as error:
        validate(_dev(alarms=AlarmThresholds(**{name: value})))  # type: ignore[arg-type]
    assert (error.value.field_name, error.value.value) == (f"alarms.{name}", value)
    assert error.value.allowed == "an integer"


def test_error_carries_field_and_value() -> None:
    with pytest.raises(ConfigError) as error:
        validate(_dev(replica_count=6))
    assert (error.value.env, error.value.field_name, error.value.value) == ("dev", "replica_count", 6)


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.ENVIRONMENTS["dev"].replica_count = 0  # type: ignore[misc]


@pytest.mark.parametrize("days", LOG_RETENTION_DAYS)
def test_every_allowed_log_retention_maps_to_a_cdk_retention(days: int) -> None:
    import aws_cdk as cdk

    assert cdk.Token.as_number(retention_period(days)) == days


def test_app_exits_1_with_one_line_on_a_bad_environment() -> None:
    """Before aws_cdk is imported (jsii's Node process would take seconds to start)."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"env": "stage"}),
           "CDK_OUTDIR": str(ROOT / "build" / "unused")}
    run = subprocess.run([sys.executable, "-X", "importtime", "app.py"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    imports = [line for line in run.stderr.splitlines() if line.startswith("import time:")]
    lines = [line for line in run.stderr.splitlines() if line not in imports]
    assert lines == ["error: config error in env 'stage': env='stage': unknown environment; "
                     "known: local, dev, prod"]
    assert any(" config" in line for line in imports)
    assert not [line for line in imports if "aws_cdk" in line or "jsii" in line]


def test_the_app_reads_the_context_the_cli_hands_it(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """In CDK_CONTEXT_JSON, and in the file CONTEXT_OVERFLOW_LOCATION_ENV names (the CLI's
    overflow for a large context), which wins."""
    from app import cli_context

    overflow = tmp_path / "context.json"
    overflow.write_text(json.dumps({"env": "prod", "account": "111122223333"}))
    monkeypatch.setenv("CDK_CONTEXT_JSON", json.dumps({"env": "dev", "controlTower": "true"}))
    monkeypatch.delenv("CONTEXT_OVERFLOW_LOCATION_ENV", raising=False)
    assert cli_context() == {"env": "dev", "controlTower": "true"}
    monkeypatch.setenv("CONTEXT_OVERFLOW_LOCATION_ENV", str(overflow))
    assert cli_context() == {"env": "prod", "account": "111122223333", "controlTower": "true"}
    monkeypatch.delenv("CDK_CONTEXT_JSON")
    monkeypatch.delenv("CONTEXT_OVERFLOW_LOCATION_ENV")
    assert cli_context() == {}


@pytest.mark.parametrize("context, message", [
    ({"env": "all", "account": "111122223333"},
     "error: config error in env 'all': account='111122223333': -c account= names one "
     "environment's account; use it with -c env=NAME, not env=all"),
    ({"env": "dev", "controlTower": "ture"},
     "error: controlTower='ture': 'true' or 'false' (default)"),
])
def test_app_refuses_a_bad_switch_before_building_anything(
        context: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    import aws_cdk as cdk

    from app import check_switches, main

    app = cdk.App(context=context, analytics_reporting=False)
    assert main(app) == 1
    assert capsys.readouterr().err.splitlines() == [message]
    assert not app.node.children
    with pytest.raises(ValueError) as error:  # the script's check before aws_cdk is imported
        check_switches(context.get)
    assert f"error: {error.value}" == message


@pytest.mark.parametrize("before, during", [
    (None, "--max-semi-space-size=16"),
    ("--enable-source-maps", "--enable-source-maps --max-semi-space-size=16"),
    ("--max-semi-space-size=64", "--max-semi-space-size=64"),  # the user's own choice wins
])
def test_jsii_node_options_are_set_only_while_jsii_starts_node(
        before: str | None, during: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import JSII_NODE_OPTIONS, jsii_node_options

    if before is None:
        monkeypatch.delenv("NODE_OPTIONS", raising=False)
    else:
        monkeypatch.setenv("NODE_OPTIONS", before)
    with jsii_node_options(JSII_NODE_OPTIONS):
        assert os.environ["NODE_OPTIONS"] == during
    assert os.environ.get("NODE_OPTIONS") == before
