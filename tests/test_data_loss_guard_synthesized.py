"""The data-loss guard on real syntheses: the committed state passes (every allow-list entry
still meaning something), real code and config changes are found as the guard's own cases
(tests/test_data_loss_guard.py) predict, and a promotion declared in config/topology.json is
told apart from a replacement.

These tests synthesize (the session's gated templates, or the app's own path without the gate),
so they run in `make test` and not in `make mutation`, whose forked children cannot use jsii.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import config
from app import synthesize
from cloud_assembly import rds
from config.naming import APP_NAME
from constructs_lib import redundant_database
from review.allowlist import judge, load, stale_entries
from review.guard import LOGICAL_ID, Finding, find_data_loss
from review.normalize import normalize
from review.snapshots import ALLOWLIST_PATH, SNAPSHOT_ROOT, load_baseline
from tests.test_data_loss_guard import DEV, DEV_DB, NEW_USER, PROD_DB, Template, primary


@pytest.fixture(scope="module")
def normalized(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    """{stack: normalized template} of every environment (read-only: copy before mutating).

    The session's gated templates; if the policy gate refuses them, an ungated synthesis. A
    renamed construct breaks the gate (acknowledgments name construct paths) before the guard
    could say which database that replaces; this keeps the guard's message in `make test`.
    """
    try:
        templates = request.getfixturevalue("templates")
    except Exception as error:  # noqa: BLE001 - whatever the gate raised, the guard still runs
        warnings.warn(f"policy gate refused the synthesis ({type(error).__name__}); the "
                      "data-loss guard runs on an ungated synthesis", stacklevel=1)
        return {stack.name: normalize(stack.template) for env in config.ENVIRONMENTS
                for stack in synthesize(env, tmp_path_factory.mktemp(f"ungated-{env}"),
                                        gate=False).stacks}
    return {stack: normalize(t) for stacks in templates.values() for stack, t in stacks.items()}


# --- real re-synthesis -------------------------------------------------------------------------

def _synth_dev(tmp_path: Path) -> Template:
    """The dev database template through the app's own path, without the policy gate: its
    acknowledgments name construct paths, which a rename changes on purpose."""
    return normalize(synthesize("dev", tmp_path, gate=False).stack(DEV_DB).template)


@pytest.fixture
def renamed_primary(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Build the primary under the construct id 'Writer' instead of 'Primary'."""
    original = redundant_database.PrimaryDatabase

    def renamed(scope: Any, construct_id: str, **kwargs: Any) -> Any:
        return original(scope, "Writer" if construct_id == "Primary" else construct_id, **kwargs)

    monkeypatch.setattr(redundant_database, "PrimaryDatabase", renamed)
    yield


@pytest.mark.usefixtures("renamed_primary")
def test_renaming_the_primary_construct_for_real_is_found(
        normalized: dict[str, Template], tmp_path: Path) -> None:
    new = _synth_dev(tmp_path)
    findings = find_data_loss(stack=DEV_DB, old=normalized[DEV_DB], new=new)
    by_label = {(f.label, f.property): f for f in findings}
    renamed = by_label[(f"database {DEV.instance_identifier('primary')}", LOGICAL_ID)]
    assert renamed.new.startswith("DatabaseWriterInstance")
    assert "replaces the database" in renamed.message()
    # The replica follows its source: a new primary means a re-created replica.
    assert (f"database {DEV.instance_identifier('replica-1')}",
            "SourceDBInstanceIdentifier") in by_label
    # The primary's log groups and subnet group are replaced with it.
    assert {f.resource_type for f in findings} >= {"AWS::Logs::LogGroup", "AWS::RDS::DBSubnetGroup"}


