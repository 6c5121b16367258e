"""Reusable constructs for a redundant relational database on AWS.

Every construct takes typed keyword-only props with secure defaults and checks them when it is
built: a bad prop raises a `ValueError` naming the construct, the prop, the value and what is
allowed. Nothing here reads an application's configuration; the floors (backup and log
retention) and RDS facts (TLS parameters, log retentions) come from `cloud_assembly`.
"""

from constructs_lib.alarms import AlarmThresholds, DatabaseAlarms
from constructs_lib.backup import DatabaseBackupPlan
from constructs_lib.credentials import DatabaseCredentials
from constructs_lib.cross_region_replica import CrossRegionReplica
from constructs_lib.encryption import DatabaseKey
from constructs_lib.engine import EngineSpec
from constructs_lib.instances import InstanceSettings, PrimaryDatabase, ReadReplica
from constructs_lib.logs import InstanceLogGroups
from constructs_lib.network import IsolatedNetwork
from constructs_lib.redundant_database import DisasterRecoveryTarget, RedundantDatabase

__all__ = [
    "AlarmThresholds", "CrossRegionReplica", "DatabaseAlarms", "DatabaseBackupPlan",
    "DatabaseCredentials", "DatabaseKey", "DisasterRecoveryTarget", "EngineSpec",
    "InstanceLogGroups", "InstanceSettings", "IsolatedNetwork", "PrimaryDatabase", "ReadReplica",
    "RedundantDatabase",
]
