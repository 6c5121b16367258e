"""Typed, frozen configuration of one environment, validated before any construct is built.

Every field is documented in the README's config reference. `validate()` collects nothing: it
raises the first problem as a `ConfigError` whose message names the environment, the field, the
bad value and what is allowed, so `python app.py` can print one line and exit 1.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
import types
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn, Union, get_args, get_origin, get_type_hints

# The floors, network layout and CloudWatch Logs retentions the constructs and the gate read too.
from cloud_assembly import engines
from cloud_assembly.baseline import (
    DATABASE_SUBNET_PREFIX,
    MIN_AVAILABILITY_ZONES,
    MIN_BACKUP_RETENTION_DAYS,
    MIN_LOG_RETENTION_DAYS,
    vpc_prefixes,
)
from cloud_assembly.rds import LOG_RETENTION_DAYS
from config.topology import Layout, Shape, Topology, layout

Engine = Literal["mysql", "postgres", "mariadb"]

ENGINES: tuple[str, ...] = get_args(Engine)
ENGINE_DEFAULT_PORTS: dict[str, int] = {"mysql": 3306, "mariadb": 3306, "postgres": 5432}
ENGINE_LOG_TYPES: dict[str, tuple[str, ...]] = {
    "mysql": ("audit", "error", "general", "slowquery"),
    "mariadb": ("audit", "error", "general", "slowquery"),
    "postgres": ("postgresql", "upgrade", "iam-db-auth-error"),
}
MONITORING_INTERVALS: tuple[int, ...] = (1, 5, 10, 15, 30, 60)
MAX_BACKUP_RETENTION_DAYS = 35
MIN_REPLICAS, MAX_REPLICAS = 1, 5
# RDS reserves these master user names.
RESERVED_USERNAMES = frozenset({"admin", "rdsadmin", "root", "postgres", "mysql", "rdsrepladmin"})

# Regions with RDS cross-region read replicas and AWS Backup cross-region copy (commercial
# partition). A DR region must be one of them.
AWS_REGIONS: tuple[str, ...] = (
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ca-central-1",
    "ca-west-1", "eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-south-1", "eu-south-2", "eu-north-1", "il-central-1", "me-south-1", "me-central-1",
    "sa-east-1",
)
_INSTANCE_CLASS = re.compile(r"^db\.(?P<family>[a-z][a-z0-9-]*)\.(?P<size>[a-z0-9]+)$")
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
_ACCOUNT = re.compile(r"^\d{12}$")
# It names stacks and prefixes DB instance identifiers (at most 63 characters).
_ENV_NAME = re.compile(r"^[a-z](?!.*--)[a-z0-9-]{0,19}(?<!-)$")
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_BACKUP_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_MAINTENANCE_WINDOW = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$"
)
_WEEK_MINUTES = 7 * 24 * 60
# A reason that is a placeholder, not a decision someone can review.
_PLACEHOLDER = re.compile(r"\b(todo|tbd|tbc|fixme|xxx|placeholder|lorem|ipsum)\b|n/a", re.I)
MIN_REASON_WORDS, MIN_REASON_CHARACTERS = 5, 30


class ConfigError(ValueError):
    """A configuration value is not allowed. The message is one line, fit for a terminal."""

    def __init__(self, env: str, field_name: str, value: object, allowed: str) -> None:
        self.env, self.field_name, self.value, self.allowed = env, field_name, value, allowed
        super().__init__(f"config error in env '{env}': {field_name}={value!r}: {allowed}")


@dataclass(frozen=True, kw_only=True)
class AlarmThresholds:
    """When the database alarms fire (all evaluated over 3 periods of 5 minutes)."""

    replica_lag_seconds: int = 300
    cpu_percent: int = 80
    free_storage_percent: int = 10
    connections: int = 500


@dataclass(frozen=True, kw_only=True)
class ExtendedSupport:
    """Paid RDS Extended Support, chosen on purpose: every instance is enrolled in it past its
    major version's end of standard support (`EngineLifecycleSupport:
    open-source-rds-extended-support`). `reason` says why, for the reviewer of the bill: a
    sentence, not a placeholder."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    """One environment: where it lives and what its redundant database looks like."""

    name: str
    account: str | None = None
    region: str | None = None
    availability_zones: tuple[str, ...] = ()
    vpc_cidr: str = "10.40.0.0/16"
    engine: Engine = "mysql"
    engine_version: str = "8.4.10"
    #: During a staged upgrade, the version every read replica (same-region and cross-region)
    #: runs while it differs from the writer's `engine_version`; None: the writer's.
    replica_engine_version: str | None = None
    #: None: standard support only (RDS upgrades an instance past its end of standard support
    #: instead of billing Extended Support); see docs/engine-lifecycle.md.
    extended_support: ExtendedSupport | None = None
    #: PostgreSQL only: `rds.logical_replication=1` on every instance, which an RDS blue/green
    #: deployment needs for a major version upgrade (`python -m ops bluegreen`); the instances
    #: then keep more write-ahead log. Static: it takes effect at the next reboot.
    logical_replication: bool = False
    instance_class: str = "db.r6g.large"
    replica_instance_class: str = "db.r6g.large"
    replica_count: int = 1
    multi_az: bool = True
    allocated_storage_gib: int = 50
    max_allocated_storage_gib: int = 200
    backup_retention_days: int = 14
    backup_window: str = "02:00-03:00"
    maintenance_window: str = "sun:04:00-sun:05:00"
    port: int = 3307
    deletion_protection: bool = True
    retain_on_delete: bool = False
    termination_protection: bool = False
    monitoring_interval_seconds: int = 60
    log_exports: tuple[str, ...] = ("audit", "error", "slowquery")
    log_retention_days: int = 365
    database_name: str = "app"
    master_username: str = "dbadmin"
    secret_rotation_days: int = 30
    alarms: AlarmThresholds = field(default_factory=AlarmThresholds)
    dr_region: str | None = None
    dr_availability_zones: tuple[str, ...] = ()
    dr_vpc_cidr: str = "10.140.0.0/16"
    #: Which member is the writer: the promotions declared in config/topology.json (none: the
    #: original topology). See config/topology.py.
    topology: Topology = field(default_factory=Topology)

    @property
    def has_dr(self) -> bool:
        return self.dr_region is not None

    @property
    def default_port(self) -> int:
        return ENGINE_DEFAULT_PORTS[self.engine]

    @property
    def performance_insights_supported(self) -> bool:
        """Performance Insights is not offered on the micro and small burstable classes."""
        size = self.instance_class.rsplit(".", 1)[-1]
        return size not in ("micro", "small")

    @property
    def resource_prefix(self) -> str:
        """Prefix of the DB instance identifiers (create-only: frozen once deployed)."""
        return f"{self.name}-{self.engine}"

    def instance_identifier(self, role: str) -> str:
        return f"{self.resource_prefix}-{role}"

    @property
    def shape(self) -> Shape:
        return Shape(env=self.name, prefix=self.resource_prefix, region=self.region,
                     dr_region=self.dr_region, replica_count=self.replica_count)

    @property
    def layout(self) -> Layout:
        """The members of the declared topology (`validate` has refused an impossible one)."""
        return layout(self.shape, self.topology)


def _fail(cfg_name: str, name: str, value: object, allowed: str) -> NoReturn:
    raise ConfigError(cfg_name, name, value, allowed)


def _backup_minutes(window: str) -> tuple[int, int]:
    m = _BACKUP_WINDOW.match(window)
    assert m
    start = int(m[1]) * 60 + int(m[2])
    end = int(m[3]) * 60 + int(m[4])
    return start, end


def _maintenance_minutes(window: str) -> tuple[int, int]:
    m = _MAINTENANCE_WINDOW.match(window)
    assert m
    start = _DAYS.index(m[1]) * 1440 + int(m[2]) * 60 + int(m[3])
    end = _DAYS.index(m[4]) * 1440 + int(m[5]) * 60 + int(m[6])
    return start, end


def _duration(start: int, end: int, period: int) -> int:
    return (end - start) % period


def _windows_overlap(backup: str, maintenance: str) -> bool:
    """True when the daily backup window meets the weekly maintenance window on any day."""
    b_start, b_end = _backup_minutes(backup)
    b_len = _duration(b_start, b_end, 1440)
    m_start, m_end = _maintenance_minutes(maintenance)
    m_len = _duration(m_start, m_end, _WEEK_MINUTES)
    for day in range(7):
        start = day * 1440 + b_start
        # Two intervals on a circle of one week overlap when either start lies inside the other.
        if (start - m_start) % _WEEK_MINUTES < m_len or (m_start - start) % _WEEK_MINUTES < b_len:
            return True
    return False


def supported_engine_versions(engine: str) -> tuple[str, ...]:
    """The engine versions aws-cdk-lib knows for `engine`, e.g. ('8.0.43', '8.4.3', ...)."""
    from aws_cdk import aws_rds as rds

    catalogue = {
        "mysql": rds.MysqlEngineVersion,
        "postgres": rds.PostgresEngineVersion,
        "mariadb": rds.MariaDbEngineVersion,
    }[engine]
    return tuple(
        name[4:].replace("_", ".") for name in dir(catalogue) if name.startswith("VER_")
    )


_TYPE_NAMES: dict[Any, str] = {bool: "True or False", int: "an integer", float: "a number",
                               str: "a string", type(None): "None"}
_PLURALS: dict[Any, str] = {bool: "booleans", int: "integers", str: "strings"}


def _variadic_item(args: tuple[Any, ...]) -> Any:
    """The item type of `tuple[X, ...]`, else None."""
    return args[0] if len(args) == 2 and args[1] is Ellipsis else None


def _describe(hint: Any) -> str:
    """What a value of the annotated type looks like, for an error message."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return f"one of {', '.join(map(str, args))}"
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    if origin is tuple:
        item = _variadic_item(args)
        if item is None:
            return f"a tuple of ({', '.join(_describe(arg) for arg in args)})"
        return f"a tuple of {_PLURALS.get(item) or getattr(item, '__name__', item)}"
    name = str(getattr(hint, "__name__", hint))
    return _TYPE_NAMES.get(hint) or f"{'an' if name[:1] in 'AEIOU' else 'a'} {name}"


def _conforms(value: Any, hint: Any) -> bool:
    """`value` is of the annotated type (a dataclass only shallowly: its fields are checked
    one by one by `_check_types`)."""
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return True
    if origin is Literal:
        return any(type(value) is type(arg) and value == arg for arg in args)
    if origin in (Union, types.UnionType):
        return any(_conforms(value, arg) for arg in args)
    if origin is tuple:
        item = _variadic_item(args)
        if not isinstance(value, tuple):
            return False
        if item is not None:
            return all(_conforms(v, item) for v in value)
        return len(value) == len(args) and all(map(_conforms, value, args))
    if hint in (int, float):  # bool is an int to Python, never to the config
        return isinstance(value, hint) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """A config dataclass's resolved annotations (resolving them costs ~1 ms a class)."""
    return get_type_hints(cls)


def _check_types(env: str, obj: Any, prefix: str = "") -> None:
    """Every field of the dataclass `obj` holds a value of its annotated type; nested
    dataclasses (also inside tuples) field by field, named `outer.inner` / `outer[i].inner`."""
    hints = _type_hints(obj.__class__)
    for f in dataclasses.fields(obj):
        name, value = f"{prefix}{f.name}", getattr(obj, f.name)
        if not _conforms(value, hints[f.name]):
            _fail(env, name, value, _describe(hints[f.name]))
        if dataclasses.is_dataclass(value):
            _check_types(env, value, f"{name}.")
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    _check_types(env, item, f"{name}[{i}].")


def _check_vpc(env: str, name: str, cidr: str, availability_zones: tuple[str, ...]) -> None:
    """`cidr` is a network the isolated network can divide into a database subnet per AZ."""
    azs = len(set(availability_zones)) or MIN_AVAILABILITY_ZONES
    prefixes = vpc_prefixes(azs)
    try:
        network = ipaddress.IPv4Network(cidr)
    except ValueError:
        network = None
    if network is None or network.prefixlen not in prefixes:
        _fail(env, name, cidr, f"an IPv4 network (no host bits set) from /{prefixes[0]} to "
              f"/{prefixes[-1]}: room for a /{DATABASE_SUBNET_PREFIX} database subnet in each "
              f"of {azs} AZs")


def validate(cfg: DatabaseConfig) -> DatabaseConfig:
    """Raise `ConfigError` on the first value that is not allowed; return `cfg` otherwise.

    Every field is first checked against its annotation (type, and for a `Literal` its
    values), then for its sense, so no value reaches a construct that it could make fail."""
    env = cfg.name

    def fail(name: str, allowed: str) -> NoReturn:
        _fail(env, name, getattr(cfg, name), allowed)

    _check_types(env, cfg)
    if not _ENV_NAME.match(cfg.name):
        fail("name", "a lowercase letter, then up to 19 lowercase letters, digits or single "
             "hyphens (it names the stacks and the DB instances), not ending in a hyphen")
    if cfg.account is not None and not _ACCOUNT.match(cfg.account):
        fail("account", "an AWS account id is 12 digits, or None for an env-agnostic synth")
    if cfg.region is not None and not _REGION.match(cfg.region):
        fail("region", "an AWS region name such as 'eu-west-1', or None for env-agnostic synth")
    if cfg.availability_zones:
        if cfg.region is None:
            fail("availability_zones", "naming availability zones needs a region")
        if len(set(cfg.availability_zones)) < 2:
            fail("availability_zones", "at least two distinct AZs for a multi-AZ database")
        region = cfg.region
        for az in cfg.availability_zones:
            if not (az.startswith(region) and re.fullmatch(r"[a-z]", az[len(region):])):
                _fail(env, "availability_zones", az, f"an AZ of region {region}, e.g. "
                      f"'{region}a'")
    _check_vpc(env, "vpc_cidr", cfg.vpc_cidr, cfg.availability_zones)
    _validate_engine(cfg)
    for name in ("instance_class", "replica_instance_class"):
        if not _INSTANCE_CLASS.match(getattr(cfg, name)):
            fail(name, "an RDS instance class of the form db.<family>.<size>, e.g. db.r6g.large")
    if not MIN_REPLICAS <= cfg.replica_count <= MAX_REPLICAS:
        fail("replica_count", f"between {MIN_REPLICAS} and {MAX_REPLICAS} read replicas")
    if not cfg.multi_az and cfg.name == "prod":
        fail("multi_az", "prod runs a multi-AZ primary")
    if not 20 <= cfg.allocated_storage_gib <= 65536:
        fail("allocated_storage_gib", "between 20 and 65536 GiB of gp3 storage")
    if not cfg.allocated_storage_gib < cfg.max_allocated_storage_gib <= 65536:
        fail("max_allocated_storage_gib",
             f"more than allocated_storage_gib ({cfg.allocated_storage_gib}) and at most 65536, "
             "so storage autoscaling has room")
    if cfg.backup_retention_days == 0:
        fail("backup_retention_days", "automated backups are required: 0 would disable them; "
             f"use {MIN_BACKUP_RETENTION_DAYS}..{MAX_BACKUP_RETENTION_DAYS} days")
    if not MIN_BACKUP_RETENTION_DAYS <= cfg.backup_retention_days <= MAX_BACKUP_RETENTION_DAYS:
        fail("backup_retention_days",
             f"between {MIN_BACKUP_RETENTION_DAYS} and {MAX_BACKUP_RETENTION_DAYS} days")
    if not _BACKUP_WINDOW.match(cfg.backup_window):
        fail("backup_window", "'hh24:mi-hh24:mi' in UTC, e.g. '02:00-03:00'")
    if _duration(*_backup_minutes(cfg.backup_window), 1440) < 30:
        fail("backup_window", "at least 30 minutes long")
    if not _MAINTENANCE_WINDOW.match(cfg.maintenance_window):
        fail("maintenance_window", "'ddd:hh24:mi-ddd:hh24:mi' in UTC, e.g. 'sun:04:00-sun:05:00'")
    if _duration(*_maintenance_minutes(cfg.maintenance_window), _WEEK_MINUTES) < 30:
        fail("maintenance_window", "at least 30 minutes long")
    if _windows_overlap(cfg.backup_window, cfg.maintenance_window):
        fail("maintenance_window",
             f"must not overlap backup_window {cfg.backup_window!r} on any day")
    if not 1150 <= cfg.port <= 65535:
        fail("port", "a port between 1150 and 65535")
    if cfg.port == cfg.default_port:
        fail("port", f"not the {cfg.engine} default port {cfg.default_port}: a non-default port "
             "keeps out scanners looking for databases")
    if not cfg.deletion_protection:
        fail("deletion_protection", "every database is protected from deletion; turn it off by "
             "hand at decommission time (aws rds modify-db-instance --no-deletion-protection)")
    if cfg.name == "prod" and not (cfg.retain_on_delete and cfg.termination_protection):
        _fail(env, "retain_on_delete/termination_protection",
              (cfg.retain_on_delete, cfg.termination_protection), "both True in prod")
    if cfg.monitoring_interval_seconds not in MONITORING_INTERVALS:
        fail("monitoring_interval_seconds",
             f"one of {', '.join(map(str, MONITORING_INTERVALS))} (enhanced monitoring is on)")
    allowed_logs = ENGINE_LOG_TYPES[cfg.engine]
    if not cfg.log_exports:
        fail("log_exports", f"at least one of {', '.join(allowed_logs)}")
    if len(set(cfg.log_exports)) < len(cfg.log_exports):
        fail("log_exports", "each log type once")
    for log in cfg.log_exports:
        if log not in allowed_logs:
            _fail(env, "log_exports", log, f"{cfg.engine} exports {', '.join(allowed_logs)}")
    if cfg.log_retention_days not in LOG_RETENTION_DAYS:
        fail("log_retention_days",
             f"a CloudWatch Logs retention: {', '.join(map(str, LOG_RETENTION_DAYS))}")
    if cfg.log_retention_days < MIN_LOG_RETENTION_DAYS:
        fail("log_retention_days", f"at least {MIN_LOG_RETENTION_DAYS} days: database logs are "
             "audit evidence (AWS Control Tower CT.CLOUDWATCH.PR.2)")
    if not _IDENTIFIER.match(cfg.database_name):
        fail("database_name", "a letter then up to 62 letters, digits or underscores")
    if not _IDENTIFIER.match(cfg.master_username) or len(cfg.master_username) > 16:
        fail("master_username", "a letter then up to 15 letters, digits or underscores")
    if cfg.master_username.lower() in RESERVED_USERNAMES:
        fail("master_username", f"not a reserved name ({', '.join(sorted(RESERVED_USERNAMES))})")
    if not 1 <= cfg.secret_rotation_days <= 365:
        fail("secret_rotation_days", "between 1 and 365 days")
    _validate_dr(cfg)
    layout(cfg.shape, cfg.topology, fail=lambda name, value, allowed: _fail(env, name, value,
                                                                            allowed))
    a = cfg.alarms
    for name, value, low, high in (
        ("alarms.replica_lag_seconds", a.replica_lag_seconds, 1, 86400),
        ("alarms.cpu_percent", a.cpu_percent, 1, 100),
        ("alarms.free_storage_percent", a.free_storage_percent, 1, 99),
        ("alarms.connections", a.connections, 1, 100000),
    ):
        if not low <= value <= high:
            _fail(env, name, value, f"between {low} and {high}")
    return cfg


def _check_version(cfg: DatabaseConfig, name: str, version: str) -> None:
    """`version` is a full version of `cfg.engine` that aws-cdk-lib knows."""
    if not _VERSION.match(version):
        _fail(cfg.name, name, version, "a full engine version such as '8.4.10' or '17.9'")
    known = supported_engine_versions(cfg.engine)
    if version not in known:
        major = version.split(".")[0]
        near = sorted((v for v in known if v.split(".")[0] == major),
                      key=lambda v: tuple(int(p) for p in v.split(".")))
        hint = f"versions of {cfg.engine} {major}: {', '.join(near[-6:])}" if near else (
            f"known majors: {', '.join(sorted({v.split('.')[0] for v in known}, key=int))}")
        _fail(cfg.name, name, version, f"not a version {cfg.engine} supports ({hint})")


def _check_support(cfg: DatabaseConfig, name: str, version: str) -> None:
    """`version`'s major version is in RDS standard support today, or Extended Support is
    chosen (where RDS offers it)."""
    calendar = engines.calendar(cfg.engine)
    try:
        end = engines.end_of_standard_support(cfg.engine, version)
    except engines.EngineVersionError:
        _fail(cfg.name, name, version, f"no end of standard support is recorded for "
              f"{cfg.engine} {engines.major_version(cfg.engine, version)} in "
              f"cloud_assembly/engines.py; known majors: "
              f"{', '.join(calendar.standard_support_ends)} (source: {calendar.source})")
    today = engines.today()
    if today <= end or (cfg.extended_support is not None and calendar.extended_support):
        return
    supported = ", ".join(f"{major} (until {until})"
                          for major, until in calendar.standard_support_ends.items()
                          if until >= today)
    major = engines.major_version(cfg.engine, version)
    if not calendar.extended_support:
        _fail(cfg.name, name, version, f"{cfg.engine} {major} left RDS standard support on "
              f"{end}, and RDS offers no Extended Support for {cfg.engine} (it upgrades such "
              f"an instance itself): use a major version in standard support: {supported}")
    _fail(cfg.name, name, version, f"{cfg.engine} {major} left RDS standard support on {end} "
          f"(today is {today}; RDS bills Extended Support for it from the day after): upgrade "
          f"to a major version in standard support ({supported}), or opt in with "
          "extended_support=ExtendedSupport(reason='<why this environment pays for it>')")


def _validate_engine(cfg: DatabaseConfig) -> None:
    """The writer's version, the replicas' version during a staged upgrade, their support
    window and the Extended Support opt-in (docs/engine-lifecycle.md)."""
    env = cfg.name
    _check_version(cfg, "engine_version", cfg.engine_version)
    replica = cfg.replica_engine_version
    if replica is not None:
        _check_version(cfg, "replica_engine_version", replica)
        if replica == cfg.engine_version:
            _fail(env, "replica_engine_version", replica, "None while the replicas run the "
                  f"writer's engine_version {cfg.engine_version!r}: it names the replicas' "
                  "version only while it differs")
        refusal = engines.replica_version_refusal(cfg.engine, cfg.engine_version, replica)
        if refusal is not None:
            _fail(env, "replica_engine_version", replica, refusal)
    chosen = cfg.extended_support
    if chosen is not None:
        if not engines.offers_extended_support(cfg.engine):
            _fail(env, "extended_support", chosen, f"None: RDS offers no Extended Support for "
                  f"{cfg.engine}")
        reason = chosen.reason.strip()
        if (len(reason) < MIN_REASON_CHARACTERS or len(reason.split()) < MIN_REASON_WORDS
                or _PLACEHOLDER.search(reason)):
            _fail(env, "extended_support.reason", chosen.reason,
                  f"a sentence of at least {MIN_REASON_WORDS} words and "
                  f"{MIN_REASON_CHARACTERS} characters saying why this environment pays for "
                  "RDS Extended Support (e.g. 'The vendor certifies its application on MySQL "
                  "8.0 only until its 2027 release'), not a placeholder")
    if cfg.logical_replication and cfg.engine != "postgres":
        _fail(env, "logical_replication", True, f"False: rds.logical_replication is a PostgreSQL "
              f"parameter ({cfg.engine}'s blue/green deployments replicate from the binary log, "
              "which automated backups already turn on)")
    _check_support(cfg, "engine_version", cfg.engine_version)
    if replica is not None:
        _check_support(cfg, "replica_engine_version", replica)


def _validate_dr(cfg: DatabaseConfig) -> None:
    env = cfg.name
    if cfg.dr_region is None:
        if cfg.dr_availability_zones:
            _fail(env, "dr_availability_zones", cfg.dr_availability_zones,
                  "naming DR availability zones needs a dr_region")
        return
    if cfg.dr_region not in AWS_REGIONS:
        _fail(env, "dr_region", cfg.dr_region,
              f"an AWS region name with RDS cross-region replicas: {', '.join(AWS_REGIONS)}")
    if cfg.region is None:
        _fail(env, "dr_region", cfg.dr_region, "a DR region needs an explicit region for the "
              "primary (the replica's source ARN and SourceRegion name it)")
    if cfg.dr_region == cfg.region:
        _fail(env, "dr_region", cfg.dr_region,
              f"must differ from the primary region {cfg.region}: a replica in the same region "
              "does not survive the loss of the region")
    if len(set(cfg.dr_availability_zones)) == 1:
        _fail(env, "dr_availability_zones", cfg.dr_availability_zones,
              "at least two distinct AZs for a multi-AZ DR replica")
    dr_region = cfg.dr_region
    for az in cfg.dr_availability_zones:
        if not (az.startswith(dr_region) and re.fullmatch(r"[a-z]", az[len(dr_region):])):
            _fail(env, "dr_availability_zones", az,
                  f"an AZ of region {dr_region}, e.g. '{dr_region}a'")
    _check_vpc(env, "dr_vpc_cidr", cfg.dr_vpc_cidr, cfg.dr_availability_zones)
    if _cidr_overlap(cfg.vpc_cidr, cfg.dr_vpc_cidr):
        _fail(env, "dr_vpc_cidr", cfg.dr_vpc_cidr,
              f"must not overlap vpc_cidr {cfg.vpc_cidr} (the VPCs may be peered for failover)")


def _cidr_overlap(a: str, b: str) -> bool:
    return ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))
