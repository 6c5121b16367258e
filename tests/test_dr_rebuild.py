"""The declared DR rebuild (config/topology.json `dr_rebuilds`): its two phases as the layout
sees them, every declaration the stacks cannot follow refused by message, the templates of
each phase through the policy gate (one App, a Stage per phase), and the data-loss guard:
the declared detach and retirement pass, the same changes undeclared block."""

from __future__ import annotations

import dataclasses
from typing import Any

import aws_cdk as cdk
import pytest

import config
from cloud_assembly import rds
from config import ConfigError, validate
from config.topology import (
    DETACHED,
    REBUILT,
    DrRebuild,
    Promotion,
    Topology,
    TopologyError,
    declared,
    write,
)
from review.guard import DeclaredDrRebuild, find_data_loss
from review.normalize import normalize
from review.pipeline import declared_dr_rebuild, declared_promotion
from stacks import build_stacks
from tests.helpers import gated_app, resources

Template = dict[str, Any]
LOCAL = config.ENVIRONMENTS["local"]  # one replica, DR in us-west-2
DEV = config.ENVIRONMENTS["dev"]  # no DR region
DR = LOCAL.instance_identifier("dr-replica")
PRIMARY = LOCAL.instance_identifier("primary")
OLD = "17.8"


def rebuilt(cfg: config.DatabaseConfig, *rebuilds: DrRebuild,
            promotions: tuple[Promotion, ...] = (),
            decommissioned: tuple[str, ...] = ()) -> config.DatabaseConfig:
    return validate(dataclasses.replace(cfg, topology=Topology(
        promotions=promotions, dr_rebuilds=rebuilds, decommissioned=decommissioned)))


def detach(identifier: str = DR, phase: str = DETACHED) -> DrRebuild:
    return DrRebuild(detached=identifier, engine_version=OLD, phase=phase)


# --- the layout -------------------------------------------------------------------------------

def test_the_detached_phase_has_no_dr_replica_and_keeps_the_detached_one() -> None:
    layout = rebuilt(LOCAL, detach()).layout
    assert layout.standby is None and layout.detached is not None
    assert (layout.detached.identifier, layout.detached.construct_id, layout.detached.source,
            layout.detached.engine_version, layout.detached.stack) == (
        DR, "Replica", None, OLD, "DrReplica")
    assert layout.writer.identifier == PRIMARY and layout.retired == ()
    assert layout.member(DR) is layout.detached
    assert "detached" in layout.change and DR in layout.change


def test_the_rebuilt_phase_has_a_new_dr_replica_and_retires_the_detached_one() -> None:
    layout = rebuilt(LOCAL, detach(phase=REBUILT)).layout
    assert layout.standby is not None and layout.detached is None
    assert (layout.standby.identifier, layout.standby.construct_id, layout.standby.source) == (
        f"{DR}-r1", "ReplicaR1", PRIMARY)
    assert [(m.identifier, m.engine_version) for m in layout.retired] == [(DR, OLD)]
    assert layout.retired_dr_replica == layout.retired[0]


def test_rebuilds_count_within_a_generation_and_follow_a_promotion() -> None:
    twice = rebuilt(LOCAL, detach(phase=REBUILT), detach(f"{DR}-r1")).layout
    assert twice.detached is not None and twice.detached.identifier == f"{DR}-r1"
    assert [m.identifier for m in twice.retired] == [DR]
    done = rebuilt(LOCAL, detach(phase=REBUILT), detach(f"{DR}-r1", REBUILT),
                   decommissioned=(DR,)).layout
    assert done.standby is not None and done.standby.identifier == f"{DR}-r2"
    assert ([m.identifier for m in done.retired], [m.identifier for m in done.decommissioned]) \
        == ([f"{DR}-r1"], [DR])
    with pytest.raises(ConfigError, match="only a retired writer or a rebuilt DR replica's "
                       f"detached instance can be decommissioned \\({DR}\\)"):
        rebuilt(LOCAL, detach(phase=REBUILT), decommissioned=(PRIMARY,))
    # a promotion of the same-region replica after a rebuild: the new generation's DR replica
    replica = LOCAL.instance_identifier("replica-1")
    after = rebuilt(LOCAL, detach(phase=REBUILT), detach(f"{LOCAL.resource_prefix}-g1-dr-replica"),
                    promotions=(Promotion(writer=replica, region=LOCAL.region),)).layout
    assert after.detached is not None and after.generation == 1
    assert after.rebuild is not None and after.writer.identifier == replica


