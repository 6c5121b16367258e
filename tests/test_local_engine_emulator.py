"""A real emulator process and its PostgreSQL servers: the launcher starts, records and reuses
an emulator; `python -m local_aws psql` connects to its servers over TLS with the generated
secret; the servers stop with the emulator and die with a killed one; the launcher notices the
dead emulator, the next start cleans up what it left, says so and keeps its port.

One test, as its steps build on each other (xdist may send a module's tests to two workers), and
two emulators in all (each start costs ~2.5 s of CPU, mostly moto's imports): the first serves
the launcher's and the psql steps and is then killed; a second one is started by the CLI (which
reports the cleanup) and stopped. Three servers, and one more for `reap()` alone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

import config
from config.naming import stack_name
from config.topology import Layout
from local_aws import __main__ as cli
from local_aws import emulator as emu
from local_aws.engine import Engine, reap
from local_aws.processes import alive
from local_aws.server import TEMPLATE_CACHE, engine_root

PASSWORD = "emulator-Passw0rd"  # a test value, never a real credential
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Deployed:
    emulator: emu.Emulator
    layout: Layout
    secret_arn: str


def _client(emulator: emu.Emulator, service: str, region: str) -> Any:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=region).client(service,
                                                            endpoint_url=emulator.endpoint_url)


def _wait(predicate: Any, *, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _server_pids(state: Path) -> list[int]:
    registry = json.loads((engine_root(state) / "registry.json").read_text())
    return [s["pid"] for s in registry["servers"].values() if s["pid"]]


def _the_launcher_starts_records_and_reuses_an_emulator(
        state: Path, capsys: pytest.CaptureFixture[str]) -> emu.Emulator:
    emulator, reused = emu.start(state_dir=state)
    assert not reused and emulator.is_alive()
    assert emulator.endpoint_url == f"http://localhost:{emulator.port}"
    recorded = json.loads((state / "server.json").read_text())
    assert (recorded["pid"], recorded["port"]) == (emulator.pid, emulator.port)
    assert "rds-promote-read-replica" in recorded["extensions"]
    assert "AWS::SecretsManager::RotationSchedule" in emulator.limits

    again, reused = emu.start(state_dir=state)
    assert reused and again == emulator
    assert cli.main(["status", "--state-dir", str(state)]) == 0
    assert f"running at {emulator.endpoint_url}" in capsys.readouterr().out
    assert cli.main(["env", "--state-dir", str(state)]) == 0
    exports = capsys.readouterr().out.splitlines()
    assert exports[0].startswith("unset AWS_PROFILE ")
    assert f"export AWS_ENDPOINT_URL={emulator.endpoint_url}" in exports
    return emulator


def _deploy(emulator: emu.Emulator) -> Deployed:
    """Env local's writer and first replica as PostgreSQL instances, its credentials secret,
    and the writer stack's outputs that name it (what `make deploy` leaves, minus the rest)."""
    cfg = config.ENVIRONMENTS["local"]
    layout = config.with_declared_topology(cfg).layout
    region = layout.writer.region or cfg.region or "us-east-1"
    rds = _client(emulator, "rds", region)
    secret = _client(emulator, "secretsmanager", region).create_secret(
        Name="local-credentials", SecretString=json.dumps(
            {"username": "dbadmin", "password": PASSWORD, "engine": "postgres"}))
    rds.create_db_instance(
        DBInstanceIdentifier=layout.writer.identifier, DBInstanceClass="db.t4g.medium",
        Engine="postgres", EngineVersion="16.10", MasterUsername="dbadmin",
        MasterUserPassword=PASSWORD, DBName=cfg.database_name, AllocatedStorage=20)
    rds.create_db_instance_read_replica(DBInstanceIdentifier=layout.replicas[0].identifier,
                                        SourceDBInstanceIdentifier=layout.writer.identifier)
    outputs = {"PrimaryIdentifier": layout.writer.identifier, "PrimaryEndpoint": "unused",
               "Port": "5432", "SecretArn": secret["ARN"], "KeyArn": "unused",
               "WriterEndpointParameter": "unused"}
    _client(emulator, "cloudformation", region).create_stack(
        StackName=stack_name("local", layout.writer_stack), TemplateBody=json.dumps({
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}},
            "Outputs": {k: {"Value": v} for k, v in outputs.items()}}))
    return Deployed(emulator=emulator, layout=layout, secret_arn=secret["ARN"])


