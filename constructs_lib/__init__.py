"""Reusable constructs for a redundant relational database on AWS."""

from constructs_lib.alarms import DatabaseAlarms
from constructs_lib.backup import DatabaseBackupPlan
from constructs_lib.credentials import DatabaseCredentials
from constructs_lib.encryption import DatabaseKey
from constructs_lib.engine import EngineSpec
from constructs_lib.instances import InstanceSettings, PrimaryDatabase, ReadReplica
from constructs_lib.network import IsolatedNetwork
from constructs_lib.redundant_database import RedundantDatabase

__all__ = [
    "DatabaseAlarms", "DatabaseBackupPlan", "DatabaseCredentials", "DatabaseKey", "EngineSpec",
    "InstanceSettings", "IsolatedNetwork", "PrimaryDatabase", "ReadReplica", "RedundantDatabase",
]