@pytest.mark.parametrize(("cfg", "topology", "message"), [
    (DEV, Topology(dr_rebuilds=(DrRebuild(detached="dev-postgres-dr-replica",
                                          engine_version="17.8"),)),
     "config error in env 'dev': topology.dr_rebuilds[0].detached='dev-postgres-dr-replica': "
     "nothing: the env has no dr_region, hence no DR replica to rebuild"),
    (LOCAL, Topology(dr_rebuilds=(detach(phase=REBUILT), detach())),
     f"topology.dr_rebuilds[1].detached='{DR}': a DR replica detached once only: it is declared "
     "detached already"),
    (LOCAL, Topology(dr_rebuilds=(detach(), detach(phase=REBUILT))),
     "topology.dr_rebuilds[0].phase='detached': 'rebuilt': only the last rebuild can be in "
     "its detached phase"),
    (LOCAL, Topology(dr_rebuilds=(detach(LOCAL.instance_identifier("replica-1")),)),
     "topology.dr_rebuilds[0].detached='local-postgres-replica-1': the DR replica of the "
     f"generation it is declared in, in order; the DR replica now is {DR}"),
    (LOCAL, Topology(dr_rebuilds=(detach(),), promotions=(
        Promotion(writer=LOCAL.instance_identifier("replica-1"), region=LOCAL.region),)),
     "topology.promotions[0].writer='local-postgres-replica-1': no promotion while the DR "
     f"replica {DR} is detached (topology.dr_rebuilds): finish its rebuild first"),
    (LOCAL, Topology(dr_rebuilds=(detach(),), promotions=(
        Promotion(writer=DR, region=LOCAL.dr_region),)),
     f"topology.promotions[0].writer='{DR}': no promotion while the DR replica {DR} is "
     "detached"),
    (LOCAL, Topology(dr_rebuilds=(detach(),), decommissioned=(DR,)),
     f"topology.decommissioned='{DR}': only a retired writer can be decommissioned (this env "
     "has none)"),
], ids=["no-dr-region", "detached-twice", "detached-not-last", "not-the-dr-replica",
        "promotion-while-detached", "regional-promotion-while-detached",
        "decommission-while-detached"])
