"""Engine versions as RDS runs them: each engine's major versions with the last day of RDS
standard support, the parameter-group family of a version, and how RDS upgrades a source and
its read replicas. The config, the constructs, the policy gate, the review and the emulator
read these facts here.

Sources (the date tables, as published by RDS):

- MySQL: "Supported MySQL major versions on Amazon RDS",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/MySQL.Concepts.VersionMgmt.html
- PostgreSQL: "Release calendar for Amazon RDS for PostgreSQL",
  https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/postgresql-release-calendar.html
- MariaDB: "Supported MariaDB major versions on Amazon RDS",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/MariaDB.Concepts.VersionMgmt.html
- Extended Support: "Using Amazon RDS Extended Support",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/extended-support.html
- Upgrades with read replicas: "Upgrading a DB instance engine version" (MySQL, MariaDB) and
  "How to perform a major version upgrade for RDS for PostgreSQL",
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.PostgreSQL.MajorVersion.Process.html

On the day after a major version's end of standard support, RDS enrolls its MySQL and
PostgreSQL instances in paid RDS Extended Support, unless an instance was created with
`EngineLifecycleSupport: open-source-rds-extended-support-disabled` (then RDS upgrades it to a
supported major version instead, and refuses to create one past the date). MariaDB has no
Extended Support: `EngineLifecycleSupport` applies to MySQL and PostgreSQL only, and a MariaDB
major version past its date is upgraded by RDS.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass

#: The `AWS::RDS::DBInstance` properties of an instance's engine lifecycle.
ENGINE_VERSION = "EngineVersion"
LIFECYCLE_SUPPORT = "EngineLifecycleSupport"
ALLOW_MAJOR_VERSION_UPGRADE = "AllowMajorVersionUpgrade"
#: `EngineLifecycleSupport` values: enrolled in paid Extended Support past the end of standard
#: support (RDS's default when the property is absent), or standard support only.
EXTENDED_SUPPORT = "open-source-rds-extended-support"
STANDARD_SUPPORT_ONLY = "open-source-rds-extended-support-disabled"

_VERSION = re.compile(r"^\d+(\.\d+){0,2}$")


class EngineVersionError(ValueError):
    """An engine or a version this table does not know. The message names the value and what
    is known."""


@dataclass(frozen=True)
class Calendar:
    """One engine's major versions and the last day of RDS standard support of each."""

    engine: str
    source: str  # where RDS publishes the dates
    standard_support_ends: Mapping[str, datetime.date]  # {major version: last day}
    extended_support: bool  # RDS offers paid Extended Support past the date


_D = datetime.date
CALENDARS: Mapping[str, Calendar] = {
    "mysql": Calendar(
        engine="mysql",
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
               "MySQL.Concepts.VersionMgmt.html",
        standard_support_ends={"5.7": _D(2024, 2, 29), "8.0": _D(2026, 7, 31),
                               "8.4": _D(2029, 7, 31)},
        extended_support=True),
    "postgres": Calendar(
        engine="postgres",
        source="https://docs.aws.amazon.com/AmazonRDS/latest/PostgreSQLReleaseNotes/"
               "postgresql-release-calendar.html",
        standard_support_ends={"11": _D(2024, 2, 29), "12": _D(2025, 2, 28),
                               "13": _D(2026, 2, 28), "14": _D(2027, 2, 28),
                               "15": _D(2028, 2, 29), "16": _D(2029, 2, 28),
                               "17": _D(2030, 2, 28), "18": _D(2031, 2, 28)},
        extended_support=True),
    "mariadb": Calendar(
        engine="mariadb",
        source="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/"
               "MariaDB.Concepts.VersionMgmt.html",
        standard_support_ends={"10.6": _D(2026, 8, 31), "10.11": _D(2028, 2, 29),
                               "11.4": _D(2029, 5, 31), "11.8": _D(2030, 6, 30)},
        extended_support=False),
}


def today() -> datetime.date:
    """The date support windows are judged on. Module-level so that a test can pin it
    (`monkeypatch.setattr(engines, "today", ...)`); callers look it up at call time."""
    return datetime.date.today()


def calendar(engine: str) -> Calendar:
    try:
        return CALENDARS[engine]
    except KeyError:
        raise EngineVersionError(f"engine {engine!r}: one of {', '.join(CALENDARS)}") from None


