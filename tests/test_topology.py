"""The declared topology (config/topology.json): what each promotion implies, and every
declaration the stacks cannot follow refused with one line naming the field, the value and
what is allowed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import config
from config import ConfigError, validate
from config.topology import (
    TOPOLOGY_FILE,
    TOPOLOGY_FILE_VARIABLE,
    EngineRecord,
    Member,
    Promotion,
    Topology,
    TopologyError,
    declared,
    decommission_commands,
    entry_text,
    layout,
    main,
    write,
)
from config.topology import topology_file as topology_file_path

LOCAL = config.ENVIRONMENTS["local"]  # PostgreSQL, one replica, DR in us-west-2
PROD = config.ENVIRONMENTS["prod"]  # two replicas, DR in eu-central-1
DEV = config.ENVIRONMENTS["dev"]  # PostgreSQL, env-agnostic, no DR


def promoted(cfg: config.DatabaseConfig, *writers: str | tuple[str, str | None],
             decommissioned: tuple[str, ...] = ()) -> config.DatabaseConfig:
    promotions = tuple(Promotion(writer=w, region=cfg.region) if isinstance(w, str)
                       else Promotion(writer=w[0], region=w[1]) for w in writers)
    return validate(dataclasses.replace(cfg, topology=Topology(
        promotions=promotions, decommissioned=decommissioned)))


@pytest.mark.parametrize("env", sorted(config.ENVIRONMENTS))
def test_every_environment_starts_from_its_original_topology(env: str) -> None:
    cfg = config.load(env)
    layout = cfg.layout
    assert (layout.generation, layout.promoted, layout.retired) == (0, False, ())
    assert layout.writer.identifier == cfg.instance_identifier("primary")
    assert [m.identifier for m in layout.replicas] == [
        cfg.instance_identifier(f"replica-{n}") for n in range(1, cfg.replica_count + 1)]
    assert (layout.standby.identifier if layout.standby else None) == (
        cfg.instance_identifier("dr-replica") if cfg.dr_region else None)


def test_committed_topology_file_is_valid() -> None:
    """The reviewed file: JSON, and every env's declaration valid (an empty file: none)."""
    data = json.loads(TOPOLOGY_FILE.read_text())
    assert isinstance(data, dict) and set(data) <= set(config.ENVIRONMENTS)
    for env in data:
        topology = declared(env, path=TOPOLOGY_FILE)
        assert topology is not None
        validate(dataclasses.replace(config.ENVIRONMENTS[env], topology=topology))


def test_in_region_promotion_replaces_the_replicas_and_retires_the_writer() -> None:
    layout = promoted(PROD, "prod-mysql-replica-2").layout
    assert layout.generation == 1
    assert (layout.writer.identifier, layout.writer.construct_id, layout.writer.stack,
            layout.writer.region) == ("prod-mysql-replica-2", "Replica2", "Database", "eu-west-1")
    assert layout.writer.promoted and layout.writer.source is None
    assert [(m.identifier, m.construct_id, m.source) for m in layout.replicas] == [
        ("prod-mysql-g1-replica-1", "G1Replica1", "prod-mysql-replica-2"),
        ("prod-mysql-g1-replica-2", "G1Replica2", "prod-mysql-replica-2")]
    assert layout.standby is not None
    assert (layout.standby.identifier, layout.standby.construct_id, layout.standby.stack,
            layout.standby.region) == ("prod-mysql-g1-dr-replica", "G1DrReplica", "DrReplica",
                                       "eu-central-1")
    assert [m.identifier for m in layout.retired] == ["prod-mysql-primary"]
    assert [m.identifier for m in layout.replaced] == ["prod-mysql-replica-1",
                                                       "prod-mysql-dr-replica"]
    assert layout.key_path(layout.writer) == "RedundantDb-prod-Database/Key/Key/Resource"
    # In a Stage, the key is under the stack's own construct path.
    assert layout.key_path(layout.writer, stack_path="Pipeline/RedundantDb-prod-Database") == \
        "Pipeline/RedundantDb-prod-Database/Key/Key/Resource"
    assert layout.change == ("env prod: generation 1: prod-mysql-replica-2 in eu-west-1 is the "
                             "writer; prod-mysql-primary retired")


