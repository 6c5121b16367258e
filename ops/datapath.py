"""The data path: what a client of the database sees, checked with the credentials secret.

The control plane (`verify`'s other checks) says what RDS reports; these checks connect as an
application would and prove the promises on the engine itself:

- `check_tls`: the member accepts the secret's user over TLS (`sslmode=require`);
- `check_plaintext_refused`: a connection without TLS is refused by the server; one that is
  accepted, or that gets as far as authentication, is a FAIL, never a pass;
- `check_canary`: a row written on the writer is read on every replica within the lag limit;
- `check_lag`: each replica's lag, measured on the engine (WAL bytes not replayed, seconds since
  the last replayed commit), within the limit;
- `WriteLoad`: a bounded writer loop (numbered rows, each acknowledged commit recorded with the
  writer that took it and its WAL position), for the failover drill; `rows_present` reads back
  what a writer holds; `measure_failover` says what the load saw of a promotion: the write
  unavailability and the rows lost.

`check_data_path` runs the checks in that order. A member this machine cannot reach (real AWS
from outside the VPC) is reported as SKIP with the reason, or with the status the caller asks for
(the local emulator, where every member must answer, asks for FAIL).

The interface is the engine's family's; the checks are implemented for PostgreSQL (psycopg).
Other engines are reported as SKIP with the reason. No secret value reaches any result, message
or exception: every error text is redacted of the password before it is kept.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ops.errors import OpsError
from ops.report import CheckResult, Status
from ops.writer import Endpoint, secret_document

SUPPORTED_ENGINES = ("postgres",)
CANARY_TABLE = "redundancy_canary"
LOAD_TABLE = "redundancy_write_load"
CONNECT_TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 0.05
CANARY_RETENTION = "1 day"
# How PostgreSQL's pg_hba refuses a session without TLS (since 12; "SSL off" before).
_PLAINTEXT_REFUSALS = ("no encryption", "SSL off")


class DataPathError(OpsError):
    """A data-path step failed; the message names the member and never holds a secret."""


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """What a client connects with. `repr` and every message leave the password out."""

    engine: str
    username: str
    password: str = field(repr=False)
    database: str

    def redact(self, text: str) -> str:
        return text.replace(self.password, "***") if self.password else text


def read_credentials(secrets: Any, secret_arn: str, *, database: str,
                     engine: str | None = None) -> Credentials:
    """The credentials secret's user and password (and engine, unless given)."""
    document = secret_document(secrets, secret_arn)
    missing = [k for k in ("username", "password") if not document.get(k)]
    if missing:
        raise DataPathError(f"secret {secret_arn} has no {' or '.join(missing)} field "
                            f"(fields: {', '.join(sorted(document))})")
    engine = engine or document.get("engine")
    if not engine:
        raise DataPathError(f"secret {secret_arn} names no engine and none was given")
    return Credentials(engine=str(engine), username=str(document["username"]),
                       password=str(document["password"]), database=database)


@dataclass(frozen=True, kw_only=True)
class Member:
    """A DB instance as a client reaches it."""

    resource: str  # how results name it, e.g. "rds local-postgres-primary"
    endpoint: Endpoint


@dataclass(frozen=True, kw_only=True)
class Lag:
    """A replica's lag behind its writer: WAL bytes it has not replayed yet, and the seconds
    since the last commit it replayed while bytes remain (0.0 when caught up, None unknown)."""

    bytes: int
    seconds: float | None
    paused: bool = False

    def __str__(self) -> str:
        seconds = "unknown" if self.seconds is None else f"{self.seconds:.2f}s"
        return f"{self.bytes} bytes, {seconds}" + (" (replay paused)" if self.paused else "")


def unreachable(endpoint: Endpoint, *, timeout: float = CONNECT_TIMEOUT_SECONDS) -> str | None:
    """Why this machine cannot open a TCP connection to `endpoint`; None when it can."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout):
            return None
    except OSError as error:
        return f"{endpoint} cannot be reached from here ({error.strerror or error})"


def _supported(credentials: Credentials, member: Member, check: str) -> CheckResult | None:
    if credentials.engine in SUPPORTED_ENGINES:
        return None
    return CheckResult(status=Status.SKIP, resource=member.resource, check=check,
                       note=f"data-path checks are implemented for "
                            f"{', '.join(SUPPORTED_ENGINES)}, not {credentials.engine}")


def _open(credentials: Credentials, endpoint: Endpoint, *, tls: bool = True,
          timeout: float = CONNECT_TIMEOUT_SECONDS, what: str = "connecting",
          application: str = "redundant-db-datapath") -> Any:
    """An autocommit session as the secret's user; DataPathError (redacted) on failure."""
    import psycopg

    try:
        return psycopg.connect(
            host=endpoint.host, port=endpoint.port, user=credentials.username,
            password=credentials.password, dbname=credentials.database,
            sslmode="require" if tls else "disable", connect_timeout=max(1, round(timeout)),
            autocommit=True, application_name=application)
    except psycopg.Error as error:
        raise DataPathError(f"{what} to {endpoint}: {credentials.redact(str(error))}") from None