def test_fails_an_impossible_rebuild(cfg: config.DatabaseConfig, topology: Topology,
                                     message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        validate(dataclasses.replace(cfg, topology=topology))
    assert message in str(raised.value)


def test_fails_a_rebuild_after_a_regional_failover() -> None:
    moved = Topology(promotions=(Promotion(writer=DR, region=LOCAL.dr_region),), dr_rebuilds=(
        detach(f"{LOCAL.resource_prefix}-g1-dr-replica"),))
    with pytest.raises(ConfigError, match=r"topology.dr_rebuilds\[0\].detached='local-postgres-"
                       r"g1-dr-replica': a DR replica in the DR stack: after a regional "
                       "failover the stacks render no rebuild"):
        validate(dataclasses.replace(LOCAL, topology=moved))


@pytest.mark.parametrize(("entry", "message"), [
    ({"dr_rebuilds": {}}, "topology.dr_rebuilds={}: a list of {'detached': ID"),
    ({"dr_rebuilds": ["x"]}, "topology.dr_rebuilds[0]='x': an object {'detached': ID"),
    ({"dr_rebuilds": [{"detached": DR, "engine_version": OLD, "when": 1}]},
     "topology.dr_rebuilds[0].when=1: not a DR rebuild field; known: detached, engine_version, "
     "phase"),
    ({"dr_rebuilds": [{"engine_version": OLD}]},
     "topology.dr_rebuilds[0].detached=None: the DB instance identifier of the DR replica"),
    ({"dr_rebuilds": [{"detached": DR, "engine_version": ""}]},
     "topology.dr_rebuilds[0].engine_version='': the engine version the detached DR replica "
     "runs"),
    ({"dr_rebuilds": [{"detached": DR, "engine_version": OLD, "phase": "done"}]},
     "topology.dr_rebuilds[0].phase='done': one of detached, rebuilt"),
    ({"rebuilds": []}, "topology.rebuilds=[]: not a topology field; known: promotions, "
     "decommissioned, engine, dr_rebuilds"),
])
def test_fails_a_malformed_rebuild_entry(tmp_path: Any, entry: dict[str, Any],
                                         message: str) -> None:
    path = tmp_path / "topology.json"
    path.write_text(__import__("json").dumps({"local": entry}))
    with pytest.raises(ValueError) as raised:
        declared("local", path=path)
    assert message in str(raised.value) and not isinstance(raised.value, TopologyError)


def test_the_file_records_both_phases(tmp_path: Any) -> None:
    path = tmp_path / "topology.json"
    topology = Topology().detached(DR, OLD)
    write("local", topology, path=path)
    assert declared("local", path=path) == topology
    assert topology.rebuilding == detach()
    write("local", topology.rebuilt(), path=path)
    loaded = declared("local", path=path)
    assert loaded is not None and loaded.dr_rebuilds == (detach(phase=REBUILT),)
    assert loaded.rebuilding is None and not loaded.empty


# --- the templates of each phase, through the policy gate --------------------------------------

PHASES = {DETACHED: (detach(),), REBUILT: (detach(phase=REBUILT),)}


@pytest.fixture(scope="module")
def phases(templates: dict[str, dict[str, Template]],
           tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Template]]:
    """{phase: {stack name: template}}: the original topology (the session's synthesis) and
    each phase of the rebuild, synthesized in one gated App, a Stage each."""
    app = gated_app(tmp_path_factory.mktemp("cdk.out.dr-rebuild"))
    from policy.gate import apply_gate

    built = {}
    for phase, rebuilds in PHASES.items():
        stage = cdk.Stage(app, phase.capitalize())
        stacks = build_stacks(stage, rebuilt(LOCAL, *rebuilds))
        apply_gate(app, stacks)
        built[phase] = (stage, stacks)
    app.synth()  # raises when the gate refuses
    out = {phase: {s.node.id: stage.synth().get_stack_by_name(s.stack_name).template
                   for s in stacks.all} for phase, (stage, stacks) in built.items()}
    return {"original": templates["local"], **out}


def _dr_stack(phase: dict[str, Template]) -> Template:
    return next(t for name, t in phase.items() if name.endswith("-DrReplica"))


def _instances(template: Template) -> dict[str, tuple[str, dict[str, Any]]]:
    return {r["Properties"]["DBInstanceIdentifier"]: (logical_id, r)
            for logical_id, r in resources(template, rds.DB_INSTANCE).items()}


def test_the_detached_replica_is_promoted_in_place_fenced_and_kept(
        phases: dict[str, dict[str, Template]]) -> None:
    before, after = _dr_stack(phases["original"]), _dr_stack(phases[DETACHED])
    logical_id, was = _instances(before)[DR]
    assert list(_instances(after)) == [DR]
    now_id, now = _instances(after)[DR]
    props = now["Properties"]
    assert now_id == logical_id and rds.SOURCE not in props
    for name in rds.CREATE_ONLY:  # SourceRegion, KmsKeyId, ...: as created
        assert props.get(name) == was["Properties"].get(name), name
    assert (now["DeletionPolicy"], props["DeletionProtection"], props["EngineVersion"]) == (
        "Retain", True, OLD)
    assert props["BackupRetentionPeriod"] >= 1 and "MasterUsername" not in props
    # fenced: its security group admits no one
    group = props["VPCSecurityGroups"][0]["Fn::GetAtt"][0]
    ingress = [r for r in resources(after, "AWS::EC2::SecurityGroupIngress").values()
               if r["Properties"]["GroupId"].get("Fn::GetAtt", [None])[0] == group]
    inline = resources(after, "AWS::EC2::SecurityGroup")[group]["Properties"].get(
        "SecurityGroupIngress", [])
    assert (ingress, inline) == ([], [])
    # the writer-endpoint parameter still names the writer
    parameter = next(iter(resources(after, "AWS::SSM::Parameter").values()))
    assert parameter["Properties"] == next(iter(resources(
        before, "AWS::SSM::Parameter").values()))["Properties"]
    assert {"DetachedIdentifier", "DetachedEndpoint"} <= set(after["Outputs"])
    assert "ReplicaIdentifier" not in after["Outputs"]
    assert not resources(after, "AWS::CloudWatch::Alarm")  # no replica lag to watch


