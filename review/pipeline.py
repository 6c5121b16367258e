"""One environment's review from its synthesized templates: the code path shared by
`python -m review` and the tests, so what the tests check is what `make review` prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import config
from config.naming import stack_name
from config.topology import DATABASE_STACK, Layout, Member, decommission_commands
from review.allowlist import AllowEntry, judge, stale_entries
from review.diff import Change, diff_stack
from review.facts import describe
from review.guard import (
    DeclaredDrRebuild,
    DeclaredPromotion,
    Finding,
    find_data_loss,
    find_upgrade_problems,
)
from review.normalize import normalize
from review.report import Review
from review.snapshots import Baseline


def logical_prefix(member: Member) -> str:
    """The start of the logical ids of `member`'s construct: the database stack holds its
    members under its `Database` node; the DR stack under `Default`, which CDK leaves out."""
    return ("Database" if member.stack == DATABASE_STACK else "") + member.construct_id


def declared_dr_rebuild(layout: Layout) -> DeclaredDrRebuild | None:
    """What the DR rebuild phase that is `layout`'s newest change makes expected, for the guard
    (None: its newest change is no DR rebuild)."""
    if layout.rebuild is None:
        return None
    if layout.detached is not None:
        return DeclaredDrRebuild(detached=layout.detached.identifier)
    retired = layout.retired_dr_replica
    assert retired is not None
    return DeclaredDrRebuild(retired=retired.identifier,
                             decommission=decommission_commands(retired))


def declared_promotion(layout: Layout) -> DeclaredPromotion | None:
    """What the newest promotion of `layout` makes expected, for the guard (None: none, or a
    DR rebuild is newer: `declared_dr_rebuild`)."""
    old = layout.previous_writer
    if old is None or layout.rebuild is not None:
        return None
    replaced: dict[str, tuple[str, ...]] = {}
    for member in layout.replaced:
        name = stack_name(layout.env, member.stack)
        replaced[name] = (*replaced.get(name, ()), logical_prefix(member))
    moved: dict[str, tuple[str, ...]] = {}
    if old.stack != layout.writer.stack:  # the credentials moved with the writer
        moved[stack_name(layout.env, old.stack)] = (
            "DatabaseCredentials" if old.stack == DATABASE_STACK else "Credentials",)
    return DeclaredPromotion(writer=layout.writer.identifier, retired=old.identifier,
                             replaced=replaced, moved=moved,
                             decommission=decommission_commands(old))


def review_environment(*, env: str, templates: Mapping[str, Mapping[str, Any]],
                       regions: Mapping[str, str | None], baseline: Baseline,
                       entries: Sequence[AllowEntry],
                       gate_error: str | None = None,
                       declared: DeclaredPromotion | None = None,
                       rebuild: DeclaredDrRebuild | None = None,
                       promotion: str | None = None) -> Review:
    """Compare `templates` ({stack: raw or normalized template}) with `baseline` and describe them.

    `regions` ({stack: region, None for an environment-agnostic stack}) is the cloud
    assembly's (`CloudAssembly.regions`): templates do not say where they deploy. Allow-list
    entries are judged against this environment's stacks only. `gate_error` is the policy
    gate's refusal, when the templates had to be synthesized without it. `declared` and
    `promotion` (its description): the promotion config/topology.json declares between the
    baseline (then the previous generation's templates) and `templates`; `rebuild` likewise
    the DR rebuild phase (the baseline: the templates before that phase). Engine-version
    changes are judged across the stacks (`find_upgrade_problems`) and listed in
    CloudFormation's order.
    """
    cfg = config.load(env)
    current = {stack: normalize(dict(template)) for stack, template in templates.items()}
    findings: list[Finding] = []
    changes: list[Change] = []
    new_stacks: list[str] = []
    for stack in sorted(set(current) | set(baseline.templates)):
        old, new = baseline.templates.get(stack), current.get(stack)
        if old is None:
            new_stacks.append(stack)
            continue
        findings += find_data_loss(stack=stack, old=old, new=new, declared=declared,
                                   rebuild=rebuild)
        changes += diff_stack(stack=stack, old=old, new=new)
    upgrade = find_upgrade_problems(
        old={stack: t for stack, t in baseline.templates.items() if t is not None}, new=current)
    findings += upgrade.findings
    environment = describe(
        name=env, account=cfg.account, termination_protection=cfg.termination_protection,
        templates=current, regions=regions)
    return Review(
        environment=environment, baseline_source=baseline.source, changes=tuple(changes),
        verdict=judge(findings=findings, entries=entries),
        stale_entries=stale_entries(entries=entries, findings=findings, templates=current),
        new_stacks=tuple(new_stacks), gate_error=gate_error, promotion=promotion,
        upgrade=upgrade.lines)