def test_regional_promotion_makes_the_dr_region_primary() -> None:
    layout = promoted(LOCAL, ("local-postgres-dr-replica", "us-west-2")).layout
    assert (layout.writer.stack, layout.primary_region, layout.standby_region) == (
        "DrReplica", "us-west-2", "us-east-1")
    assert [(m.identifier, m.stack) for m in layout.replicas] == [
        ("local-postgres-g1-replica-1", "DrReplica")]
    assert layout.standby is not None and (layout.standby.identifier, layout.standby.stack) == (
        "local-postgres-g1-dr-replica", "Database")
    # The promoted cross-region replica keeps its own key; the new standby takes its stack's.
    assert layout.key_path(layout.writer) == "RedundantDb-local-DrReplica/Key/Key/Resource"


def test_second_generation_promotes_a_replica_of_the_first() -> None:
    layout = promoted(LOCAL, "local-postgres-replica-1", "local-postgres-g1-replica-1",
                      decommissioned=("local-postgres-primary",)).layout
    assert layout.generation == 2
    assert layout.writer.identifier == "local-postgres-g1-replica-1"
    assert [m.identifier for m in layout.replicas] == ["local-postgres-g2-replica-1"]
    assert [m.identifier for m in layout.retired] == ["local-postgres-replica-1"]
    assert [m.identifier for m in layout.decommissioned] == ["local-postgres-primary"]


def test_env_agnostic_promotion_has_no_region() -> None:
    layout = promoted(DEV, ("dev-postgres-replica-1", None)).layout
    assert layout.writer.region is None and layout.standby is None


