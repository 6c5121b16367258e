"""`Engine`: real PostgreSQL servers for emulated DB instances.

The engine's directory (`root`, `<state dir>/postgres`) holds:
  registry.json          what runs, and where its data is (see `registry.py`)
  ca.pem                 the certificate authority the servers' certificates chain to
The servers' data root holds, per server:
  <server>/data          its data directory (PGDATA)
  <server>/pg_hba.conf   who may connect how (TLS only when the parameter group says so)
  <server>/server.crt    its certificate (for its address) and key
  <server>/postgres.log  its log
  s/<n>/                 its Unix socket (the engine's own connections and replication)
The data root is a directory of its own named after `root` on a RAM file system when one has
room (see `_choose_data_root`), else `root` itself, else (the servers' user cannot reach `root`,
or a socket's path would be too long) one in the system's temporary directory.

What a client sees is an RDS instance's: the master user (a member of `rds_superuser`, not a
superuser) with its password, the database, an address and the declared port. What it does not
see: the superuser `rdsadmin`, reachable only on the Unix socket (as RDS keeps its own), that
the engine uses to create roles, promote, pause replay and replicate. Each server listens on an
address of its own (127.0.0.2, 127.0.0.3, ...: Linux routes all of 127.0.0.0/8 to loopback), so
every instance keeps its declared port; where those addresses cannot be bound, 127.0.0.1 and a
free port.

Speed: `initdb` runs once (about 2 s) into a template, kept in `template_cache` when one is
given; a new primary is a copy of it, started, with its master user (~0.4 s). A replica is a
`pg_basebackup -R` of its source over the source's socket, started (~0.3 s).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from local_aws.engine import registry, scram
from local_aws.engine._process import RunAs, Spawner, run_as, run_tool, version
from local_aws.engine.errors import EngineError
from local_aws.engine.tls import CertificateAuthority
from ops.datapath import Lag, measure_lag

ADMIN_USER = "rdsadmin"
"""The superuser, on the Unix socket only (RDS's own administrative user has this name)."""
MASTER_ROLE = "rds_superuser"
"""The role RDS makes its master user a member of (not a superuser)."""
TEMPLATE_REVISION = 1
"""Bump when the template's initdb options, configuration or roles change (a new cache)."""
READY_SECONDS = 30.0
STOP_SECONDS = 30.0
_POLL_SECONDS = 0.02
_BIND_ATTEMPTS = 5
_RAM_DIR = Path("/dev/shm")
_RAM_MIN_FREE = 1 << 30  # a container's default 64 MB /dev/shm would not hold a few servers
_SOCKET_NAME_MAX = 100  # a Unix socket's path must stay under 108 bytes
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_HOSTS = tuple(f"127.0.0.{n}" for n in range(2, 255))
_FALLBACK_HOST = "127.0.0.1"

# What every server runs with beyond its own address, port and settings: light on a laptop
# (four servers with RDS's memory settings would not be), and no fsync: the emulator's data
# does not outlive it, and `pg_promote()` keeps every row either way.
_TEMPLATE_CONFIGURATION = """
# local_aws engine template
fsync = off
shared_buffers = 32MB
max_connections = 50
wal_keep_size = 256MB
password_encryption = scram-sha-256
"""
_TEMPLATE_SQL = f"""
CREATE ROLE {MASTER_ROLE} NOLOGIN;
GRANT pg_monitor, pg_signal_backend TO {MASTER_ROLE} WITH ADMIN OPTION;
"""


class _AddressTaken(EngineError):
    """The server could not bind its address: another process took it after the probe."""


@dataclass(frozen=True, kw_only=True)
class Server:
    """One server as the engine knows it."""

    name: str
    host: str
    port: int
    directory: Path
    socket_dir: Path
    replica: bool
    source: str | None  # the server a replica streams from
    tls_only: bool
    settings: Mapping[str, str] = field(default_factory=dict)
    pid: int | None = None  # None: stopped

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    @property
    def running(self) -> bool:
        return self.pid is not None


def _check_identifier(what: str, value: str, *, reserved: tuple[str, ...]) -> None:
    if not _IDENTIFIER.match(value):
        raise EngineError(f"{what} {value!r} is not allowed: a letter, then up to 62 letters, "
                          "digits or underscores")
    if value.lower() in reserved or value.lower().startswith("pg_"):
        raise EngineError(f"{what} {value!r} is reserved ({', '.join(reserved)}, pg_*)")


def _tail(path: Path, lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _bindable(host: str, port: int) -> bool | None:
    """True when (host, port) can be bound; False when taken; None when `host` is not an
    address of this machine (127.0.0.2 and up outside Linux)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return None if error.errno == errno.EADDRNOTAVAIL else False
    return True


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class Engine:
    """The PostgreSQL servers of one emulator. Thread-safe: changes are serialized."""

    def __init__(self, root: Path, *, template_cache: Path | None = None) -> None:
        self.root = root.resolve()
        self.template_cache = template_cache
        self._lock = threading.RLock()
        self._servers: dict[str, Server] = {}
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._who: RunAs | None = None
        self._spawner: Spawner | None = None
        self._ca: CertificateAuthority | None = None
        self._template: Path | None = None
        self._settings: frozenset[str] | None = None
        self._data_root: Path | None = None
        self._sockets = 0

    # -- queries ---------------------------------------------------------------------------
    def server(self, name: str) -> Server | None:
        return self._servers.get(name)

    def servers(self) -> tuple[Server, ...]:
        return tuple(self._servers.values())

    def find(self, host: str, port: int) -> Server | None:
        """The server listening at host:port, if it is one of this engine's."""
        return next((s for s in self._servers.values() if (s.host, s.port) == (host, port)),
                    None)

    @property
    def ca_file(self) -> Path:
        return self.root / "ca.pem"

    def known_settings(self) -> frozenset[str]:
        """The names of the server's configuration parameters (`postgres --describe-config`)."""
        with self._lock:
            self._prepare()
            assert self._settings is not None
            return self._settings

    # -- lifecycle -------------------------------------------------------------------------
    def start_primary(self, name: str, *, master_user: str, password: str,
                      database: str | None, port: int, tls_only: bool = True,
                      settings: Mapping[str, str] | None = None) -> Server:
        """A new server from the template: the master user (LOGIN, CREATEDB, CREATEROLE, in
        `rds_superuser`) with `password`, owning `database` (none, or `postgres`: only the
        `postgres` database, owned by `rdsadmin`)."""
        _check_identifier("master user name", master_user,
                          reserved=(ADMIN_USER, "postgres", MASTER_ROLE))
        if database is not None:
            _check_identifier("database name", database,
                              reserved=(ADMIN_USER, "template0", "template1"))
        try:
            verifier = scram.verifier(password)
        except ValueError as error:
            raise EngineError(f"{name}: {error}") from None
        with self._lock:
            self._prepare()
            assert self._template is not None and self._who is not None
            template, who = self._template, self._who

            def populate(data: Path) -> None:
                who.copy_tree(template / "data", data)

            server = self._create(name, port=port, tls_only=tls_only, settings=settings,
                                  replica=False, source=None, populate=populate)
            try:
                with self._admin(server) as connection:
                    from psycopg import sql

                    connection.execute(sql.SQL(
                        "CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD {} IN ROLE {}").format(
                        sql.Identifier(master_user), sql.Literal(verifier),
                        sql.Identifier(MASTER_ROLE)))
                    if database is not None and database != "postgres":
                        connection.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(database), sql.Identifier(master_user)))
            except Exception:
                self._discard(name)
                raise
            return server

    def start_replica(self, name: str, *, source: str, port: int, tls_only: bool = True,
                      settings: Mapping[str, str] | None = None) -> Server:
        """A streaming standby of `source` (a copy of it by `pg_basebackup -R`)."""
        with self._lock:
            origin = self._running(source, "be the source of a replica")
            self._prepare()
            who = self._who
            assert who is not None

            def populate(data: Path) -> None:
                run_tool(who, "pg_basebackup", [
                    "-D", str(data), "-h", str(origin.socket_dir), "-p", str(origin.port),
                    "-U", ADMIN_USER, "-X", "stream", "-R", "-c", "fast", "-N",
                    "--no-manifest"], what=f"{name}: copying {source}")

            return self._create(name, port=port, tls_only=tls_only, settings=settings,
                                replica=True, source=source, populate=populate)

    def promote(self, name: str) -> Server:
        """Make a replica a writer (`pg_promote`): it keeps every row it replayed."""
        with self._lock:
            server = self._running(name, "be promoted")
            if not server.replica:
                raise EngineError(f"{name} is not a replica: nothing to promote")
            with self._admin(server) as connection:
                row = connection.execute("SELECT pg_promote(true, %s)",
                                         (int(READY_SECONDS),)).fetchone()
            if not row or not row[0]:
                raise EngineError(f"{name} did not finish its promotion within "
                                  f"{READY_SECONDS:.0f}s; log {server.log_path}:\n"
                                  f"{_tail(server.log_path)}")
            return self._update(replace(server, replica=False, source=None))

    def stop(self, name: str) -> Server:
        """Stop the server (a fast shutdown); its data stays for `start`."""
        with self._lock:
            server = self._known(name)
            if server.running:
                self._shut_down(server)
            return self._update(replace(server, pid=None))

    def start(self, name: str) -> Server:
        """Start a stopped server again, at the same address and port."""
        with self._lock:
            server = self._known(name)
            if server.running:
                return server
            return self._launch(server)

    def reboot(self, name: str) -> Server:
        with self._lock:
            self.stop(name)
            return self.start(name)

    def delete(self, name: str) -> None:
        """Stop the server and remove its data."""
        with self._lock:
            self._known(name)
            self._discard(name)

    def set_password(self, name: str, user: str, password: str) -> None:
        """Change `user`'s password on the writer `name` (its replicas follow, as roles are
        replicated); sessions already open stay open, as on PostgreSQL."""
        try:
            verifier = scram.verifier(password)
        except ValueError as error:
            raise EngineError(f"{name}: {error}") from None
        with self._lock:
            server = self._running(name, "change a password")
            if server.replica:
                raise EngineError(f"{name} is a read replica: a password is changed on its "
                                  "writer and replicated")
            from psycopg import sql

            with self._admin(server) as connection:
                exists = connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                                            (user,)).fetchone()
                if not exists:
                    raise EngineError(f"{name} has no user {user!r}")
                connection.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(verifier)))

    def lag(self, name: str) -> Lag:
        """How far the replica `name` is behind its source (measured as a client would)."""

        server = self._running(name, "report a lag")
        if not server.replica or server.source is None:
            raise EngineError(f"{name} is not a replica: it has no lag")
        source = self._running(server.source, "be compared with its replica")
        with self._admin(source) as writer, self._admin(server) as replica:
            return measure_lag(writer, replica)

    def pause_replay(self, name: str) -> None:
        """Stop applying WAL on the replica `name` (it keeps receiving it): its lag grows."""
        self._replay(name, "pg_wal_replay_pause")

    def resume_replay(self, name: str) -> None:
        self._replay(name, "pg_wal_replay_resume")

    def close(self) -> None:
        """Stop every server (fast shutdowns, side by side) and remove the engine's directory."""
        with self._lock:
            for server in self._servers.values():
                process = self._processes.get(server.name)
                if process is not None and process.poll() is None:
                    process.send_signal(signal.SIGINT)  # fast shutdown
            for server in list(self._servers.values()):
                if server.running:
                    self._shut_down(server)
            self._servers.clear()
            if self._spawner is not None:
                self._spawner.close()
                self._spawner = None
            if self._data_root is not None and not self._data_root.is_relative_to(self.root):
                shutil.rmtree(self._data_root, ignore_errors=True)
            shutil.rmtree(self.root, ignore_errors=True)

    # -- internals -------------------------------------------------------------------------
    def _known(self, name: str) -> Server:
        server = self._servers.get(name)
        if server is None:
            raise EngineError(f"no PostgreSQL server {name!r} (known: "
                              f"{', '.join(sorted(self._servers)) or 'none'})")
        return server

    def _running(self, name: str, to: str) -> Server:
        server = self._known(name)
        if not server.running:
            raise EngineError(f"{name} is stopped: it cannot {to}")
        return server

    def _replay(self, name: str, function: str) -> None:
        with self._lock:
            server = self._running(name, "pause or resume its replay")
            if not server.replica:
                raise EngineError(f"{name} is not a replica: it replays no WAL")
            with self._admin(server) as connection:
                connection.execute(f"SELECT {function}()")

    def _prepare(self) -> None:
        """Once: the directories, the OS user, the CA, the spawner thread and the template."""
        if self._template is not None:
            return
        self._who = run_as()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        data_root = self._choose_data_root()
        if data_root != self.root:
            # A directory of its own, named after the engine's, which the registry names (and
            # `close`/`reap` remove); one a killed engine of the same directory left behind
            # (its registry gone with the state directory) is removed first.
            shutil.rmtree(data_root, ignore_errors=True)
            data_root.mkdir(mode=0o711)  # ours: it fails if anyone else made it meanwhile
            data_root.chmod(0o711)
        self._data_root = data_root
        (data_root / "s").mkdir(mode=0o711, exist_ok=True)
        self._ca = CertificateAuthority()
        self.ca_file.write_bytes(self._ca.pem)
        self.ca_file.chmod(0o644)
        self._spawner = Spawner()
        self._write_registry()
        self._template = self._make_template()
        self._settings = frozenset(
            line.split("\t", 1)[0]
            for line in (self._template / "settings.tsv").read_text().splitlines() if line)

    def _choose_data_root(self) -> Path:
        """Where the servers' data goes: a RAM file system when there is one with room (a
        copy of the template there takes ~0.2 s, against ~2 s on this project's disks under
        load; the data never outlives the emulator anyway), else `root` when the servers'
        user can reach it and a socket path fits, else the system's temporary directory."""
        assert self._who is not None
        name = f"local-aws-pg-{hashlib.sha256(str(self.root).encode()).hexdigest()[:12]}"
        try:
            if _RAM_DIR.is_dir() and os.access(_RAM_DIR, os.W_OK) and \
                    shutil.disk_usage(_RAM_DIR).free >= _RAM_MIN_FREE:
                return _RAM_DIR / name
        except OSError:
            pass
        if self._who.reaches(self.root / "s") and \
                len(str(self.root / "s" / "999" / ".s.PGSQL.65535")) <= _SOCKET_NAME_MAX:
            return self.root
        return Path(tempfile.gettempdir()) / name

    def _make_template(self) -> Path:
        """initdb + the RDS roles, reused from `template_cache` when it holds this version's."""
        assert self._who is not None
        name = f"postgres-{version()}-template-r{TEMPLATE_REVISION}"
        cached = self.template_cache / name if self.template_cache is not None else None
        if cached is not None and (cached / "settings.tsv").exists():
            return cached
        assert self._data_root is not None
        building = self._data_root / "template"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir()
        self._who.own(building)
        data = building / "data"
        run_tool(self._who, "initdb", [
            "-D", str(data), "-U", ADMIN_USER, "--auth-local=trust", "--auth-host=reject",
            "-E", "UTF8", "--no-locale", "--wal-segsize=1", "-N", "--no-instructions"], what="initdb")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(_TEMPLATE_CONFIGURATION)
        run_tool(self._who, "postgres", ["--single", "-D", str(data), "postgres"],
                 what="creating the RDS roles", stdin=_TEMPLATE_SQL)
        settings = run_tool(self._who, "postgres", ["--describe-config"],
                            what="listing the server's settings")
        (building / "settings.tsv").write_text(settings)
        if cached is None:
            return building
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = cached.parent / f".{name}.{os.getpid()}.{threading.get_ident()}"
        shutil.copytree(building, staging, symlinks=True)
        try:
            staging.rename(cached)
        except OSError:  # another process cached it first: theirs is the same
            shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(building, ignore_errors=True)
        return cached

    def _address(self, port: int, *, avoid: set[str]) -> tuple[str, int]:
        """An address of its own for a new server, at the declared `port` when possible."""
        taken = {s.host for s in self._servers.values()} | avoid
        for host in _HOSTS:
            if host in taken:
                continue
            free = _bindable(host, port)
            if free is None:
                break  # no 127.0.0.N here: 127.0.0.1 and a free port
            if free:
                return host, port
        return _FALLBACK_HOST, _free_port(_FALLBACK_HOST)

    def _create(self, name: str, *, port: int, tls_only: bool,
                settings: Mapping[str, str] | None, replica: bool, source: str | None,
                populate: Any) -> Server:
        if name in self._servers:
            raise EngineError(f"a PostgreSQL server {name!r} already exists")
        assert self._who is not None and self._data_root is not None
        directory = self._data_root / re.sub(r"[^A-Za-z0-9._-]+", "-", name)
        if directory.exists():
            raise EngineError(f"{directory} already exists (a server {name!r} was not "
                              "cleaned up)")
        directory.mkdir(mode=0o700)
        self._who.own(directory)
        self._sockets += 1
        socket_dir = self._data_root / "s" / str(self._sockets)
        socket_dir.mkdir(mode=0o700)
        self._who.own(socket_dir)
        taken: set[str] = set()
        host, actual_port = self._address(port, avoid=taken)
        server = Server(name=name, host=host, port=actual_port, directory=directory,
                        socket_dir=socket_dir, replica=replica, source=source,
                        tls_only=tls_only, settings=dict(settings or {}))
        self._servers[name] = server
        try:
            populate(server.data_dir)
            while True:
                self._write_server_files(server)
                try:
                    return self._launch(server)
                except _AddressTaken:
                    if len(taken) + 1 >= _BIND_ATTEMPTS:
                        raise
                # Another process (another emulator, a test worker) bound the address between
                # the probe and the server's own bind: the next free one.
                taken.add(server.host)
                host, actual_port = self._address(port, avoid=taken)
                server = self._servers[name] = replace(server, host=host, port=actual_port)
        except OSError as error:  # a full disk, a permission: what the caller can act on
            self._discard(name)
            raise EngineError(f"{name}: {error}") from error
        except BaseException:
            self._discard(name)
            raise

    def _write_server_files(self, server: Server) -> None:
        assert self._ca is not None and self._who is not None
        pem = self._ca.issue(common_name=server.name, addresses=(server.host,),
                             names=("localhost",) if server.host == _FALLBACK_HOST else ())
        certificate, key = server.directory / "server.crt", server.directory / "server.key"
        certificate.write_bytes(pem.certificate)
        key.touch(mode=0o600)
        key.write_bytes(pem.key)
        hba = server.directory / "pg_hba.conf"
        lines = [
            "# local_aws engine: the superuser on the socket only; clients with a password",
            "local     all          all                      trust",
            "local     replication  all                      trust",
            f"host      all          {ADMIN_USER:<12} all         reject",
            "hostssl   all          all          all         scram-sha-256",
        ]
        if not server.tls_only:
            lines.append("hostnossl all          all          all         scram-sha-256")
        hba.write_text("\n".join(lines) + "\n")
        self._who.own(certificate, key, hba)

    def _arguments(self, server: Server) -> list[str]:
        options = {
            "listen_addresses": server.host,
            "port": str(server.port),
            "unix_socket_directories": str(server.socket_dir),
            "hba_file": str(server.directory / "pg_hba.conf"),
            "ssl": "on",
            "ssl_cert_file": str(server.directory / "server.crt"),
            "ssl_key_file": str(server.directory / "server.key"),
            "cluster_name": re.sub(r"[^A-Za-z0-9._-]+", "-", server.name)[:63],
            **server.settings,
        }
        arguments = ["-D", str(server.data_dir)]
        for key, value in options.items():
            arguments += ["-c", f"{key}={value}"]
        return arguments

    def _launch(self, server: Server) -> Server:
        assert self._spawner is not None and self._who is not None
        process = self._spawner.spawn(self._who, "postgres", self._arguments(server),
                                      log=server.log_path)
        self._processes[server.name] = process
        deadline = time.monotonic() + READY_SECONDS
        status_file = server.data_dir / "postmaster.pid"
        while True:
            if process.poll() is not None:
                log = _tail(server.log_path)
                error = _AddressTaken if "could not bind" in log else EngineError
                raise error(f"{server.name}: the server exited with code {process.returncode} "
                            f"while starting on {server.host}:{server.port}; log "
                            f"{server.log_path}:\n{log}")
            try:
                lines = status_file.read_text().splitlines()
            except OSError:
                lines = []
            if len(lines) >= 8 and lines[0].strip() == str(process.pid) and \
                    lines[7].strip() in ("ready", "standby"):
                break
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise EngineError(f"{server.name} did not accept connections within "
                                  f"{READY_SECONDS:.0f}s; log {server.log_path}:\n"
                                  f"{_tail(server.log_path)}")
            time.sleep(_POLL_SECONDS)
        return self._update(replace(server, pid=process.pid))

    def _shut_down(self, server: Server) -> None:
        process = self._processes.pop(server.name, None)
        if process is None:
            if server.pid is not None:
                registry.stop_process(server.pid)
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # fast shutdown
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _discard(self, name: str) -> None:
        server = self._servers.pop(name, None)
        if server is None:
            return
        self._shut_down(server)
        shutil.rmtree(server.directory, ignore_errors=True)
        shutil.rmtree(server.socket_dir, ignore_errors=True)
        self._write_registry()

    def _update(self, server: Server) -> Server:
        self._servers[server.name] = server
        self._write_registry()
        return server

    def _write_registry(self) -> None:
        assert self._data_root is not None
        registry.write(self.root, owner=os.getpid(), data_root=self._data_root, entries=[
            registry.Entry(name=s.name, pid=s.pid, directory=s.directory, host=s.host,
                           port=s.port, socket_dir=s.socket_dir) for s in self._servers.values()])

    @contextmanager
    def _admin(self, server: Server) -> Iterator[Any]:
        """A superuser session on the server's socket."""
        import psycopg

        try:
            connection = psycopg.connect(host=str(server.socket_dir), port=server.port,
                                         user=ADMIN_USER, dbname="postgres", autocommit=True,
                                         connect_timeout=10)
        except psycopg.Error as error:
            raise EngineError(f"{server.name}: cannot open an administrative session: "
                              f"{error}") from error
        try:
            yield connection
        except psycopg.Error as error:
            raise EngineError(f"{server.name}: {error}") from error
        finally:
            connection.close()