def _psql_prints_a_tls_command_line_that_reads_the_password_when_it_runs(
        deployed: Deployed, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["psql", "--state-dir", str(state)]) == 0
    printed = capsys.readouterr().out
    assert PASSWORD not in printed
    lines = printed.splitlines()
    writer = _client(deployed.emulator, "rds", "us-east-1").describe_db_instances(
        DBInstanceIdentifier=deployed.layout.writer.identifier)["DBInstances"][0]["Endpoint"]
    assert lines[0].startswith(f"# writer: {deployed.layout.writer.identifier} (us-east-1) at "
                               f"{writer['Address']}:{writer['Port']}")
    assert lines[1].endswith(f"-m local_aws psql --member writer --exec --state-dir {state}")
    manual = lines[3]
    assert manual.startswith('PGPASSWORD="$(') and deployed.secret_arn in manual
    assert f"sslmode=verify-full sslrootcert={engine_root(state) / 'ca.pem'}" in manual

    done = subprocess.run(["bash", "-c", f"{manual} -Atc 'SELECT current_user'"], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "dbadmin"), done.stderr


def _psql_exec_connects_to_a_replica_over_tls(state: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "local_aws", "psql", "--member", "replica-1", "--exec",
         "--state-dir", str(state), "--", "-Atc",
         "SELECT pg_is_in_recovery(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "t|t"), done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def _a_drill_outside_the_emulator_pauses_a_replay(deployed: Deployed, state: Path) -> None:
    """The registry says where the superuser reaches a server: a lag drill pauses a replica."""
    import psycopg

    from local_aws.engine import ADMIN_USER
    from local_aws.engine.registry import read
    from ops.datapath import measure_lag

    _, _, entries = read(engine_root(state))
    by_identifier = {e.name.rsplit("/", 1)[-1]: e for e in entries}
    writer = by_identifier[deployed.layout.writer.identifier]
    replica = by_identifier[deployed.layout.replicas[0].identifier]

    def admin(entry: Any) -> Any:
        return psycopg.connect(host=str(entry.socket_dir), port=entry.port, user=ADMIN_USER,
                               dbname="postgres", autocommit=True)

    with admin(writer) as w, admin(replica) as r:
        r.execute("SELECT pg_wal_replay_pause()")
        w.execute("CREATE TABLE drill (i int)")
        lag = measure_lag(w, r)
        r.execute("SELECT pg_wal_replay_resume()")
    assert lag.paused and lag.bytes > 0


def _fails_psql_for_a_member_it_cannot_reach(state: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for arguments, message in [
        (["--member", "replica-9"], "--member 'replica-9' is not a member of env local; "
                                    "allowed: writer, replica-1"),
        (["--member", "dr-replica"], "dr-replica .* is not deployed on the emulator"),
    ]:
        assert cli.main(["psql", "--state-dir", str(state), *arguments]) == 1
        assert re.search(message, capsys.readouterr().err), arguments


def test_fails_psql_arguments_without_exec(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["psql", "--", "-c", "SELECT 1"])
    assert "psql arguments after `--` need --exec" in capsys.readouterr().err


def _a_killed_emulator_takes_its_servers_along_and_the_next_start_says_so(
        deployed: Deployed, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pids = _server_pids(state)
    assert len(pids) == 2 and all(alive(p) for p in pids)

    first = deployed.emulator
    os.kill(first.pid, signal.SIGKILL)  # a crash: no chance to clean up

    assert _wait(lambda: not any(alive(p) for p in pids)), "servers outlived the emulator"
    assert _wait(lambda: emu.status(state_dir=state) is None)
    assert emu.stale_pid(state_dir=state) == first.pid
    assert cli.main(["status", "--state-dir", str(state)]) == 1
    assert f"pid {first.pid} is gone" in capsys.readouterr().err
    assert cli.main(["start", "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    cleanup = [line for line in out.splitlines() if line.startswith("cleanup: ")]
    assert len(cleanup) == 2, out
    assert all(f"left by the emulator (pid {first.pid}) that is gone" in line
               for line in cleanup)
    assert not engine_root(state).exists() or not (engine_root(state) / "registry.json").exists()
    second = emu.status(state_dir=state)
    assert second is not None and second.pid != first.pid
    assert second.port == first.port  # the endpoint a user exported keeps working


def _the_emulators_stop_stops_every_server(state: Path) -> None:
    running = emu.status(state_dir=state)
    assert running is not None  # started by the step before
    _client(running, "rds", "us-east-1").create_db_instance(
        DBInstanceIdentifier="stopped-with-it", DBInstanceClass="db.t4g.medium",
        Engine="postgres", MasterUsername="dbadmin", MasterUserPassword=PASSWORD,
        AllocatedStorage=20)
    pids = _server_pids(state)
    assert len(pids) == 1 and alive(pids[0])

    assert emu.stop(state_dir=state) == running.pid

    assert not alive(running.pid) and not alive(pids[0]) and not state.exists()


def test_the_life_of_a_real_emulator_and_its_servers(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    try:
        deployed = _deploy(_the_launcher_starts_records_and_reuses_an_emulator(state, capsys))
        _psql_prints_a_tls_command_line_that_reads_the_password_when_it_runs(
            deployed, state, capsys)
        _psql_exec_connects_to_a_replica_over_tls(state)
        _a_drill_outside_the_emulator_pauses_a_replay(deployed, state)
        _fails_psql_for_a_member_it_cannot_reach(state, capsys)
        _a_killed_emulator_takes_its_servers_along_and_the_next_start_says_so(
            deployed, state, capsys)
        _the_emulators_stop_stops_every_server(state)
    finally:
        emu.stop(state_dir=state)


def test_reap_stops_a_server_still_running_and_removes_its_data(tmp_path: Path) -> None:
    """What the parent-death signal does not cover (another OS): the registry's cleanup."""
    engine = Engine(tmp_path / "postgres", template_cache=TEMPLATE_CACHE)
    try:
        server = engine.start_primary("left/behind", master_user="dbadmin", password=PASSWORD,
                                      database="app", port=5432)
        assert server.pid is not None

        lines = reap(engine.root)

        assert lines == [f"stopped PostgreSQL server left/behind ({server.host}:{server.port}), "
                         f"pid {server.pid}, left running by the emulator (pid {os.getpid()}) "
                         "that is gone, and removed its data"]
        assert not alive(server.pid)
        assert not server.directory.exists() and not engine.root.exists()
    finally:
        engine.close()


def test_the_emulators_stop_cleans_up_a_server_left_running(tmp_path: Path) -> None:
    state = tmp_path / "state"
    engine = Engine(engine_root(state), template_cache=TEMPLATE_CACHE)
    try:
        server = engine.start_primary("left/behind", master_user="dbadmin", password=PASSWORD,
                                      database="app", port=5432)
        assert server.pid is not None

        assert emu.stop(state_dir=state) is None  # no emulator: only its leftovers

        assert not alive(server.pid) and not state.exists()
    finally:
        engine.close()


@pytest.mark.parametrize("psql", [True, False], ids=["postgres", "no client"])
def test_the_deploy_summary_says_how_to_connect_and_what_was_cleaned_up(
        tmp_path: Path, psql: bool) -> None:
    import io

    from local_aws.deploy import DeployResult, print_summary

    result = DeployResult(emulator=emu.Emulator(pid=1, port=1, state_dir=tmp_path),
                          cleanup=["stopped PostgreSQL server a", "stopped PostgreSQL server b"],
                          psql=psql)
    out = io.StringIO()

    print_summary(result, out=out, state_dir=tmp_path, seconds=1.0)

    text = out.getvalue()
    assert "  cleanup      stopped PostgreSQL server a\n" \
           f"{'':15}stopped PostgreSQL server b\n" in text
    line = f"  psql         .venv/bin/python -m local_aws psql --state-dir {tmp_path} --member " \
           "writer --exec"
    assert (line in text) is psql, text