@contextmanager
def connect(credentials: Credentials, endpoint: Endpoint, *, tls: bool = True,
            timeout: float = CONNECT_TIMEOUT_SECONDS, what: str = "connecting") -> Iterator[Any]:
    """`_open` for the length of a `with` block; a failed statement is a DataPathError too."""
    import psycopg

    connection = _open(credentials, endpoint, tls=tls, timeout=timeout, what=what)
    try:
        yield connection
    except psycopg.Error as error:
        raise DataPathError(f"{what} on {endpoint}: {credentials.redact(str(error))}") from None
    finally:
        connection.close()


def _skip_if_unreachable(member: Member, check: str, *, status: Status,
                         timeout: float) -> CheckResult | None:
    reason = unreachable(member.endpoint, timeout=timeout)
    if reason is None:
        return None
    return CheckResult(status=status, resource=member.resource, check=check,
                       expected="reachable" if status is Status.FAIL else None,
                       actual=reason if status is Status.FAIL else None,
                       note=reason if status is not Status.FAIL else "")


def check_tls(credentials: Credentials, member: Member, *,
              unreachable_status: Status = Status.SKIP,
              timeout: float = CONNECT_TIMEOUT_SECONDS) -> CheckResult:
    check = "connects with the secret over TLS (sslmode=require)"
    skipped = _supported(credentials, member, check) or _skip_if_unreachable(
        member, check, status=unreachable_status, timeout=timeout)
    if skipped is not None:
        return skipped
    try:
        with connect(credentials, member.endpoint, timeout=timeout) as connection:
            # The server's own view of the connection (pg_stat_ssl), not the client's.
            protocol, version = connection.execute(
                "SELECT CASE WHEN ssl THEN version END, current_setting('server_version')"
                " FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    except DataPathError as error:
        return CheckResult(status=Status.FAIL, resource=member.resource, check=check,
                           expected="a TLS session", actual=str(error))
    if not protocol:
        return CheckResult(status=Status.FAIL, resource=member.resource, check=check,
                           expected="a TLS session", actual="a session without TLS")
    return CheckResult(status=Status.PASS, resource=member.resource, check=check,
                       actual=f"{protocol}, PostgreSQL {version}")


def check_plaintext_refused(credentials: Credentials, member: Member, *,
                            unreachable_status: Status = Status.SKIP,
                            timeout: float = CONNECT_TIMEOUT_SECONDS) -> CheckResult:
    """PASS only when the server refuses the session for want of TLS."""
    check = "refuses a connection without TLS"
    skipped = _supported(credentials, member, check) or _skip_if_unreachable(
        member, check, status=unreachable_status, timeout=timeout)
    if skipped is not None:
        return skipped
    expected = "refused for want of TLS"
    try:
        with connect(credentials, member.endpoint, tls=False, timeout=timeout):
            pass
    except DataPathError as error:
        message = str(error)
        if any(refusal in message for refusal in _PLAINTEXT_REFUSALS):
            return CheckResult(status=Status.PASS, resource=member.resource, check=check,
                               actual="refused (no encryption)")
        return CheckResult(status=Status.FAIL, resource=member.resource, check=check,
                           expected=expected,
                           actual=f"not refused for want of TLS: {message}")
    return CheckResult(status=Status.FAIL, resource=member.resource, check=check,
                       expected=expected, actual="a plaintext session was accepted")


def measure_lag(writer: Any, replica: Any) -> Lag:
    """The lag of `replica` behind `writer` (two open PostgreSQL sessions): the writer's WAL
    position is read first, so what the replica replayed since only shortens the answer."""
    position = writer.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
    row = replica.execute(
        "SELECT pg_is_in_recovery(),"
        " greatest(pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()), 0)::bigint,"
        " extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8,"
        " pg_is_wal_replay_paused()", (position,)).fetchone()
    in_recovery, behind, since_replay, paused = row
    if not in_recovery:
        raise DataPathError("not a replica (it is not in recovery): it has no lag")
    seconds = 0.0 if behind == 0 else (None if since_replay is None else
                                      max(0.0, float(since_replay)))
    return Lag(bytes=int(behind), seconds=seconds, paused=bool(paused))


def check_lag(credentials: Credentials, writer: Member, replica: Member, *,
              limit_seconds: float, unreachable_status: Status = Status.SKIP,
              timeout: float = CONNECT_TIMEOUT_SECONDS) -> CheckResult:
    check = f"replication lag (limit {limit_seconds:g}s)"
    skipped = _supported(credentials, replica, check) or _skip_if_unreachable(
        replica, check, status=unreachable_status, timeout=timeout)
    if skipped is not None:
        return skipped
    try:
        with connect(credentials, writer.endpoint, timeout=timeout) as w, \
                connect(credentials, replica.endpoint, timeout=timeout) as r:
            lag = measure_lag(w, r)
    except DataPathError as error:
        return CheckResult(status=Status.FAIL, resource=replica.resource, check=check,
                           expected="a measured lag", actual=str(error))
    ok = lag.seconds is not None and lag.seconds <= limit_seconds
    return CheckResult(status=Status.PASS if ok else Status.FAIL, resource=replica.resource,
                       check=check, expected=f"at most {limit_seconds:g}s", actual=str(lag))


def write_canary(credentials: Credentials, writer: Member, *,
                 timeout: float = CONNECT_TIMEOUT_SECONDS) -> str:
    """Commit a new canary row on the writer; its token."""
    token = str(uuid.uuid4())
    with connect(credentials, writer.endpoint, timeout=timeout,
                 what="writing the canary") as connection:
        connection.execute(f"CREATE TABLE IF NOT EXISTS {CANARY_TABLE} ("
                           "token text PRIMARY KEY,"
                           " written_at timestamptz NOT NULL DEFAULT clock_timestamp())")
        with connection.transaction():
            connection.execute(f"DELETE FROM {CANARY_TABLE} WHERE written_at < now() - "
                               f"interval '{CANARY_RETENTION}'")
            connection.execute(f"INSERT INTO {CANARY_TABLE} (token) VALUES (%s)", (token,))
    return token


def check_canary(credentials: Credentials, writer: Member, replicas: Sequence[Member], *,
                 limit_seconds: float, unreachable_status: Status = Status.SKIP,
                 timeout: float = CONNECT_TIMEOUT_SECONDS,
                 poll_seconds: float = POLL_SECONDS) -> list[CheckResult]:
    """A canary committed on the writer, then read on each replica within `limit_seconds`."""
    written = "canary row committed"
    skipped = _supported(credentials, writer, written) or _skip_if_unreachable(
        writer, written, status=unreachable_status, timeout=timeout)
    if skipped is not None:
        return [skipped]
    try:
        token = write_canary(credentials, writer, timeout=timeout)
    except DataPathError as error:
        return [CheckResult(status=Status.FAIL, resource=writer.resource, check=written,
                            expected="committed", actual=str(error))]
    committed = time.monotonic()
    results = [CheckResult(status=Status.PASS, resource=writer.resource, check=written,
                           actual=token)]
    check = f"reads the canary within {limit_seconds:g}s"
    sessions: dict[str, Any] = {}
    try:
        for replica in replicas:
            skipped = _skip_if_unreachable(replica, check, status=unreachable_status,
                                           timeout=timeout)
            if skipped is not None:
                results.append(skipped)
                continue
            try:
                sessions[replica.resource] = _open(credentials, replica.endpoint,
                                                   timeout=timeout)
            except DataPathError as error:
                results.append(CheckResult(status=Status.FAIL, resource=replica.resource,
                                           check=check, expected="read", actual=str(error)))
        seen = _poll_canary(credentials, sessions, token, committed=committed,
                            limit_seconds=limit_seconds, poll_seconds=poll_seconds)
    finally:
        for session in sessions.values():
            session.close()
    for replica in replicas:
        if replica.resource not in sessions:
            continue
        outcome = seen.get(replica.resource)
        if isinstance(outcome, float):
            results.append(CheckResult(status=Status.PASS, resource=replica.resource,
                                       check=check, actual=f"read after {outcome:.2f}s"))
        else:
            results.append(CheckResult(
                status=Status.FAIL, resource=replica.resource, check=check,
                expected=f"the row within {limit_seconds:g}s",
                actual=outcome or f"not there after {limit_seconds:g}s"))
    return results


def _poll_canary(credentials: Credentials, sessions: dict[str, Any], token: str, *,
                 committed: float, limit_seconds: float,
                 poll_seconds: float) -> dict[str, float | str]:
    """{resource: seconds from the commit to the read, or why it could not be read}; a
    replica missing from the answer did not show the row within the limit."""
    import psycopg

    outcome: dict[str, float | str] = {}
    pending = dict(sessions)
    while pending:
        for resource, session in list(pending.items()):
            try:
                found = session.execute(f"SELECT 1 FROM {CANARY_TABLE} WHERE token = %s",
                                        (token,)).fetchone()
            except psycopg.errors.UndefinedTable:
                found = None  # the table itself has not been replayed yet
            except psycopg.Error as error:
                outcome[resource] = credentials.redact(str(error))
                del pending[resource]
                continue
            if found:
                outcome[resource] = time.monotonic() - committed
                del pending[resource]
        if not pending or time.monotonic() - committed >= limit_seconds:
            break
        time.sleep(poll_seconds)
    return outcome


def check_data_path(credentials: Credentials, writer: Member, replicas: Sequence[Member], *,
                    lag_limit_seconds: float, unreachable_status: Status = Status.SKIP,
                    timeout: float = CONNECT_TIMEOUT_SECONDS) -> list[CheckResult]:
    """Every data-path check, writer first. An unreachable writer skips the rest (one line
    per member says why)."""
    results = [check_tls(credentials, writer, unreachable_status=unreachable_status,
                         timeout=timeout)]
    if results[0].status is not Status.PASS:
        return results
    results.append(check_plaintext_refused(credentials, writer, timeout=timeout))
    for replica in replicas:
        results.append(check_tls(credentials, replica, unreachable_status=unreachable_status,
                                 timeout=timeout))
        results.append(check_plaintext_refused(credentials, replica,
                                               unreachable_status=unreachable_status,
                                               timeout=timeout))
    results += check_canary(credentials, writer, replicas, limit_seconds=lag_limit_seconds,
                            unreachable_status=unreachable_status, timeout=timeout)
    for replica in replicas:
        results.append(check_lag(credentials, writer, replica, limit_seconds=lag_limit_seconds,
                                 unreachable_status=unreachable_status, timeout=timeout))
    return results


# -- the write load of the failover drill --------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Ack:
    """One acknowledged commit: row `seq`, taken by `endpoint`, at `at` (time.monotonic()),
    with the writer's WAL flush position right after it (a replica that replayed up to
    `position` holds the row)."""

    seq: int
    endpoint: str
    at: float
    position: int


@dataclass(frozen=True, kw_only=True)
class Switch:
    """The writer changed: the last commit acknowledged by the old one, the first by the new."""

    before: Ack
    after: Ack

    @property
    def unavailable_seconds(self) -> float:
        return self.after.at - self.before.at


@dataclass(frozen=True, kw_only=True)
class LoadReport:
    run: str
    acks: tuple[Ack, ...]
    failures: int
    errors: tuple[str, ...]  # the last few failures' messages, redacted
    stopped: str  # why the loop ended

    @property
    def switches(self) -> tuple[Switch, ...]:
        return tuple(Switch(before=a, after=b) for a, b in itertools.pairwise(self.acks)
                     if a.endpoint != b.endpoint)

    def on(self, endpoint: Endpoint | str) -> tuple[Ack, ...]:
        return tuple(a for a in self.acks if a.endpoint == str(endpoint))


class WriteLoad:
    """A thread writing numbered rows (`seq` 1, 2, ...) of one `run`, one commit each, to the
    writer `resolve()` names (asked before each row: the caller decides how, e.g. the writer
    parameter). A failed commit is retried with the same number on a new session (an
    idempotent insert: a commit whose acknowledgment was lost is not written twice). Bounded:
    at most `max_rows` rows and `max_seconds`; `stop()` ends it sooner."""

    history = 5  # failure messages kept

    def __init__(self, credentials: Credentials, resolve: Callable[[], Endpoint], *,
                 run: str | None = None, max_rows: int = 10_000, max_seconds: float = 120.0,
                 interval_seconds: float = 0.01,
                 timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
        if credentials.engine not in SUPPORTED_ENGINES:
            raise DataPathError(f"the write load is implemented for "
                                f"{', '.join(SUPPORTED_ENGINES)}, not {credentials.engine}")
        if max_rows < 1 or max_seconds <= 0 or interval_seconds < 0:
            raise DataPathError(f"write load bounds: max_rows >= 1, max_seconds > 0, "
                                f"interval_seconds >= 0; got {max_rows}, {max_seconds}, "
                                f"{interval_seconds}")
        self.credentials = credentials
        self.resolve = resolve
        self.run = run or uuid.uuid4().hex[:12]
        self.max_rows, self.max_seconds = max_rows, max_seconds
        self.interval_seconds, self.timeout = interval_seconds, timeout
        self._acks: list[Ack] = []
        self._errors: list[str] = []
        self._failures = 0
        self._stop = threading.Event()
        self._stopped = "not started"
        self._thread = threading.Thread(target=self._loop, name=f"write-load-{self.run}",
                                        daemon=True)

    def __enter__(self) -> WriteLoad:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> WriteLoad:
        self._thread.start()
        return self

    def stop(self) -> LoadReport:
        self._stop.set()
        self._thread.join()
        return self.report()

    def wait(self, rows: int, *, timeout: float, on: Endpoint | None = None) -> bool:
        """Wait until `rows` commits are acknowledged (by the writer at `on`, if given); False
        after `timeout`."""
        def count() -> int:
            return len(self._acks) if on is None else \
                sum(1 for a in tuple(self._acks) if a.endpoint == str(on))

        deadline = time.monotonic() + timeout
        while count() < rows and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(POLL_SECONDS)
        return count() >= rows

    def report(self) -> LoadReport:
        return LoadReport(run=self.run, acks=tuple(self._acks), failures=self._failures,
                          errors=tuple(self._errors), stopped=self._stopped)

    def _fail(self, text: str) -> None:
        self._failures += 1
        self._errors = [*self._errors, self.credentials.redact(text)][-self.history:]

    def _loop(self) -> None:
        import psycopg

        deadline = time.monotonic() + self.max_seconds
        seq, session, target = 1, None, ""
        try:
            while True:
                if self._stop.is_set():
                    self._stopped = "stopped"
                    return
                if seq > self.max_rows:
                    self._stopped = f"wrote {self.max_rows} rows"
                    return
                if time.monotonic() >= deadline:
                    self._stopped = f"ran {self.max_seconds:g}s"
                    return
                try:
                    endpoint = self.resolve()
                except Exception as error:  # the caller's resolver: keep writing meanwhile
                    self._fail(f"resolving the writer: {error}")
                    self._stop.wait(self.interval_seconds or POLL_SECONDS)
                    continue
                try:
                    if session is None or target != str(endpoint):
                        if session is not None:
                            session.close()
                        session, target = None, str(endpoint)
                        session = _load_session(self.credentials, endpoint, self.timeout)
                    row = session.execute(
                        f"WITH written AS (INSERT INTO {LOAD_TABLE} (run, seq) VALUES (%s, %s)"
                        " ON CONFLICT DO NOTHING RETURNING 1) SELECT 1", (self.run, seq)
                    ).fetchone()
                    position = session.execute(
                        "SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint"
                    ).fetchone()
                    assert row is not None and position is not None
                except (psycopg.Error, DataPathError) as error:
                    self._fail(f"row {seq} on {target}: {error}")
                    if session is not None:
                        session.close()
                    session = None
                    self._stop.wait(self.interval_seconds or POLL_SECONDS)
                    continue
                self._acks.append(Ack(seq=seq, endpoint=target, at=time.monotonic(),
                                      position=int(position[0])))
                seq += 1
                if self.interval_seconds:
                    self._stop.wait(self.interval_seconds)
        finally:
            if session is not None:
                session.close()


def _load_session(credentials: Credentials, endpoint: Endpoint, timeout: float) -> Any:
    import psycopg

    session = _open(credentials, endpoint, timeout=timeout, application="redundant-db-write-load")
    try:
        session.execute(f"CREATE TABLE IF NOT EXISTS {LOAD_TABLE} (run text NOT NULL,"
                        " seq bigint NOT NULL,"
                        " written_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
                        " PRIMARY KEY (run, seq))")
    except psycopg.Error as error:
        session.close()
        raise DataPathError(f"creating {LOAD_TABLE} on {endpoint}: "
                            f"{credentials.redact(str(error))}") from None
    return session


def rows_present(credentials: Credentials, endpoint: Endpoint, run: str, *,
                 timeout: float = CONNECT_TIMEOUT_SECONDS) -> frozenset[int]:
    """The numbers of the load's rows the member at `endpoint` holds."""
    with connect(credentials, endpoint, timeout=timeout,
                 what="reading the write load") as connection:
        rows = connection.execute(f"SELECT seq FROM {LOAD_TABLE} WHERE run = %s",
                                  (run,)).fetchall()
    return frozenset(int(r[0]) for r in rows)


def replay_position(credentials: Credentials, endpoint: Endpoint, *,
                    timeout: float = CONNECT_TIMEOUT_SECONDS) -> int:
    """The last WAL position the member at `endpoint` replayed as a replica (after its
    promotion, the position it was promoted at: PostgreSQL keeps it), in bytes."""
    with connect(credentials, endpoint, timeout=timeout,
                 what="reading the replay position") as connection:
        row = connection.execute(
            "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint").fetchone()
    if row is None or row[0] is None:
        raise DataPathError(f"{endpoint} never replayed WAL as a replica: it has no replay "
                            "position")
    return int(row[0])


def lsn(position: int) -> str:
    """A WAL position in PostgreSQL's notation (`16/B374D848`)."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


@dataclass(frozen=True, kw_only=True)
class FailoverMeasurement:
    """What the write load saw of a promotion of the replica at `new`.

    `covered`: the rows the old writer acknowledged at or before the replica's replay position
    at promotion: the new writer must hold each (`lost` lists those it does not). `late`: the
    rows the old writer acknowledged beyond it (written after the promotion, before the writer
    endpoint was repointed: a planned failover's application writes there until then; not
    losses of the failover, counted apart, `late_missing` of them not on the new writer)."""

    report: LoadReport
    old: str
    new: str
    position: int
    covered: int
    lost: tuple[int, ...]
    late: int
    late_missing: int

    @property
    def switch(self) -> Switch | None:
        return next((s for s in self.report.switches
                     if (s.before.endpoint, s.after.endpoint) == (self.old, self.new)), None)

    @property
    def unavailable_seconds(self) -> float | None:
        switch = self.switch
        return None if switch is None else switch.unavailable_seconds

    def lines(self) -> list[str]:
        report, switch = self.report, self.switch
        lines = [f"{len(report.acks)} commits acknowledged, {report.failures} attempts failed "
                 f"({LOAD_TABLE}, run {report.run}; {report.stopped})"]
        if switch is None:
            lines.append(f"no commit of the new writer {self.new} followed one of {self.old}")
        else:
            lines.append(f"write unavailability {switch.unavailable_seconds:.2f}s: the old writer "
                         f"{self.old}'s last commit (row {switch.before.seq}) -> the new writer "
                         f"{self.new}'s first (row {switch.after.seq})")
        lines.append(f"rows lost at lag zero: {len(self.lost)} of the {self.covered} the old "
                     f"writer acknowledged at or before the replay position at promotion "
                     f"({lsn(self.position)})"
                     + (f": missing rows {', '.join(map(str, self.lost[:10]))}"
                        if self.lost else ""))
        lines.append(f"written to the old writer after the promotion: {self.late} rows "
                     f"({self.late_missing} not on the new writer): not losses of a planned "
                     "failover, the application wrote there until the endpoint was repointed")
        return lines


def measure_failover(credentials: Credentials, report: LoadReport, *, new: Endpoint,
                     timeout: float = CONNECT_TIMEOUT_SECONDS) -> FailoverMeasurement:
    """Compare what the load's old writer acknowledged with what the promoted writer at `new`
    holds, split at the position the promoted writer had replayed when promoted."""
    old = next((a.endpoint for a in report.acks if a.endpoint != str(new)), None)
    if old is None:
        raise DataPathError(f"the write load committed nothing on a writer other than {new}: "
                            "nothing to compare")
    position = replay_position(credentials, new, timeout=timeout)
    present = rows_present(credentials, new, report.run, timeout=timeout)
    on_old = report.on(old)
    covered = [a for a in on_old if a.position <= position]
    late = [a for a in on_old if a.position > position]
    return FailoverMeasurement(
        report=report, old=old, new=str(new), position=position, covered=len(covered),
        lost=tuple(a.seq for a in covered if a.seq not in present), late=len(late),
        late_missing=sum(1 for a in late if a.seq not in present))
