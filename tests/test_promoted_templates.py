"""The stacks of a promoted topology (config/topology.json), synthesized through the policy gate:
the promoted writer rendered in place (same logical id, identifier and create-only properties,
no source), with what a writer has; replicas of it with new identifiers; the former writer out of
the stack but its fenced leftovers kept; for MySQL and PostgreSQL, in-region and regional.

Each case is compared with the same environment's original topology (the session's synthesis):
local is the PostgreSQL environment with a DR region."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

import config
from cloud_assembly import rds
from config.naming import DEPLOYED_ENVIRONMENT_PARAMETER
from config.topology import Promotion, Topology
from policy.acknowledgments import acknowledgments_for
from stacks import EnvironmentStacks
from tests.helpers import add_gated, gated_app, resources

Template = dict[str, Any]


@dataclass(frozen=True)
class Synth:
    config: config.DatabaseConfig
    stacks: EnvironmentStacks
    templates: dict[str, Template]  # by stack role: Database, DrReplica, Foundation, ...
    outdir: Path

    def __getitem__(self, role: str) -> Template:
        return self.templates[role]


#: Each case's environment (the original topology is the session's synthesis) and promotion.
CASES = {
    "mysql-in-region": ("prod", Promotion(writer="prod-mysql-replica-1", region="eu-west-1")),
    "mysql-regional": ("prod", Promotion(writer="prod-mysql-dr-replica", region="eu-central-1")),
    "postgres-in-region": ("dev", Promotion(writer="dev-postgres-replica-1")),
    "postgres-regional": ("local", Promotion(writer="local-postgres-dr-replica",
                                             region="us-west-2")),
}


@pytest.fixture(scope="module")
def synthesized(environments: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
                ) -> dict[str, tuple[Synth, Synth]]:
    """{case: (original topology, promoted topology)}, each through the gate: the original
    topology is the session's synthesis; the promoted ones are synthesized as few Apps as their
    environments allow (one environment's stacks once per App, not in Stages: a Stage's stack
    names are prefixed with its name, and so are the cross-stack references the tests compare
    with the original topology's)."""
    def by_role(name: str, templates: dict[str, Template]) -> dict[str, Template]:
        return {stack.removeprefix(f"RedundantDb-{name}-"): t for stack, t in templates.items()}

    apps: list[tuple[cdk.App, dict[str, EnvironmentStacks]]] = []
    for case, (env, promotion) in CASES.items():
        cfg = config.validate(dataclasses.replace(config.ENVIRONMENTS[env],
                                                  topology=Topology(promotions=(promotion,))))
        free = next((a for a in apps if env not in {s.config.name for s in a[1].values()}),
                    None)
        if free is None:
            free = (gated_app(tmp_path_factory.mktemp("cdk.out.promoted")), {})
            apps.append(free)
        free[1][case] = add_gated(free[0], cfg)
    out = {}
    for app, cases in apps:
        assembly = app.synth()  # raises when the gate refuses
        for case, stacks in cases.items():
            name = stacks.config.name
            original = environments[name]
            promoted = {s.stack_name: assembly.get_stack_by_name(s.stack_name).template
                        for s in stacks.all}
            out[case] = (Synth(original.stacks.config, original.stacks,
                               by_role(name, original.templates), original.outdir),
                         Synth(stacks.config, stacks, by_role(name, promoted),
                               Path(app.outdir)))
    return out


def instances(s: Synth) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """{DBInstanceIdentifier: (stack role, logical id, resource)} of every DB instance."""
    return {r["Properties"]["DBInstanceIdentifier"]: (role, logical_id, r)
            for role, template in s.templates.items()
            for logical_id, r in resources(template, rds.DB_INSTANCE).items()}


def ref_to(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


@pytest.mark.parametrize("case", sorted(CASES))
def test_promoted_writer_is_rendered_in_place(synthesized: dict[str, tuple[Synth, Synth]],
                                              case: str) -> None:
    before, after = synthesized[case]
    layout = after.config.layout
    writer = layout.writer.identifier
    role, logical_id, was = instances(before)[writer]
    role_now, logical_id_now, resource = instances(after)[writer]
    assert (role_now, logical_id_now) == (role, logical_id)  # same stack, same logical id
    props = resource["Properties"]
    assert rds.SOURCE not in props
    for name in rds.CREATE_ONLY:  # every create-only property as it was: no replacement
        assert props.get(name) == was["Properties"].get(name), name
    for name in ("MasterUsername", "DBName", "StorageEncrypted"):
        assert name not in props, name  # never added to a promoted replica
    assert ("KmsKeyId" in props) == layout.writer.cross_region  # kept, never added
    cfg = after.config
    assert props["BackupRetentionPeriod"] == cfg.backup_retention_days
    assert props["PreferredBackupWindow"] == cfg.backup_window
    assert props["DeleteAutomatedBackups"] is False and props["DeletionProtection"] is True
    assert resource["DeletionPolicy"] == "Retain"
    if layout.standby is not None:  # automated backups replicated to the other region
        assert props["AutomaticBackupReplicationRegion"] == layout.standby_region
        key = props["AutomaticBackupReplicationKmsKeyId"]["Fn::GetStackOutput"]
        assert key["Region"] == layout.standby_region and key["OutputName"] == "KeyArn"


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_a_writer_has_follows_the_promoted_writer(
        synthesized: dict[str, tuple[Synth, Synth]], case: str) -> None:
    after = synthesized[case][1]
    layout = after.config.layout
    role, logical_id, _ = instances(after)[layout.writer.identifier]
    template = after[role]
    [selection] = resources(template, "AWS::Backup::BackupSelection").values()
    assert selection["Properties"]["BackupSelection"]["Resources"][0]["Fn::Join"][1][-1] == \
        ref_to(logical_id)
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        if alarm["Properties"]["MetricName"] in ("CPUUtilization", "FreeStorageSpace",
                                                 "DatabaseConnections"):
            assert alarm["Properties"]["Dimensions"][0]["Value"] == ref_to(logical_id)
    [attachment] = resources(template, "AWS::SecretsManager::SecretTargetAttachment").values()
    assert attachment["Properties"]["TargetId"] == ref_to(logical_id)
    [parameter] = resources(template, "AWS::SSM::Parameter").values()
    assert parameter["Properties"]["Value"]["Fn::Join"][1][0] == {
        "Fn::GetAtt": [logical_id, "Endpoint.Address"]}
    assert template["Outputs"]["PrimaryIdentifier"]["Value"] == layout.writer.identifier
    if layout.standby is not None:  # the other region's parameter names it too
        other = after["Database" if role == "DrReplica" else "DrReplica"]
        [mirror] = resources(other, "AWS::SSM::Parameter").values()
        endpoint = mirror["Properties"]["Value"]["Fn::Join"][1][0]["Fn::GetStackOutput"]
        assert endpoint["StackName"] == f"RedundantDb-{after.config.name}-{role}"
        assert endpoint["OutputName"] == "PrimaryEndpoint"


@pytest.mark.parametrize("case", sorted(CASES))
def test_replicas_of_the_promoted_writer_with_new_identifiers(
        synthesized: dict[str, tuple[Synth, Synth]], case: str) -> None:
    before, after = synthesized[case]
    layout = after.config.layout
    found = instances(after)
    _, writer_id, writer = found[layout.writer.identifier]
    assert len(layout.replicas) == after.config.replica_count
    for member in layout.replicas:
        assert member.identifier not in instances(before)  # new identifiers
        source = found[member.identifier][2]["Properties"][rds.SOURCE]
        assert ref_to(writer_id) in source["Fn::Join"][1]
    if layout.standby is not None:
        props = found[layout.standby.identifier][2]["Properties"]
        assert props["SourceRegion"] == layout.primary_region
        assert rds.identifier_in_arn(props[rds.SOURCE]) == layout.writer.identifier
        assert "KmsKeyId" in props  # a key of its own region
    replaced = {m.identifier for m in layout.replaced}
    assert replaced.isdisjoint(found)  # the old writer's replicas leave the stacks


@pytest.mark.parametrize("case", sorted(CASES))
def test_former_writer_leaves_the_stack_fenced_with_its_leftovers(
        synthesized: dict[str, tuple[Synth, Synth]], case: str) -> None:
    before, after = synthesized[case]
    old = after.config.layout.previous_writer
    assert old is not None and old.identifier not in instances(after)
    role, logical_id, was = instances(before)[old.identifier]
    assert was["DeletionPolicy"] == "Retain"  # deployed before: the removal keeps it
    template, original = after[role], before[role]
    for name in ("DBSubnetGroupName", "DBParameterGroupName", "OptionGroupName"):
        if name in was["Properties"]:
            kept = was["Properties"][name]["Ref"]
            assert template["Resources"][kept] == original["Resources"][kept], name
    [group] = was["Properties"]["VPCSecurityGroups"]
    group_id = group["Fn::GetAtt"][0]
    assert template["Resources"][group_id] == original["Resources"][group_id]
    ingress = [r for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
               if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}]
    assert ingress == []  # fenced: nothing may reach it


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_stack_requires_the_deployed_environment(
        synthesized: dict[str, tuple[Synth, Synth]], case: str) -> None:
    before, after = synthesized[case]
    name = f"/{after.config.resource_prefix}/writer-endpoint"
    for template in after.templates.values():
        parameter = template["Parameters"][DEPLOYED_ENVIRONMENT_PARAMETER]
        assert parameter == {"Type": "AWS::SSM::Parameter::Value<String>", "Default": name,
                             "Description": parameter["Description"]}
        [assertion] = template["Rules"]["PromotedTopologyNeedsItsEnvironment"]["Assertions"]
        assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [
            {"Ref": DEPLOYED_ENVIRONMENT_PARAMETER}, ""]}]}
    for template in before.templates.values():  # the original topology deploys anywhere
        assert DEPLOYED_ENVIRONMENT_PARAMETER not in template.get("Parameters", {})


