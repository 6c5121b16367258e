"""The data-path checks (ops/datapath.py) against real PostgreSQL servers of the local engine:
a TLS-only writer with a streaming replica, and a writer that (wrongly) accepts plaintext.
Pass and fail cases of each check, unreachable members, other engines, and the write load.
Three servers, shared by the module.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from local_aws.engine import Engine, Server
from local_aws.server import TEMPLATE_CACHE
from ops.datapath import (
    Credentials,
    DataPathError,
    Member,
    WriteLoad,
    check_canary,
    check_data_path,
    check_lag,
    check_plaintext_refused,
    check_tls,
    read_credentials,
    rows_present,
)
from ops.report import CheckResult, Status
from ops.writer import Endpoint

PASSWORD = "datapath-Passw0rd"  # a test value, never a real credential
CREDENTIALS = Credentials(engine="postgres", username="dbadmin", password=PASSWORD,
                          database="app")
CLOSED = Endpoint(host="127.0.0.1", port=9)  # nothing listens on "discard"


@dataclass(frozen=True)
class Servers:
    engine: Engine
    writer: Member
    replica: Member
    plaintext: Member  # a writer whose parameter group does not force TLS

    def name(self, member: Member) -> str:
        found = self.engine.find(member.endpoint.host, member.endpoint.port)
        assert found is not None
        return found.name


def _member(server: Server) -> Member:
    return Member(resource=f"rds {server.name}", endpoint=Endpoint(host=server.host,
                                                                   port=server.port))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    engine = Engine(tmp_path_factory.mktemp("datapath") / "postgres",
                    template_cache=TEMPLATE_CACHE)
    try:
        writer = engine.start_primary("writer", master_user="dbadmin", password=PASSWORD,
                                      database="app", port=5432)
        replica = engine.start_replica("replica", source="writer", port=5432)
        plaintext = engine.start_primary("plaintext", master_user="dbadmin", password=PASSWORD,
                                         database="app", port=5432, tls_only=False)
        yield Servers(engine, _member(writer), _member(replica), _member(plaintext))
    finally:
        engine.close()


def _no_secret(results: list[CheckResult]) -> None:
    assert not any(PASSWORD in r.line() for r in results)


def test_a_healthy_writer_and_replica_pass_every_check(servers: Servers) -> None:
    results = check_data_path(CREDENTIALS, servers.writer, [servers.replica],
                              lag_limit_seconds=10)

    assert [(r.status, r.resource, r.check) for r in results] == [
        (Status.PASS, servers.writer.resource, "connects with the secret over TLS "
                                               "(sslmode=require)"),
        (Status.PASS, servers.writer.resource, "refuses a connection without TLS"),
        (Status.PASS, servers.replica.resource, "connects with the secret over TLS "
                                                "(sslmode=require)"),
        (Status.PASS, servers.replica.resource, "refuses a connection without TLS"),
        (Status.PASS, servers.writer.resource, "canary row committed"),
        (Status.PASS, servers.replica.resource, "reads the canary within 10s"),
        (Status.PASS, servers.replica.resource, "replication lag (limit 10s)"),
    ]
    assert results[0].actual is not None and results[0].actual.startswith("TLSv1.")
    assert results[-1].actual == "0 bytes, 0.00s"
    _no_secret(results)


def test_fails_a_writer_that_accepts_plaintext(servers: Servers) -> None:
    result = check_plaintext_refused(CREDENTIALS, servers.plaintext)
    assert (result.status, result.actual) == (Status.FAIL, "a plaintext session was accepted")


def test_fails_plaintext_that_reaches_authentication(servers: Servers) -> None:
    """Refused for a wrong password is not refused for want of TLS."""
    wrong = Credentials(engine="postgres", username="dbadmin", password="wrong-Passw0rd",
                        database="app")
    result = check_plaintext_refused(wrong, servers.plaintext)
    assert result.status is Status.FAIL
    assert result.actual is not None and "not refused for want of TLS" in result.actual
    assert "password authentication failed" in result.actual
    assert "wrong-Passw0rd" not in result.line()


def test_fails_tls_with_a_wrong_password_without_showing_it(servers: Servers) -> None:
    wrong = Credentials(engine="postgres", username="dbadmin", password="wrong-Passw0rd",
                        database="app")
    result = check_tls(wrong, servers.writer)
    assert result.status is Status.FAIL
    assert "password authentication failed" in str(result.actual)
    assert "wrong-Passw0rd" not in result.line()


def test_fails_the_canary_and_the_lag_of_a_paused_replica(servers: Servers) -> None:
    name = servers.name(servers.replica)
    servers.engine.pause_replay(name)
    try:
        canary = check_canary(CREDENTIALS, servers.writer, [servers.replica],
                              limit_seconds=0.3, poll_seconds=0.05)
        lag = check_lag(CREDENTIALS, servers.writer, servers.replica, limit_seconds=0.2)
    finally:
        servers.engine.resume_replay(name)

    assert [r.status for r in canary] == [Status.PASS, Status.FAIL]
    assert canary[1].actual == "not there after 0.3s"
    assert lag.status is Status.FAIL
    assert lag.actual is not None and lag.actual.endswith("(replay paused)")
    assert int(lag.actual.split(" bytes")[0]) > 0
    again = check_canary(CREDENTIALS, servers.writer, [servers.replica], limit_seconds=10)
    assert [r.status for r in again] == [Status.PASS, Status.PASS]


def test_an_unreachable_writer_is_a_skip_with_the_reason() -> None:
    closed = Member(resource="rds far-away", endpoint=CLOSED)
    [skipped] = check_data_path(CREDENTIALS, closed, [], lag_limit_seconds=10)
    assert skipped.status is Status.SKIP
    assert "127.0.0.1:9 cannot be reached from here (Connection refused)" in skipped.note


def test_an_unreachable_member_fails_where_every_member_must_answer(servers: Servers) -> None:
    gone = Member(resource="rds gone", endpoint=CLOSED)
    results = check_data_path(CREDENTIALS, servers.writer, [gone], lag_limit_seconds=10,
                              unreachable_status=Status.FAIL)
    failed = [r for r in results if r.resource == "rds gone"]
    assert {r.status for r in failed} == {Status.FAIL} and len(failed) == 4
    assert all("cannot be reached from here" in str(r.actual) for r in failed)


def test_other_engines_are_skipped_with_the_reason(servers: Servers) -> None:
    mysql = Credentials(engine="mysql", username="dbadmin", password=PASSWORD, database="app")
    [skipped] = check_data_path(mysql, servers.writer, [servers.replica], lag_limit_seconds=10)
    assert skipped.status is Status.SKIP
    assert skipped.note == "data-path checks are implemented for postgres, not mysql"
    with pytest.raises(DataPathError, match="write load is implemented for postgres, not mysql"):
        WriteLoad(mysql, lambda: servers.writer.endpoint)


def test_the_write_load_numbers_every_acknowledged_commit_across_a_writer_change(
        servers: Servers) -> None:
    """Writer A, then a writer nobody can reach (failures, nothing acknowledged), then B:
    every number is acknowledged once, in order, and each writer holds what it acknowledged."""
    targets = itertools.chain(itertools.repeat(servers.writer.endpoint, 20),
                              itertools.repeat(CLOSED, 3),
                              itertools.repeat(servers.plaintext.endpoint))

    load = WriteLoad(CREDENTIALS, lambda: next(targets), max_rows=40, interval_seconds=0,
                     timeout=1).start()
    assert load.wait(40, timeout=30)
    report = load.stop()

    assert [a.seq for a in report.acks] == list(range(1, 41))
    assert report.stopped == "wrote 40 rows"
    assert report.failures == 3 and len(report.errors) == 3
    assert all("127.0.0.1:9" in e and PASSWORD not in e for e in report.errors)
    [switch] = report.switches
    assert (switch.before.seq, switch.after.seq) == (20, 21)
    assert switch.before.endpoint == str(servers.writer.endpoint)
    assert switch.after.endpoint == str(servers.plaintext.endpoint)
    assert switch.unavailable_seconds > 0
    assert all(b.position >= a.position for a, b in itertools.pairwise(
        report.on(servers.writer.endpoint)))
    assert rows_present(CREDENTIALS, servers.writer.endpoint, report.run) == frozenset(
        range(1, 21))
    assert rows_present(CREDENTIALS, servers.plaintext.endpoint, report.run) == frozenset(
        range(21, 41))


def test_the_write_load_stops_at_its_time_bound(servers: Servers) -> None:
    started = time.monotonic()
    load = WriteLoad(CREDENTIALS, lambda: servers.writer.endpoint, max_seconds=0.3,
                     interval_seconds=0.05).start()
    load.wait(10_000, timeout=5)  # returns when the loop ends by itself
    report = load.stop()
    assert report.stopped == "ran 0.3s"
    assert time.monotonic() - started < 5 and 1 <= len(report.acks) <= 10


@pytest.mark.parametrize(("bounds", "shown"), [
    ({"max_rows": 0}, "0, 120.0, 0.01"), ({"max_seconds": 0}, "10000, 0, 0.01"),
    ({"interval_seconds": -1}, "10000, 120.0, -1")])
def test_fails_a_write_load_without_bounds(servers: Servers, bounds: dict[str, Any],
                                           shown: str) -> None:
    with pytest.raises(DataPathError, match=f"max_rows >= 1, max_seconds > 0, "
                                            f"interval_seconds >= 0; got {shown}"):
        WriteLoad(CREDENTIALS, lambda: servers.writer.endpoint, **bounds)


class _Secrets:
    def __init__(self, document: str) -> None:
        self.document = document

    def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 (boto3's name)
        return {"SecretString": self.document}


def test_credentials_come_from_the_secret_and_never_show_the_password() -> None:
    secrets = _Secrets('{"username": "dbadmin", "password": "' + PASSWORD + '", '
                       '"engine": "postgres", "host": "h", "port": 5432}')
    credentials = read_credentials(secrets, "arn:secret", database="app")
    assert (credentials.engine, credentials.username, credentials.database) == (
        "postgres", "dbadmin", "app")
    assert PASSWORD not in repr(credentials)
    assert credentials.redact(f"said {PASSWORD} twice {PASSWORD}") == "said *** twice ***"


@pytest.mark.parametrize(("document", "message"), [
    ('{"username": "dbadmin"}', "secret arn:secret has no password field "
                                r"\(fields: username\)"),
    ('{"username": "u", "password": "' + PASSWORD + '"}', "secret arn:secret names no engine "
                                                         "and none was given"),
], ids=["no password", "no engine"])
def test_fails_credentials_the_secret_does_not_hold(document: str, message: str) -> None:
    with pytest.raises(DataPathError, match=message) as raised:
        read_credentials(_Secrets(document), "arn:secret", database="app")
    assert PASSWORD not in str(raised.value)
