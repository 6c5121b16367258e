"""One environment's review from its synthesized templates: the code path shared by
`python -m review` and the tests, so what the tests check is what `make review` prints."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Token

import config
from review.allowlist import AllowEntry, judge, stale_entries
from review.diff import Change, diff_stack
from review.facts import describe
from review.guard import Finding, find_data_loss
from review.normalize import normalize
from review.report import Review
from review.snapshots import Baseline

DEPLOY_TIME_REGION = "deploy-time region"


@functools.lru_cache(maxsize=None)
def stack_regions(env: str) -> dict[str, str]:
    """{stack name: region} of environment `env`, from the app's stacks (templates do not say
    where they deploy). Builds the construct tree without synthesizing (~0.1 s, once per env)."""
    from app import build_app

    _, stacks = build_app(env, gate=False)
    return {stack.stack_name: DEPLOY_TIME_REGION if Token.is_unresolved(stack.region)
            else stack.region for stack in stacks.all}


def review_environment(*, env: str, templates: Mapping[str, Mapping[str, Any]],
                       baseline: Baseline, entries: Sequence[AllowEntry],
                       gate_error: str | None = None,
                       regions: Mapping[str, str] | None = None) -> Review:
    """Compare `templates` ({stack: raw or normalized template}) with `baseline` and describe them.

    Allow-list entries are judged against this environment's stacks only. `gate_error` is the
    policy gate's refusal, when the templates had to be synthesized without it. `regions`
    ({stack: region}) defaults to the app's own.
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
        findings += find_data_loss(stack=stack, old=old, new=new)
        changes += diff_stack(stack=stack, old=old, new=new)
    environment = describe(
        name=env, account=cfg.account, termination_protection=cfg.termination_protection,
        templates=current, regions=stack_regions(env) if regions is None else regions)
    return Review(
        environment=environment, baseline_source=baseline.source, changes=tuple(changes),
        verdict=judge(findings=findings, entries=entries),
        stale_entries=stale_entries(entries=entries, findings=findings, templates=current),
        new_stacks=tuple(new_stacks), gate_error=gate_error)
