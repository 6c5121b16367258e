"""The one reader of a synthesized cloud assembly (`cloud_assembly`), fact by fact: how a value
refers to a resource, CloudFormation's booleans, removal policies, RDS facts and the manifest.
The gate, the review and the emulator all read templates through it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloud_assembly import (
    AssemblyError,
    CloudAssembly,
    link_stacks,
    rds,
    removal,
    split_environment,
)
from cloud_assembly.manifest import assembly_with_tree
from cloud_assembly.template import Resource, Stack, boolean, literal_string, truthy
from tests.conftest import Synthesized

ARN = "arn:aws:rds:eu-west-1:123456789012:db:prod-mysql-primary"
JOINED_ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":rds:eu-west-1:",
                                {"Ref": "AWS::AccountId"}, ":db:prod-mysql-primary"]]}


def resource(logical_id: str, type_: str = "AWS::KMS::Key", **props: Any) -> Resource:
    return Resource(logical_id, type_, props)


def one_stack(*logical_ids: str) -> Stack:
    stack = Stack("S", {i: resource(i) for i in logical_ids})
    link_stacks([stack])
    return stack


def ids(found: list[Resource]) -> list[str]:
    return [r.logical_id for r in found]


# --- references within a template -------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ({"Ref": "Key"}, ["Key"]),
    ({"Fn::GetAtt": ["Key", "Arn"]}, ["Key"]),
    ({"Fn::GetAtt": "Key.Arn"}, ["Key"]),
    ({"Fn::Join": [":", ["arn", {"Ref": "Key"}, {"Fn::GetAtt": ["Other", "Arn"]}]]},
     ["Key", "Other"]),
    ([{"Ref": "Other"}, {"Ref": "Key"}], ["Other", "Key"]),
    ({"Fn::Sub": "${Key.Arn}/x"}, ["Key"]),
    ({"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${Key}"}, ["Key"]),
    ({"Fn::Sub": ["${Name}-${Key}", {"Name": {"Ref": "Other"}}]}, ["Other", "Key"]),
    ({"Fn::Sub": "${!Key} is written literally"}, []),
], ids=["Ref", "GetAtt list", "GetAtt short string", "Join around Ref and GetAtt", "list",
        "Sub attribute", "Sub with pseudo parameters", "Sub variable map", "Sub escaped"])
def test_a_value_refers_to_the_resources_it_names(value: Any, expected: list[str]) -> None:
    assert ids(one_stack("Key", "Other").targets(value)) == expected


@pytest.mark.parametrize("value", [
    {"Ref": "AWS::Region"}, {"Ref": "AWS::AccountId"}, {"Ref": "AWS::StackName"},
    {"Fn::Sub": "${AWS::Region}-${AWS::AccountId}"}, "Key", {"Ref": "NotInTheStack"}, None,
], ids=["Region", "AccountId", "StackName", "Sub of pseudo parameters", "a literal",
        "an unknown logical id", "None"])
def test_pseudo_parameters_and_literals_refer_to_nothing(value: Any) -> None:
    stack = one_stack("Key")
    assert stack.targets(value) == []
    assert stack.target(value) is None


def test_resource_from_template_reads_its_attributes_and_construct_path() -> None:
    body = {"Type": "AWS::RDS::DBInstance", "Properties": {"Port": "3307"},
            "DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Retain",
            "Metadata": {"aws:cdk:path": "App/Db/Resource"}}
    db = Resource.from_template("Db", body)
    assert (db.type, db.prop("Port"), db.prop("Missing", 1), db.deletion_policy,
            db.update_replace_policy, db.path) == (
        "AWS::RDS::DBInstance", "3307", 1, "Snapshot", "Retain", "App/Db/Resource")
    bare = Resource.from_template("Bare", {"Type": "AWS::KMS::Key", "Properties": None})
    assert (bare.properties, bare.deletion_policy, bare.path) == ({}, None, "Bare")


# --- references across stacks -----------------------------------------------------------------

def two_stacks(export_name: Any = None) -> tuple[Stack, Stack]:
    """(home, keys): `keys` holds Key and outputs its ARN, exported as `export_name` if given."""
    output: dict[str, Any] = {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}
    if export_name is not None:
        output["Export"] = {"Name": export_name}
    keys = Stack.from_template("Keys", {"Resources": {"Key": {"Type": "AWS::KMS::Key"}},
                                        "Outputs": {"KeyArn": output}}, region="eu-central-1")
    home = Stack.from_template("Home", {"Resources": {}}, region="eu-west-1")
    link_stacks([home, keys])
    return home, keys


def test_get_stack_output_leads_to_the_resource_of_the_other_stack() -> None:
    home, keys = two_stacks()
    value = {"Fn::GetStackOutput": {"StackName": "Keys", "OutputName": "KeyArn",
                                    "Region": "eu-central-1"}}
    assert home.addresses(value) == [(keys, keys.resources["Key"])]
    assert home.stack_of(home.target(value)) is keys
    assert home.target({"Fn::GetStackOutput": {"StackName": "Keys",
                                               "OutputName": "Missing"}}) is None
    assert home.target({"Fn::GetStackOutput": {"StackName": "Nope",
                                               "OutputName": "KeyArn"}}) is None


@pytest.mark.parametrize(("export_name", "import_name"), [
    ("Keys:KeyArn", "Keys:KeyArn"),  # CDK's own exports: literals
    ({"Fn::Sub": "${AWS::StackName}-KeyArn"}, "Keys-KeyArn"),
    ({"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "KeyArn"]]}, "Keys-KeyArn"),
], ids=["literal", "Fn::Sub of the stack name", "Fn::Join of the stack name"])
def test_an_imported_value_leads_to_the_exported_resource(export_name: Any,
                                                         import_name: str) -> None:
    home, keys = two_stacks(export_name)
    assert home.addresses({"Fn::ImportValue": import_name}) == [(keys, keys.resources["Key"])]


@pytest.mark.parametrize("import_value", [
    "Keys:Other",  # no output exports that name
    {"Fn::Sub": "${Env}-KeyArn"},  # depends on a parameter: not followed
    {"Fn::Join": ["-", [{"Ref": "Env"}, "KeyArn"]]},
], ids=["no such export", "Fn::Sub of a parameter", "Fn::Join of a parameter"])
def test_an_import_that_names_no_export_of_the_app_leads_nowhere(import_value: Any) -> None:
    home, _ = two_stacks("Keys:KeyArn")
    assert home.target({"Fn::ImportValue": import_value}) is None


def test_an_export_name_built_from_a_parameter_matches_no_import() -> None:
    home, _ = two_stacks({"Fn::Sub": "${Env}-KeyArn"})
    assert home.target({"Fn::ImportValue": "-KeyArn"}) is None
    assert home.target({"Fn::ImportValue": {"Fn::Sub": "${Env}-KeyArn"}}) is None


def test_a_db_instance_is_found_by_identifier_in_any_stack_of_the_app() -> None:
    primary = resource("Primary", rds.DB_INSTANCE, DBInstanceIdentifier="prod-mysql-primary")
    home = Stack("Home", {"Primary": primary})
    dr = Stack("Dr", {})
    link_stacks([home, dr])
    assert dr.instance_named("prod-mysql-primary") is primary
    assert dr.instance_named("other") is None
    assert dr.stack_of(primary) is home
    assert dr.stack_of(resource("Elsewhere")) is dr


# --- CloudFormation's booleans and literal strings --------------------------------------------

@pytest.mark.parametrize(("value", "read_as"), [
    ("true", True), ("True", True), (True, True), ("false", False), ("False", False),
    (False, False), (None, None), ({"Ref": "Encrypted"}, None), ("yes", None), (1, None),
], ids=["'true'", "'True'", "True", "'false'", "'False'", "False", "None", "intrinsic",
        "'yes'", "1"])
def test_booleans_are_read_as_cloudformation_reads_them(value: Any, read_as: bool | None) -> None:
    assert boolean(value) is read_as
    assert truthy(value) is (read_as is True)


@pytest.mark.parametrize(("value", "text"), [
    ("plain", "plain"),
    ({"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": "Secret"}, "}}"]]},
     "{{resolve:secretsmanager:${}}}"),
    ({"Ref": "Secret"}, None),
    (None, None),
])
def test_literal_string_renders_a_join_with_its_intrinsics_as_placeholders(
        value: Any, text: str | None) -> None:
    assert literal_string(value) == text


# --- removal policies ---------------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "keeps_data", "keeps_resource"), [
    (None, False, False), ("Delete", False, False), ("Snapshot", True, False),
    ("Retain", True, True), ("RetainExceptOnCreate", True, True),
])
def test_what_a_removal_policy_keeps(policy: str | None, keeps_data: bool,
                                     keeps_resource: bool) -> None:
    assert removal.keeps_data(policy) is keeps_data
    assert removal.keeps_resource(policy) is keeps_resource


def test_an_absent_policy_is_delete_and_cdk_names_map_to_cloudformation() -> None:
    assert removal.policy_of({}, "DeletionPolicy") == removal.DELETE
    assert removal.policy_of({"UpdateReplacePolicy": "Snapshot"}, "UpdateReplacePolicy") == \
        removal.SNAPSHOT
    assert removal.strength(None) < removal.strength("Snapshot") < removal.strength("Retain")
    assert {name: removal.FROM_CDK[name] for name in ("DESTROY", "SNAPSHOT", "RETAIN")} == {
        "DESTROY": "Delete", "SNAPSHOT": "Snapshot", "RETAIN": "Retain"}
    assert removal.FROM_CDK["RETAIN_EXCEPT_ON_CREATE"] == "RetainExceptOnCreate"


# --- RDS facts ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("properties", "replica", "cross_region"), [
    ({"DBInstanceIdentifier": "p"}, False, False),
    ({"SourceDBInstanceIdentifier": {"Ref": "Primary"}}, True, False),
    ({"SourceDBInstanceIdentifier": ARN, "SourceRegion": "eu-west-1"}, True, True),
    ({"SourceRegion": "eu-west-1"}, False, False),
], ids=["primary", "same-region replica", "cross-region replica", "SourceRegion alone"])
def test_a_replica_is_an_instance_with_a_source(properties: dict[str, Any], replica: bool,
                                                cross_region: bool) -> None:
    assert rds.is_replica(properties) is replica
    assert rds.is_cross_region_replica(properties) is cross_region
    # CloudFormation ignores a read replica's DeletionPolicy (removing it deletes it); a
    # standalone instance's, a promoted replica's included, applies.
    assert rds.deletion_policy_applies(properties) is not replica


@pytest.mark.parametrize(("value", "identifier"), [
    (ARN, "prod-mysql-primary"),
    (JOINED_ARN, "prod-mysql-primary"),
    ({"Fn::Join": ["", ["arn:aws:rds:eu-west-1:1:db:", {"Ref": "Primary"}]]}, None),
    ("arn:aws:rds:eu-west-1:123456789012:db:", None),
    ({"Ref": "Primary"}, None),
    ("prod-mysql-primary", None),
], ids=["literal ARN", "Fn::Join ARN", "identifier from a Ref", "no identifier", "a Ref",
        "a bare identifier"])
def test_the_identifier_at_the_end_of_a_source_arn(value: Any, identifier: str | None) -> None:
    assert rds.identifier_in_arn(value) == identifier


@pytest.mark.parametrize(("family", "name", "value"), [
    ("mysql8.0", "require_secure_transport", "1"),
    ("mysql", "require_secure_transport", "1"),
    ("mariadb10.11", "require_secure_transport", "1"),
    ("postgres16", "rds.force_ssl", "1"),
])
def test_the_tls_parameter_of_each_engine_family(family: str, name: str, value: str) -> None:
    tls = rds.tls_parameter(family)
    assert (tls.name, tls.value) == (name, value)
    assert tls.enforced_by(tls.value)


def test_fails_tls_parameter_of_an_unknown_family_names_the_value() -> None:
    with pytest.raises(ValueError, match=r"'sqlserver-ee-16.00': one of mysql, mariadb, postgres"):
        rds.tls_parameter("sqlserver-ee-16.00")


@pytest.mark.parametrize(("family", "value", "enforced"), [
    ("mysql8.0", "ON", True), ("mysql8.0", "on", True), ("mysql8.0", "1", True),
    ("mysql8.0", "off", False), ("mysql8.0", "0", False), ("mysql8.0", None, False),
    ("postgres16", "1", True), ("postgres16", "ON", True), ("postgres16", "0", False),
    ("postgres16", "off", False),
])
def test_tls_is_enforced_by_the_values_rds_reads_as_on(family: str, value: Any,
                                                       enforced: bool) -> None:
    assert rds.tls_parameter(family).enforced_by(value) is enforced


# --- the manifest -------------------------------------------------------------------------------

@pytest.mark.parametrize(("environment", "expected"), [
    ("aws://123456789012/eu-west-1", ("123456789012", "eu-west-1")),
    ("aws://unknown-account/unknown-region", (None, None)),
    ("aws://unknown-account/us-east-1", (None, "us-east-1")),
    ("aws://123456789012/unknown-region", ("123456789012", None)),
    ("", (None, None)),
])
def test_split_environment(environment: str, expected: tuple[str | None, str | None]) -> None:
    assert split_environment(environment) == expected


def test_fails_to_load_a_directory_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match=r"is not a cloud assembly \(no manifest.json\); "
                                            r"synthesize first \(`cdk synth`\)"):
        CloudAssembly.load(tmp_path)


def test_a_synthesized_assembly_lists_its_stacks_regions_and_dependencies(
        cdk_out: dict[str, Path], environments: dict[str, Synthesized]) -> None:
    stacks = environments["local"].stacks
    assert stacks.dr is not None
    assembly = CloudAssembly.load(cdk_out["local"])
    assert sorted(s.name for s in assembly.stacks) == sorted(s.stack_name for s in stacks.all)
    assert assembly.regions == {
        stacks.network.stack_name: "us-east-1", stacks.database.stack_name: "us-east-1",
        stacks.dr.network.stack_name: "us-west-2", stacks.dr.foundation.stack_name: "us-west-2",
        stacks.dr.replica.stack_name: "us-west-2"}
    database = assembly.stack(stacks.database.stack_name)
    assert database.path == stacks.database.node.path
    assert set(database.dependencies) == {stacks.network.artifact_id,
                                          stacks.dr.foundation.artifact_id}
    assert database.template == environments["local"].templates[database.name]
    assert CloudAssembly.containing(database.template_file)[1] == database


def test_an_environment_agnostic_stack_has_no_region(cdk_out: dict[str, Path]) -> None:
    assembly = CloudAssembly.load(cdk_out["dev"])
    assert assembly.stacks
    assert set(assembly.regions.values()) == {None}
    assert {s.account for s in assembly.stacks} == {None}


def test_fails_to_find_a_stack_or_template_the_assembly_does_not_hold(
        cdk_out: dict[str, Path]) -> None:
    assembly = CloudAssembly.load(cdk_out["dev"])
    with pytest.raises(AssemblyError, match=r"stack 'Nope' is not in .*; it holds RedundantDb-"):
        assembly.stack("Nope")
    with pytest.raises(AssemblyError, match=r"Nope.template.json: no stack of .*manifest.json"):
        assembly.stack_with_template(cdk_out["dev"] / "Nope.template.json")


def test_the_tree_lists_every_construct_with_its_l1_properties(
        cdk_out: dict[str, Path], environments: dict[str, Synthesized]) -> None:
    assembly = CloudAssembly.load(cdk_out["local"])
    tree = assembly.tree()
    assert tree
    assert [node.path for node in tree] == [
        c.node.path for c in environments["local"].app.node.find_all()]
    instances = [node for node in tree if node.type == rds.DB_INSTANCE]
    assert instances and all(node.props for node in instances)
    template = assembly.stacks[0].template_file
    assert assembly_with_tree(template) == assembly