@pytest.mark.parametrize(("cfg", "writers", "decommissioned", "message"), [
    (LOCAL, ("nope",), (),
     "config error in env 'local': topology.promotions[0].writer='nope': no member of the "
     "environment has this identifier; generation 1 can promote a replica of "
     "local-postgres-primary: local-postgres-replica-1, local-postgres-dr-replica"),
    (LOCAL, ("local-postgres-replica-1", "local-postgres-dr-replica"), (),
     "config error in env 'local': topology.promotions[1].writer='local-postgres-dr-replica': it "
     "was replaced in generation 1 (it followed local-postgres-primary, and RDS cannot re-parent "
     "a replica: promoting it would orphan the writer's replicas and lose its writes); "
     "generation 2 can promote a replica of local-postgres-replica-1: local-postgres-g1-replica-1, "
     "local-postgres-g1-dr-replica"),
    (LOCAL, ("local-postgres-replica-1", "local-postgres-primary"), (),
     "config error in env 'local': topology.promotions[1].writer='local-postgres-primary': it is a "
     "retired writer; generation 2 can promote a replica of local-postgres-replica-1: "
     "local-postgres-g1-replica-1, local-postgres-g1-dr-replica"),
    (DEV, (("dev-postgres-replica-1", "eu-west-1"),), (),
     "config error in env 'dev': topology.promotions[0].region='eu-west-1': "
     "dev-postgres-replica-1 is in the deploy-time region; the writer's region must hold it (no "
     "region: the env is environment-agnostic)"),
    (DEV, ("nope",), (),
     "config error in env 'dev': topology.promotions[0].writer='nope': no member of the "
     "environment has this identifier; generation 1 can promote a replica of "
     "dev-postgres-primary: dev-postgres-replica-1"),
    (LOCAL, ("local-postgres-replica-1", "local-postgres-g1-replica-1"),
     ("local-postgres-g2-replica-1",),
     "config error in env 'local': topology.decommissioned='local-postgres-g2-replica-1': only a "
     "retired writer can be decommissioned (local-postgres-primary, local-postgres-replica-1); a live "
     "member still holds or serves the data"),
    (LOCAL, (("local-postgres-dr-replica", "us-east-1"),), (),
     "config error in env 'local': topology.promotions[0].region='us-east-1': "
     "local-postgres-dr-replica is in us-west-2; the writer's region must hold it (one of the "
     "env's regions (us-east-1, us-west-2))"),
    (LOCAL, (("local-postgres-dr-replica", "us-west-2"), ("local-postgres-g1-dr-replica", "us-east-1")),
     (),
     "config error in env 'local': topology.promotions[1].writer='local-postgres-g1-dr-replica': a "
     "second regional promotion: the stacks can render one move of the writer to the other region "
     "(docs/operations.md, 'Limits'); rebuild the environment in its original region instead"),
    (LOCAL, ("local-postgres-replica-1",), ("local-postgres-replica-1",),
     "config error in env 'local': topology.decommissioned='local-postgres-replica-1': only a "
     "retired writer can be decommissioned (local-postgres-primary); a live member still holds or "
     "serves the data"),
    (LOCAL, (), ("local-postgres-primary",),
     "config error in env 'local': topology.decommissioned='local-postgres-primary': only a retired "
     "writer can be decommissioned (this env has none); a live member still holds or serves the "
     "data"),
])
def test_fails_on_a_declaration_the_stacks_cannot_follow(
        cfg: config.DatabaseConfig, writers: tuple[str | tuple[str, str], ...],
        decommissioned: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        promoted(cfg, *writers, decommissioned=decommissioned)
    assert str(error.value) == message


@pytest.fixture
def topology_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "topology.json"
    monkeypatch.setenv(TOPOLOGY_FILE_VARIABLE, str(path))
    return path


def test_load_reads_and_validates_the_declared_topology(topology_file: Path) -> None:
    topology_file.write_text(json.dumps({"local": {"promotions": [
        {"writer": "local-postgres-replica-1", "region": "us-east-1"}]}}))
    assert config.load("local").layout.writer.identifier == "local-postgres-replica-1"
    assert config.load("dev").layout.generation == 0  # no entry: the original topology
    topology_file.write_text(json.dumps({"local": {"promotions": [{"writer": "x"}]}}))
    with pytest.raises(ConfigError, match=r"topology.promotions\[0\].writer='x'"):
        config.load("local")


@pytest.mark.parametrize(("entry", "message"), [
    ([], "topology=[]: an object with 'promotions' (and 'decommissioned', 'engine')"),
    ({"writer": "x"}, "topology.writer='x': not a topology field; known: promotions, "
                      "decommissioned, engine"),
    ({"promotions": "x"}, "topology.promotions='x': a list of {'writer': ID, 'region': REGION}"),
    ({"promotions": [{"region": "us-east-1"}]}, "topology.promotions[0]={'region': 'us-east-1'}"
                                                ": an object {'writer'"),
    ({"promotions": [{"writer": "a", "zone": "b"}]},
     "topology.promotions[0].zone='b': not a promotion field; known: writer, region"),
    ({"promotions": [{"writer": "a", "region": 1}]}, "topology.promotions[0].region=1: a region"),
    ({"decommissioned": "a"}, "topology.decommissioned='a': a list of DB instance identifiers"),
    ({"engine": "8.4.10"}, "topology.engine='8.4.10': an object {'engine_version': VERSION, "
                           "'replica_engine_version': VERSION (optional)}"),
    ({"engine": {"version": "8.4.10"}}, "topology.engine.version='8.4.10': not an engine field; "
                                        "known: engine_version, replica_engine_version"),
    ({"engine": {"replica_engine_version": "8.4.10"}},
     "topology.engine.engine_version=None: a version string such as '8.4.10'"),
    ({"engine": {"engine_version": "8.4.10", "replica_engine_version": 8.4}},
     "topology.engine.replica_engine_version=8.4: a version string such as '8.4.10', or absent "
     "(the writer's)"),
])
def test_fails_on_a_malformed_entry(topology_file: Path, entry: object, message: str) -> None:
    topology_file.write_text(json.dumps({"local": entry}))
    with pytest.raises(ConfigError) as error:
        config.load("local")
    assert f"config error in env 'local': {message}" in str(error.value)


def test_fails_on_a_file_that_is_not_json(topology_file: Path) -> None:
    topology_file.write_text("{nope")
    with pytest.raises(TopologyError, match="topology.json: not JSON"):
        config.load("local")


def test_write_keeps_the_other_environments_and_drops_an_original_topology(
        topology_file: Path) -> None:
    topology_file.write_text(json.dumps({"prod": {"promotions": [{"writer": "p"}]}}))
    step = Topology(promotions=(Promotion(writer="local-postgres-replica-1", region="us-east-1"),))
    write("local", step)
    assert json.loads(topology_file.read_text()) == {
        "local": {"decommissioned": [], "promotions": [
            {"region": "us-east-1", "writer": "local-postgres-replica-1"}]},
        "prod": {"promotions": [{"writer": "p"}]}}
    write("local", Topology())
    assert json.loads(topology_file.read_text()) == {"prod": {"promotions": [{"writer": "p"}]}}


def _member(identifier: str, construct_id: str, stack: str, region: str | None, kind: str,
            generation: int, source: str | None = None) -> Member:
    return Member(identifier=identifier, construct_id=construct_id, stack=stack, region=region,
                  kind=kind, generation=generation, source=source, key_stack=stack)


PRIMARY = _member("local-postgres-primary", "Primary", "Database", "us-east-1", "primary", 0)
REPLICA = _member("local-postgres-replica-1", "Replica1", "Database", "us-east-1", "replica", 0,
                  "local-postgres-primary")
STANDBY = _member("local-postgres-dr-replica", "Replica", "DrReplica", "us-west-2", "dr-replica", 0,
                  "local-postgres-primary")


@pytest.mark.parametrize(("writers", "members", "retired", "replaced"), [
    ((), (PRIMARY, REPLICA, STANDBY), (), ()),
    (("local-postgres-replica-1",), (
        dataclasses.replace(REPLICA, source=None),
        _member("local-postgres-g1-replica-1", "G1Replica1", "Database", "us-east-1", "replica", 1,
                "local-postgres-replica-1"),
        _member("local-postgres-g1-dr-replica", "G1DrReplica", "DrReplica", "us-west-2",
                "dr-replica", 1, "local-postgres-replica-1")), (PRIMARY,), (STANDBY,)),
    ((("local-postgres-dr-replica", "us-west-2"),), (
        dataclasses.replace(STANDBY, source=None),
        _member("local-postgres-g1-replica-1", "G1Replica1", "DrReplica", "us-west-2", "replica", 1,
                "local-postgres-dr-replica"),
        _member("local-postgres-g1-dr-replica", "G1DrReplica", "Database", "us-east-1",
                "dr-replica", 1, "local-postgres-dr-replica")), (PRIMARY,), (REPLICA,)),
], ids=["original", "in region", "regional"])
def test_each_member_of_a_generation(writers: tuple[str | tuple[str, str], ...],
                                     members: tuple[Member, ...], retired: tuple[Member, ...],
                                     replaced: tuple[Member, ...]) -> None:
    layout = promoted(LOCAL, *writers).layout
    assert (layout.members, layout.retired, layout.replaced) == (members, retired, replaced)
    for member in (*members, *retired, *replaced):
        assert layout.member(member.identifier) == member
    assert layout.member("local-postgres-g9-replica-1") is None
    assert layout.in_stack("Database") == tuple(m for m in members if m.stack == "Database")
    assert layout.in_stack("DrReplica") == tuple(m for m in members if m.stack == "DrReplica")
    assert layout.retired_in("Database") == retired and layout.retired_in("DrReplica") == ()


def test_the_change_a_generation_declares() -> None:
    assert promoted(LOCAL).layout.change == (
        "env local: the original topology (writer local-postgres-primary)")
    assert promoted(LOCAL, ("local-postgres-dr-replica", "us-west-2")).layout.change == (
        "env local: generation 1: local-postgres-dr-replica in us-west-2 is the writer; "
        "local-postgres-primary retired")
    assert promoted(DEV, ("dev-postgres-replica-1", None)).layout.change == (
        "env dev: generation 1: dev-postgres-replica-1 is the writer; dev-postgres-primary "
        "retired")


def test_a_promotion_as_the_file_spells_it() -> None:
    first = Promotion(writer="local-postgres-replica-1", region="us-east-1")
    assert Promotion(writer="w").as_json() == {"writer": "w"}
    topology = Topology(decommissioned=("old",)).promoted(first)
    assert topology == Topology(promotions=(first,), decommissioned=("old",))
    assert entry_text("local", topology) == (
        '{\n  "local": {\n    "decommissioned": [\n      "old"\n    ],\n    "promotions": [\n'
        '      {\n        "region": "us-east-1",\n        "writer": "local-postgres-replica-1"\n'
        '      }\n    ]\n  }\n}')


def test_the_file_is_written_sorted_and_indented(topology_file: Path) -> None:
    write("prod", Topology())  # no entry to drop, no file yet: an empty object
    assert topology_file.read_text() == "{}\n"
    write("local", Topology(promotions=(Promotion(writer="w"),)))
    assert topology_file.read_text() == (
        '{\n  "local": {\n    "decommissioned": [],\n    "promotions": [\n      {\n'
        '        "writer": "w"\n      }\n    ]\n  }\n}\n')
    assert sorted(p.name for p in topology_file.parent.iterdir()) == ["topology.json"]


def test_an_empty_or_unset_file_declares_nothing(topology_file: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    topology_file.write_text("  \n")
    assert declared("local") is None
    monkeypatch.setenv(TOPOLOGY_FILE_VARIABLE, "")
    assert topology_file_path() == TOPOLOGY_FILE


def test_fails_on_a_file_that_is_no_object(topology_file: Path) -> None:
    topology_file.write_text("[]")
    with pytest.raises(TopologyError) as error:
        declared("local")
    assert str(error.value) == f"{topology_file}: a JSON object of environments, not list"


def test_a_declaration_read_without_a_config_fails_with_its_field(topology_file: Path) -> None:
    topology_file.write_text(json.dumps({"local": {"promotions": [{"writer": 1}]}}))
    with pytest.raises(ValueError) as error:
        declared("local")
    assert str(error.value) == ("topology.promotions[0]={'writer': 1}: an object {'writer': DB "
                                "instance identifier, 'region': region}")


@pytest.mark.parametrize(("before", "output"), [
    ({"local": {"promotions": [{"writer": "w"}]}, "prod": {"promotions": [{"writer": "p"}]}},
     "env local: back to its original topology ({path})"),
    ({"prod": {"promotions": [{"writer": "p"}]}},
     "env local: already in its original topology (topology.json)"),
])
def test_reset_returns_an_env_to_its_original_topology(
        topology_file: Path, capsys: pytest.CaptureFixture[str], before: dict[str, Any],
        output: str) -> None:
    topology_file.write_text(json.dumps(before))
    assert main(["--reset", "local"]) == 0
    assert capsys.readouterr().out == output.format(path=topology_file) + "\n"
    assert json.loads(topology_file.read_text()) == {"prod": {"promotions": [{"writer": "p"}]}}


def test_reset_needs_an_env(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "python -m config: error: the following arguments are required: --reset")


@pytest.mark.parametrize(("region", "flag"), [("us-east-1", " --region us-east-1"), (None, "")])
def test_the_commands_that_decommission_a_retired_writer(region: str | None, flag: str) -> None:
    assert decommission_commands(dataclasses.replace(PRIMARY, region=region)) == (
        f"aws rds modify-db-instance{flag} --db-instance-identifier local-postgres-primary "
        "--no-deletion-protection --apply-immediately && aws rds delete-db-instance"
        f"{flag} --db-instance-identifier local-postgres-primary --final-db-snapshot-identifier "
        "local-postgres-primary-final, then list local-postgres-primary under \"decommissioned\" in "
        "config/topology.json and deploy (its security group, parameter, option and subnet "
        "groups leave the stack)")


def test_a_layout_read_without_a_config_fails_with_its_field() -> None:
    with pytest.raises(ValueError) as error:
        layout(LOCAL.shape, Topology(promotions=(Promotion(writer="nope"),)))
    assert str(error.value) == (
        "topology.promotions[0].writer='nope': no member of the environment has this "
        "identifier; generation 1 can promote a replica of local-postgres-primary: "
        "local-postgres-replica-1, local-postgres-dr-replica")


def test_the_file_is_read_back_as_written(topology_file: Path) -> None:
    topology = Topology(promotions=(Promotion(writer="local-postgres-replica-1", region="us-east-1"),
                                    Promotion(writer="local-postgres-g1-replica-1")),
                        decommissioned=("local-postgres-primary",),
                        engine=EngineRecord(engine_version="17.9",
                                            replica_engine_version="17.6"))
    write("local", topology)
    assert declared("local") == topology


def test_the_engine_record_applies_over_the_environments_versions(topology_file: Path) -> None:
    write("local", Topology(engine=EngineRecord(engine_version="17.6")))
    loaded = config.load("local")
    assert (loaded.engine_version, loaded.replica_engine_version) == ("17.6", None)
    assert loaded.layout.generation == 0  # an engine record alone promotes nothing

    write("local", Topology(engine=EngineRecord(engine_version="17.6",
                                                replica_engine_version="17.9")))
    assert config.load("local").replica_engine_version == "17.9"
    assert json.loads(topology_file.read_text())["local"]["engine"] == {
        "engine_version": "17.6", "replica_engine_version": "17.9"}


def test_a_recorded_engine_version_is_validated_like_the_config(topology_file: Path) -> None:
    write("local", Topology(engine=EngineRecord(engine_version="17.99")))
    with pytest.raises(ConfigError, match=r"engine_version='17\.99': not a version postgres "
                                          "supports"):
        config.load("local")


def test_a_promotion_keeps_the_engine_record_and_reset_drops_both(topology_file: Path) -> None:
    engine = EngineRecord(engine_version="17.6")
    promoted = Topology(engine=engine).promoted(Promotion(writer="local-postgres-replica-1"))
    assert promoted.engine == engine
    write("local", promoted)
    assert main(["--reset", "local"]) == 0
    assert declared("local") is None


def test_reset_says_what_it_does(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == (
        "usage: python -m config [-h] --reset ENV\n\noptions:\n"
        "  -h, --help   show this help message and exit\n"
        "  --reset ENV  remove ENV's declared promotions and engine record (its\n"
        "               original topology)\n")