def test_changing_the_master_username_in_config_for_real_is_found(
        normalized: dict[str, Template], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(config.ENVIRONMENTS, "dev", dataclasses.replace(
        config.ENVIRONMENTS["dev"], master_username=NEW_USER))
    new = _synth_dev(tmp_path)
    findings = find_data_loss(stack=DEV_DB, old=normalized[DEV_DB], new=new)
    assert [(f.label, f.property, f.old, f.new) for f in findings] == [
        (f"database {DEV.instance_identifier('primary')}", "MasterUsername", DEV.master_username,
         NEW_USER)]



# --- the committed state -----------------------------------------------------------------------

def test_current_synthesis_loses_no_data_against_the_committed_snapshots(
        normalized: dict[str, Template]) -> None:
    """The acceptance gate: a rename or a create-only change fails `make test` here, by name."""
    baseline = load_baseline(stacks=normalized, stack_prefix=f"{APP_NAME}-")
    findings = [f for stack, old in baseline.templates.items()
                for f in find_data_loss(stack=stack, old=old, new=normalized.get(stack))]
    verdict = judge(findings=findings, entries=load(ALLOWLIST_PATH))
    assert verdict.passed, (
        f"the data-loss guard fired against the {baseline.source}:\n"
        + "\n".join(f"- {f.message()}" for f in verdict.blocking)
        + f"\nIf intended, add a reviewed entry to {ALLOWLIST_PATH}, e.g.:\n\n"
        + "\n\n".join(f.allow_entry_toml() for f in verdict.blocking))


def test_the_allow_list_lives_outside_syrupys_directory() -> None:
    """syrupy reports unknown files under __snapshots__ as unused and deletes them on update."""
    assert SNAPSHOT_ROOT not in ALLOWLIST_PATH.parents


def test_every_allow_list_entry_still_means_something(normalized: dict[str, Template]) -> None:
    entries = load(ALLOWLIST_PATH)
    baseline = load_baseline(stacks=normalized, stack_prefix=f"{APP_NAME}-")
    findings = [f for stack, old in baseline.templates.items()
                for f in find_data_loss(stack=stack, old=old, new=normalized.get(stack))]
    stale = stale_entries(entries=entries, findings=findings, templates=normalized)
    assert not stale, (f"{ALLOWLIST_PATH}: these entries allow no pending change and do not hold "
                       "in the current synthesis; delete or correct them:\n"
                       + "\n".join(f"- {e.describe()}" for e in stale))
    unknown = {e.stack for e in entries} - set(normalized)
    assert not unknown, f"{ALLOWLIST_PATH}: entries name stacks that do not exist: {unknown}"



# --- a promotion declared in config/topology.json ------------------------------------------------

def _generations(env: str, writer: str, region: str | None,
                 tmp_path: Path) -> tuple[config.DatabaseConfig, dict[str, Template],
                                          dict[str, Template], dict[str, str | None]]:
    """(config of the promoted topology, templates before, after, regions), as `make review`
    compares them: the previous generation synthesized with the same code."""
    import os

    from config.topology import TOPOLOGY_FILE_VARIABLE

    topology = tmp_path / "topology.json"
    entry = {"writer": writer, **({"region": region} if region else {})}
    before = os.environ[TOPOLOGY_FILE_VARIABLE]
    try:
        os.environ[TOPOLOGY_FILE_VARIABLE] = str(tmp_path / "none.json")
        old = synthesize(env, tmp_path / "old", gate=False)
        topology.write_text(json.dumps({env: {"promotions": [entry]}}))
        os.environ[TOPOLOGY_FILE_VARIABLE] = str(topology)
        new = synthesize(env, tmp_path / "new", gate=False)
        cfg = config.load(env)
    finally:
        os.environ[TOPOLOGY_FILE_VARIABLE] = before
    return (cfg, {s.name: normalize(s.template) for s in old.stacks},
            {s.name: normalize(s.template) for s in new.stacks}, new.regions)


@pytest.fixture(scope="module")
def promoted_prod(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, ...]:
    return _generations("prod", "prod-mysql-replica-2", "eu-west-1",
                        tmp_path_factory.mktemp("promoted-prod"))


def _declared_findings(generations: tuple[Any, ...]) -> list[Finding]:
    from review.pipeline import declared_promotion

    cfg, old, new, _ = generations
    declared = declared_promotion(cfg.layout)
    return [f for stack in sorted(set(old) | set(new))
            for f in find_data_loss(stack=stack, old=old.get(stack), new=new.get(stack),
                                    declared=declared)]


def test_a_declared_promotion_is_an_in_place_promotion_and_nothing_is_lost(
        promoted_prod: tuple[Any, ...]) -> None:
    findings = _declared_findings(promoted_prod)
    assert [f for f in findings if f.blocking] == []
    [promotion] = [f for f in findings if f.property == rds.SOURCE]
    assert promotion.label == "database prod-mysql-replica-2"
    assert promotion.consequence.startswith(
        "the promotion config/topology.json declares: CloudFormation promotes "
        "prod-mysql-replica-2 in place (a brief interruption, no replacement, its data and "
        "automated backups kept); prod-mysql-primary is retired (kept outside the stack, "
        "deletion protection on); the replicas of prod-mysql-primary are replaced by replicas "
        "of prod-mysql-replica-2")
    removed = {f.label: f.consequence for f in findings if f.property == LOGICAL_ID}
    assert removed["database prod-mysql-primary"].startswith("retires prod-mysql-primary")
    assert removed["database prod-mysql-primary"].endswith(
        "until it is decommissioned: aws rds modify-db-instance --region eu-west-1 "
        "--db-instance-identifier prod-mysql-primary --no-deletion-protection --apply-immediately"
        " && aws rds delete-db-instance --region eu-west-1 --db-instance-identifier "
        "prod-mysql-primary --final-db-snapshot-identifier prod-mysql-primary-final, then list "
        "prod-mysql-primary under \"decommissioned\" in config/topology.json and deploy (its "
        "security group, parameter, option and subnet groups leave the stack)")
    for replaced in ("database prod-mysql-replica-1", "database prod-mysql-dr-replica"):
        assert removed[replaced].startswith("a replica of prod-mysql-primary replaced by a "
                                            "replica of prod-mysql-replica-2"), replaced
    assert len([f for f in findings if f.resource_type == rds.DB_INSTANCE]) == 4


@pytest.mark.parametrize(("mutate", "prop"), [
    (lambda props: props.update(StorageEncrypted=True), "StorageEncrypted"),
    (lambda props: props.update(MasterUsername="dbadmin"), "MasterUsername"),
    (lambda props: props.update(DBInstanceIdentifier="prod-mysql-writer"),
     "DBInstanceIdentifier"),
])
def test_fails_on_what_would_replace_the_promoted_writer(
        promoted_prod: tuple[Any, ...], mutate: Callable[[dict[str, Any]], None],
        prop: str) -> None:
    cfg, old, new, regions = promoted_prod
    new = copy.deepcopy(new)
    writer = next(r for r in new[PROD_DB]["Resources"].values()
                  if r["Properties"].get("DBInstanceIdentifier") == "prod-mysql-replica-2")
    mutate(writer["Properties"])
    blocking = [(f.property, f.consequence.split(":")[0])
                for f in _declared_findings((cfg, old, new, regions)) if f.blocking]
    assert blocking[0] == (prop, "replaces the database")
    # Renamed, it is no longer the writer the config declares: its promotion blocks too.
    assert blocking[1:] == ([(rds.SOURCE, "promotes a read replica that config/topology.json "
                                          "does not declare the writer")]
                            if prop == "DBInstanceIdentifier" else [])


def test_fails_when_the_retired_writer_was_deployed_with_a_deleting_policy(
        promoted_prod: tuple[Any, ...]) -> None:
    cfg, old, new, regions = promoted_prod
    old = copy.deepcopy(old)
    primary(old[PROD_DB])["DeletionPolicy"] = "Snapshot"
    blocking = [f for f in _declared_findings((cfg, old, new, regions)) if f.blocking]
    assert [(f.label, f.property) for f in blocking] == [("database prod-mysql-primary",
                                                          LOGICAL_ID)]
    assert "deletes the database after a final snapshot" in blocking[0].consequence


def test_review_report_shows_one_promotion_and_no_replacement(
        promoted_prod: tuple[Any, ...]) -> None:
    from review.pipeline import declared_promotion, review_environment
    from review.report import render
    from review.snapshots import Baseline

    cfg, old, new, regions = promoted_prod
    review = review_environment(
        env="prod", templates=new, regions=regions,
        baseline=Baseline(source="generation 0", templates=old), entries=(),
        declared=declared_promotion(cfg.layout), promotion=cfg.layout.change)
    assert review.passed
    text = render(review, diagram=False)
    assert "**Data-loss guard: PASSED" in text
    assert ("**Declared topology change** (config/topology.json): env prod: generation 1: "
            "prod-mysql-replica-2 in eu-west-1 is the writer; prod-mysql-primary retired") in text
    assert text.count("CloudFormation promotes prod-mysql-replica-2 in place") == 1
    assert "DATA LOSS" not in text and "replaces the database" not in text
