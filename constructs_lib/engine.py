"""What differs between the engines: the CDK engine object, the TLS parameter, the rotation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct


@dataclass(frozen=True)
class EngineSpec:
    """How one engine family is built. `name` is one of mysql, postgres, mariadb."""

    name: str
    version: str

    @property
    def instance_engine(self) -> rds.IInstanceEngine:
        attr = "VER_" + self.version.replace(".", "_")
        if self.name == "mysql":
            return rds.DatabaseInstanceEngine.mysql(version=getattr(rds.MysqlEngineVersion, attr))
        if self.name == "mariadb":
            return rds.DatabaseInstanceEngine.maria_db(
                version=getattr(rds.MariaDbEngineVersion, attr))
        if self.name == "postgres":
            return rds.DatabaseInstanceEngine.postgres(
                version=getattr(rds.PostgresEngineVersion, attr))
        raise ValueError(f"engine={self.name!r}: one of mysql, postgres, mariadb")

    @property
    def tls_parameters(self) -> dict[str, str]:
        """Parameter-group settings that refuse unencrypted client connections."""
        if self.name == "postgres":
            return {"rds.force_ssl": "1"}
        return {"require_secure_transport": "ON"}

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

    def hosted_rotation(self, **kwargs: object) -> secretsmanager.HostedRotation:
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