@pytest.mark.parametrize("case", ["mysql-regional", "postgres-regional"])
def test_regional_promotion_moves_the_credentials_and_backups_to_the_writer(
        synthesized: dict[str, tuple[Synth, Synth]], case: str) -> None:
    before, after = synthesized[case]
    layout = after.config.layout
    dr, database = after["DrReplica"], after["Database"]
    [(secret_id, secret)] = resources(dr, "AWS::SecretsManager::Secret").items()
    assert secret["DeletionPolicy"] == "Retain"
    assert secret["Properties"]["ReplicaRegions"][0]["Region"] == layout.standby_region
    _, _, writer = instances(after)[layout.writer.identifier]
    password = writer["Properties"]["MasterUserPassword"]["Fn::Join"][1]
    assert password[0] == "{{resolve:secretsmanager:" and password[1] == ref_to(secret_id)
    assert resources(database, "AWS::SecretsManager::Secret") == {}  # kept, outside the stack
    [plan] = resources(dr, "AWS::Backup::BackupPlan").values()
    for rule in plan["Properties"]["BackupPlan"]["BackupPlanRule"]:
        vault = rule["CopyActions"][0]["DestinationBackupVaultArn"]["Fn::GetStackOutput"]
        assert vault == {"StackName": f"RedundantDb-{after.config.name}-Foundation",
                         "OutputName": "VaultArn", "Region": layout.standby_region}
    # The original region's vault (and its recovery points) stays where it was.
    [vault_id] = resources(before["Database"], "AWS::Backup::BackupVault")
    assert database["Resources"][vault_id] == before["Database"]["Resources"][vault_id]
    order = [s.stack_name.rsplit("-", 1)[-1] for s in after.stacks.all]
    assert order.index("Foundation") < order.index("DrReplica") < order.index("Database")


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_acknowledgment_of_a_promoted_topology_matches_a_finding(
        synthesized: dict[str, tuple[Synth, Synth]], case: str) -> None:
    after = synthesized[case][1]
    stacks = {s.node.path for s in after.stacks.all}
    report = json.loads((after.outdir / "validation-report.json").read_text())
    suppressed = {(v["acknowledgedId"], c["constructPath"])
                  for p in report["pluginReports"] for v in p.get("suppressedViolations", [])
                  if "acknowledgedId" in v for c in v["violatingConstructs"]
                  if c["constructPath"].split("/")[0] in stacks}  # the case's, of its App
    register = {(a.finding, a.path) for a in acknowledgments_for(after.stacks)}
    assert register - suppressed == set()
    assert {s for s in suppressed if not s[0].startswith("CloudFormation")} <= register


def test_a_promoted_topology_in_a_stage_passes_the_gate(tmp_path: Path) -> None:
    """A CDK Pipeline deploys the stacks in a Stage: their construct paths (and the promoted
    writer's inherited key's) are under the Stage's, and the gate finds the key there."""
    from policy.gate import apply_gate, policy_of
    from stacks import build_stacks

    env, promotion = CASES["postgres-in-region"]
    cfg = config.validate(dataclasses.replace(config.ENVIRONMENTS[env],
                                              topology=Topology(promotions=(promotion,))))
    app = gated_app(tmp_path)
    stacks = build_stacks(cdk.Stage(app, "Pipeline"), cfg)
    apply_gate(app, stacks)
    assert stacks.inherited_encryption == {
        promotion.writer: "Pipeline/RedundantDb-dev-Database/Key/Key/Resource"}
    app.synth()  # raises when the gate refuses
    checked = [e for e in policy_of(app).evaluations
               if e.rule.id == "Redundancy-StorageEncryptedCMK"
               and e.resource.path.endswith("/Replica1/Instance/Resource")]
    assert checked and {e.compliance.value for e in checked} == {"compliant"}
