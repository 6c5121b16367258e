"""What differs between the engines: the CDK engine object, the TLS parameter, the rotation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cloud_assembly import engines
from cloud_assembly.rds import TLS_PARAMETERS, tls_parameter
from constructs_lib.validation import invalid

_VERSIONS = {"mysql": rds.MysqlEngineVersion, "mariadb": rds.MariaDbEngineVersion,
             "postgres": rds.PostgresEngineVersion}
_MAJOR = {"mysql": "mysql_major_version", "mariadb": "maria_db_major_version",
          "postgres": "postgres_major_version"}


@dataclass(frozen=True, kw_only=True)
class EngineSpec:
    """How one engine is built.

    Props:
    - `name`: one of the engines RDS can require TLS on: mysql, postgres, mariadb.
    - `version`: a full version aws-cdk-lib knows, e.g. '8.4.10' or '17.9'.
    """

    name: str
    version: str

    def __post_init__(self) -> None:
        if self.name not in TLS_PARAMETERS:
            raise invalid("EngineSpec", "name", self.name, f"one of {', '.join(TLS_PARAMETERS)}")
        # A major version alone ('8.0') lets RDS pick the minor; CloudFormation's own template
        # rules refuse it. A full version is one aws-cdk-lib knows beyond its major.
        known = getattr(_VERSIONS[self.name], self._version_attribute, None)
        if known is None or getattr(known, _MAJOR[self.name]) == self.version:
            raise invalid("EngineSpec", "version", self.version,
                          f"a full {self.name} version aws-cdk-lib knows, e.g. "
                          f"{'17.9' if self.name == 'postgres' else '8.4.10'}")

    @property
    def _version_attribute(self) -> str:
        return "VER_" + self.version.replace(".", "_")

    @property
    def offers_extended_support(self) -> bool:
        """RDS Extended Support (and the `EngineLifecycleSupport` setting) exists for it."""
        return engines.offers_extended_support(self.name)

    @property
    def instance_engine(self) -> rds.IInstanceEngine:
        version = getattr(_VERSIONS[self.name], self._version_attribute)
        if self.name == "mysql":
            return rds.DatabaseInstanceEngine.mysql(version=version)
        if self.name == "mariadb":
            return rds.DatabaseInstanceEngine.maria_db(version=version)
        return rds.DatabaseInstanceEngine.postgres(version=version)

    @property
    def tls_parameters(self) -> dict[str, str]:
        """Parameter-group settings that refuse unencrypted client connections."""
        tls = tls_parameter(self.name)
        return {tls.name: tls.value}

    def logging_parameters(self, log_exports: Sequence[str]) -> dict[str, str]:
        """Parameters that make the exported logs hold something (exports alone ship nothing)."""
        params: dict[str, str] = {}
        if self.name == "postgres":
            params["log_min_duration_statement"] = "2000"  # statements slower than 2 s
            return params
        if "slowquery" in log_exports:
            params |= {"slow_query_log": "1", "long_query_time": "2", "log_output": "FILE"}
        if "general" in log_exports:
            params |= {"general_log": "1", "log_output": "FILE"}
        return params

    def audit_option_group(self, scope: Construct, construct_id: str,
                           log_exports: Sequence[str]) -> rds.IOptionGroup | None:
        """MySQL/MariaDB write the `audit` log only with the MariaDB audit plugin option."""
        if self.name == "postgres" or "audit" not in log_exports:
            return None
        return rds.OptionGroup(
            scope,
            construct_id,
            engine=self.instance_engine,
            description="MariaDB audit plugin: connections and queries to the audit log",
            configurations=[
                rds.OptionConfiguration(
                    name="MARIADB_AUDIT_PLUGIN",
                    settings={"SERVER_AUDIT_EVENTS": "CONNECT,QUERY_DDL,QUERY_DCL"},
                )
            ],
        )

    def hosted_rotation(self, **kwargs: Any) -> secretsmanager.HostedRotation:
        """Single-user rotation run by Secrets Manager's hosted Lambda."""
        if self.name == "postgres":
            return secretsmanager.HostedRotation.postgre_sql_single_user(**kwargs)
        if self.name == "mariadb":
            return secretsmanager.HostedRotation.maria_db_single_user(**kwargs)
        return secretsmanager.HostedRotation.mysql_single_user(**kwargs)

    @property
    def replicas_keep_backups(self) -> bool:
        """MySQL/MariaDB replicas may keep automated backups; PostgreSQL replicas cannot."""
        return self.name != "postgres"