def test_the_rebuilt_phase_adds_a_replica_and_keeps_the_leftovers(
        phases: dict[str, dict[str, Template]]) -> None:
    detached, after = _dr_stack(phases[DETACHED]), _dr_stack(phases[REBUILT])
    assert sorted(_instances(after)) == [f"{DR}-r1"]
    logical_id, replica = _instances(after)[f"{DR}-r1"]
    assert logical_id not in detached["Resources"]
    props = replica["Properties"]
    assert props["SourceRegion"] == LOCAL.region and props["EngineVersion"] == \
        LOCAL.engine_version
    assert PRIMARY in str(props[rds.SOURCE])
    # the detached instance's security, parameter and subnet groups and log groups stay
    gone = {lid for lid, r in detached["Resources"].items() if lid not in after["Resources"]}
    assert {detached["Resources"][lid]["Type"] for lid in gone} == {rds.DB_INSTANCE}
    assert after["Outputs"]["ReplicaIdentifier"]["Value"] == f"{DR}-r1"


def test_the_guard_accepts_the_declared_phases_and_refuses_them_undeclared(
        phases: dict[str, dict[str, Template]]) -> None:
    stack = next(name for name in phases[DETACHED] if name.endswith("-DrReplica"))
    steps = (("original", DETACHED, rebuilt(LOCAL, detach())),
             (DETACHED, REBUILT, rebuilt(LOCAL, detach(phase=REBUILT))))
    for old, new, cfg in steps:
        before = normalize(phases[old][stack])
        after = normalize(phases[new][stack])
        rebuild = declared_dr_rebuild(cfg.layout)
        assert rebuild is not None and declared_promotion(cfg.layout) is None
        findings = find_data_loss(stack=stack, old=before, new=after, rebuild=rebuild)
        assert findings and not [f.message() for f in findings if f.blocking], (old, new)
        undeclared = find_data_loss(stack=stack, old=before, new=after)
        assert [f.resource for f in undeclared if f.blocking] == [
            f.resource for f in findings], (old, new)
        # another instance declared: still refused
        other = DeclaredDrRebuild(detached="someone-else", retired="someone-else")
        assert [f for f in find_data_loss(stack=stack, old=before, new=after, rebuild=other)
                if f.blocking]
    assert declared_dr_rebuild(rebuilt(LOCAL, detach()).layout) == DeclaredDrRebuild(
        detached=DR)
    retire = declared_dr_rebuild(rebuilt(LOCAL, detach(phase=REBUILT)).layout)
    assert retire is not None and (retire.detached, retire.retired) == (None, DR)
    assert f"--db-instance-identifier {DR} " in retire.decommission
    retirement = find_data_loss(stack=stack, old=normalize(phases[DETACHED][stack]),
                                new=normalize(phases[REBUILT][stack]), rebuild=retire)
    assert [f.consequence for f in retirement if f.consequence.startswith("retires")] == [
        f"retires {DR}, the DR replica detached for the rebuild: CloudFormation keeps it "
        "outside the stack (DeletionPolicy Retain, deletion protection on), fenced, until it "
        f"is decommissioned: {retire.decommission}"]


def test_the_guard_refuses_a_retirement_from_a_replica_template(
        phases: dict[str, dict[str, Template]]) -> None:
    """Skipping the detached phase: CloudFormation ignores a replica's DeletionPolicy and
    would delete it."""
    stack = next(name for name in phases[REBUILT] if name.endswith("-DrReplica"))
    findings = find_data_loss(stack=stack, old=normalize(phases["original"][stack]),
                              new=normalize(phases[REBUILT][stack]),
                              rebuild=DeclaredDrRebuild(retired=DR))
    assert [f.consequence for f in findings if f.blocking] == [
        "deletes the read replica whatever its DeletionPolicy (CloudFormation ignores it on a "
        "replica; deletion protection makes the delete fail and leaves it outside the stack): "
        "a reader of the writer is lost"]