def version_key(version: str) -> tuple[int, ...]:
    """A version as numbers, for ordering ('8.4.10' after '8.4.9')."""
    if not isinstance(version, str) or not _VERSION.match(version):
        raise EngineVersionError(f"engine version {version!r}: digits separated by dots, such "
                                 "as '8.4.9' or '17.6'")
    return tuple(int(part) for part in version.split("."))


def major_version(engine: str, version: str) -> str:
    """RDS's major version of `version`: 'X.Y' for MySQL and MariaDB ('8.4.9' -> '8.4'), 'X'
    for PostgreSQL from 10 on ('17.6' -> '17'; '9.6.24' -> '9.6')."""
    calendar(engine)
    parts = version_key(version)
    if engine == "postgres" and parts[0] >= 10:
        return str(parts[0])
    if len(parts) < 2:
        raise EngineVersionError(f"{engine} version {version!r}: a major version is X.Y, "
                                 "such as '8.4' or '11.4'")
    return f"{parts[0]}.{parts[1]}"


def parameter_group_family(engine: str, version: str) -> str:
    """The DB parameter-group family of `version` ('mysql8.4', 'postgres17', 'mariadb11.4').
    A parameter group's family is create-only and must match its instance's major version."""
    return f"{engine}{major_version(engine, version)}"


def end_of_standard_support(engine: str, version: str) -> datetime.date:
    """The last day of RDS standard support of `version`'s major version."""
    cal = calendar(engine)
    major = major_version(engine, version)
    try:
        return cal.standard_support_ends[major]
    except KeyError:
        raise EngineVersionError(
            f"{engine} {version}: no end of standard support is recorded for major version "
            f"{major}; known: {', '.join(cal.standard_support_ends)} (source: {cal.source})"
        ) from None


def past_standard_support(engine: str, version: str, on: datetime.date | None = None) -> bool:
    """`version` is past its end of standard support on `on` (default `today()`)."""
    return (on or today()) > end_of_standard_support(engine, version)


def offers_extended_support(engine: str) -> bool:
    """RDS Extended Support exists for `engine` (MySQL, PostgreSQL); `EngineLifecycleSupport`
    applies to these engines only."""
    return calendar(engine).extended_support


def is_upgrade(from_version: str, to_version: str) -> bool:
    return version_key(to_version) > version_key(from_version)


def is_major_upgrade(engine: str, from_version: str, to_version: str) -> bool:
    """`to_version` is newer than `from_version` and of another major version (RDS then needs
    `AllowMajorVersionUpgrade` and a parameter group of the new family in the same modify)."""
    return (is_upgrade(from_version, to_version)
            and major_version(engine, from_version) != major_version(engine, to_version))


def replica_version_refusal(engine: str, writer_version: str,
                            replica_version: str) -> str | None:
    """Why RDS cannot run read replicas of `replica_version` beside a writer of
    `writer_version` (None when it can), as the middle of a staged upgrade.

    A replica never runs an older version than its source. MySQL and MariaDB replicas may run
    any newer version, minor or major: they are upgraded first. A PostgreSQL replica may run a
    newer minor version of its source's major version (replicas first, as for MySQL), never
    another major version: RDS upgrades the same-region replicas together with the source, and
    a cross-region replica cannot be upgraded on its own either."""
    if version_key(replica_version) < version_key(writer_version):
        return (f"older than the writer's {writer_version}: a read replica never runs an "
                "older version than its source")
    if engine == "postgres" and is_major_upgrade(engine, writer_version, replica_version):
        return (f"PostgreSQL {major_version(engine, replica_version)} beside a writer of "
                f"PostgreSQL {major_version(engine, writer_version)}: RDS upgrades PostgreSQL "
                "read replicas to a new major version together with their source, never on "
                "their own; declare the new version in engine_version (the same-region "
                "replicas follow the writer; a cross-region replica is recreated from it)")
    return None


def replicas_upgraded_with_source(engine: str, from_version: str, to_version: str) -> bool:
    """RDS upgrades the source's same-region read replicas itself, together with the source:
    a PostgreSQL major upgrade ("You can't upgrade read replicas separately"). RDS upgrades
    no cross-region replica with its source: a PostgreSQL cross-region replica stops
    replicating from a source of a newer major version and is recreated from it (or promoted,
    or deleted, before the upgrade).

    Every other upgrade (a MySQL or MariaDB one, a PostgreSQL minor one) upgrades the read
    replicas first, each on its own, then the source: RDS refuses the source first ("One or
    more of the DB Instance's read replicas need to be upgraded")."""
    return engine == "postgres" and is_major_upgrade(engine, from_version, to_version)
