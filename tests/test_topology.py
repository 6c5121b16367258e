"""The declared topology (config/topology.json): what each promotion implies, and every
declaration the stacks cannot follow refused with one line naming the field, the value and
what is allowed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import config
from config import ConfigError, validate
from config.topology import (
    TOPOLOGY_FILE,
    TOPOLOGY_FILE_VARIABLE,
    Promotion,
    Topology,
    TopologyError,
    declared,
    write,
)

LOCAL = config.ENVIRONMENTS["local"]  # MySQL, one replica, DR in us-west-2
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
    assert layout.change == ("env prod: generation 1: prod-mysql-replica-2 in eu-west-1 is the "
                             "writer; prod-mysql-primary retired")


def test_regional_promotion_makes_the_dr_region_primary() -> None:
    layout = promoted(LOCAL, ("local-mysql-dr-replica", "us-west-2")).layout
    assert (layout.writer.stack, layout.primary_region, layout.standby_region) == (
        "DrReplica", "us-west-2", "us-east-1")
    assert [(m.identifier, m.stack) for m in layout.replicas] == [
        ("local-mysql-g1-replica-1", "DrReplica")]
    assert layout.standby is not None and (layout.standby.identifier, layout.standby.stack) == (
        "local-mysql-g1-dr-replica", "Database")
    # The promoted cross-region replica keeps its own key; the new standby takes its stack's.
    assert layout.key_path(layout.writer) == "RedundantDb-local-DrReplica/Key/Key/Resource"


def test_second_generation_promotes_a_replica_of_the_first() -> None:
    layout = promoted(LOCAL, "local-mysql-replica-1", "local-mysql-g1-replica-1",
                      decommissioned=("local-mysql-primary",)).layout
    assert layout.generation == 2
    assert layout.writer.identifier == "local-mysql-g1-replica-1"
    assert [m.identifier for m in layout.replicas] == ["local-mysql-g2-replica-1"]
    assert [m.identifier for m in layout.retired] == ["local-mysql-replica-1"]
    assert [m.identifier for m in layout.decommissioned] == ["local-mysql-primary"]


def test_env_agnostic_promotion_has_no_region() -> None:
    layout = promoted(DEV, ("dev-postgres-replica-1", None)).layout
    assert layout.writer.region is None and layout.standby is None


@pytest.mark.parametrize(("cfg", "writers", "decommissioned", "message"), [
    (LOCAL, ("nope",), (),
     "config error in env 'local': topology.promotions[0].writer='nope': no member of the "
     "environment has this identifier; generation 1 can promote a replica of "
     "local-mysql-primary: local-mysql-replica-1, local-mysql-dr-replica"),
    (LOCAL, ("local-mysql-replica-1", "local-mysql-dr-replica"), (),
     "config error in env 'local': topology.promotions[1].writer='local-mysql-dr-replica': it "
     "was replaced in generation 1 (it followed local-mysql-primary, and RDS cannot re-parent "
     "a replica: promoting it would orphan the writer's replicas and lose its writes); "
     "generation 2 can promote a replica of local-mysql-replica-1: local-mysql-g1-replica-1, "
     "local-mysql-g1-dr-replica"),
    (LOCAL, ("local-mysql-replica-1", "local-mysql-primary"), (),
     "topology.promotions[1].writer='local-mysql-primary': it is a retired writer; "
     "generation 2 can promote"),
    (LOCAL, (("local-mysql-dr-replica", "us-east-1"),), (),
     "config error in env 'local': topology.promotions[0].region='us-east-1': "
     "local-mysql-dr-replica is in us-west-2; the writer's region must hold it (one of the "
     "env's regions (us-east-1, us-west-2))"),
    (LOCAL, (("local-mysql-dr-replica", "us-west-2"), ("local-mysql-g1-dr-replica", "us-east-1")),
     (), "topology.promotions[1].writer='local-mysql-g1-dr-replica': a second regional "
         "promotion: the stacks can render one move of the writer"),
    (LOCAL, ("local-mysql-replica-1",), ("local-mysql-replica-1",),
     "config error in env 'local': topology.decommissioned='local-mysql-replica-1': only a "
     "retired writer can be decommissioned (local-mysql-primary); a live member still holds or "
     "serves the data"),
    (LOCAL, (), ("local-mysql-primary",),
     "topology.decommissioned='local-mysql-primary': only a retired writer can be "
     "decommissioned (this env has none)"),
])
def test_fails_on_a_declaration_the_stacks_cannot_follow(
        cfg: config.DatabaseConfig, writers: tuple[str | tuple[str, str], ...],
        decommissioned: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        promoted(cfg, *writers, decommissioned=decommissioned)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.fixture
def topology_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "topology.json"
    monkeypatch.setenv(TOPOLOGY_FILE_VARIABLE, str(path))
    return path


def test_load_reads_and_validates_the_declared_topology(topology_file: Path) -> None:
    topology_file.write_text(json.dumps({"local": {"promotions": [
        {"writer": "local-mysql-replica-1", "region": "us-east-1"}]}}))
    assert config.load("local").layout.writer.identifier == "local-mysql-replica-1"
    assert config.load("dev").layout.generation == 0  # no entry: the original topology
    topology_file.write_text(json.dumps({"local": {"promotions": [{"writer": "x"}]}}))
    with pytest.raises(ConfigError, match=r"topology.promotions\[0\].writer='x'"):
        config.load("local")


@pytest.mark.parametrize(("entry", "message"), [
    ([], "topology=[]: an object with 'promotions' (and 'decommissioned')"),
    ({"writer": "x"}, "topology.writer='x': not a topology field; known: promotions, "
                      "decommissioned"),
    ({"promotions": "x"}, "topology.promotions='x': a list of"),
    ({"promotions": [{"region": "us-east-1"}]}, "topology.promotions[0]={'region': 'us-east-1'}"
                                                ": an object {'writer'"),
    ({"promotions": [{"writer": "a", "zone": "b"}]},
     "topology.promotions[0].zone='b': not a promotion field; known: writer, region"),
    ({"promotions": [{"writer": "a", "region": 1}]}, "topology.promotions[0].region=1: a region"),
    ({"decommissioned": "a"}, "topology.decommissioned='a': a list of DB instance identifiers"),
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
    step = Topology(promotions=(Promotion(writer="local-mysql-replica-1", region="us-east-1"),))
    write("local", step)
    assert json.loads(topology_file.read_text()) == {
        "local": {"decommissioned": [], "promotions": [
            {"region": "us-east-1", "writer": "local-mysql-replica-1"}]},
        "prod": {"promotions": [{"writer": "p"}]}}
    write("local", Topology())
    assert json.loads(topology_file.read_text()) == {"prod": {"promotions": [{"writer": "p"}]}}
