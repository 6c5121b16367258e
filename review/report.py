"""Render one environment's review as Markdown: facts, a Mermaid topology, and the change set.

The same text serves the pull request (Markdown, with the diagram) and the terminal (the diagram
left out: a terminal cannot draw it). The change section comes last and leads with the guard's
verdict, so the one thing that must not be missed is a heading, not a table cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from review.allowlist import AllowEntry, Verdict
from review.diff import Change
from review.facts import Environment, Node, Section
from review.guard import Finding
from review.stateful import STATEFUL_TYPES


@dataclass(frozen=True, kw_only=True)
class Review:
    """Everything one environment's report shows."""

    environment: Environment
    baseline_source: str
    changes: tuple[Change, ...]
    verdict: Verdict
    stale_entries: tuple[AllowEntry, ...]
    new_stacks: tuple[str, ...] = ()
    gate_error: str | None = None
    promotion: str | None = None  # the promotion config/topology.json declares, described
    upgrade: tuple[str, ...] = ()  # the deploy's engine-version changes, in CloudFormation's order

    @property
    def passed(self) -> bool:
        return self.verdict.passed and not self.stale_entries


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(str(c)) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _section(section: Section) -> str:
    parts = [f"### {section.title}"]
    if section.rows:
        parts.append(table(section.headers, section.rows))
    elif section.headers:
        parts.append("_none_")
    if section.notes:
        parts.append("\n".join(f"- {note}" for note in section.notes))
    return "\n\n".join(parts)


def _label(text: str) -> str:
    """Mermaid label text: no double quotes, line breaks as <br/>."""
    return text.replace('"', "'").replace("\n", "<br/>")


_SHAPES = {"database": ('[("', '")]'), "key": ('{{"', '"}}'), "secret": ('[/"', '"/]'),
           "vault": ('[("', '")]')}


def _node(node: Node) -> str:
    opening, closing = _SHAPES[node.shape]
    return f"{node.id}{opening}{_label(node.label)}{closing}"


def mermaid(env: Environment) -> str:
    """A flowchart: one box per region holding its VPC (with the AZs) and instances, and the
    keys, secrets and vaults of that region; replication, encryption, credentials and backup
    edges between them."""
    lines = ["```mermaid", "flowchart LR"]
    for n, region in enumerate(env.regions):
        lines.append(f'  subgraph region_{n}["{_label(f"Region {region.name}")}"]')
        members = [node for node in env.nodes if node.region == region.name]
        in_vpc = [node for node in members if node.in_vpc]
        if in_vpc:
            vpc = (f"VPC {', '.join(region.vpc_cidrs) or '-'}: isolated subnets in "
                   f"{', '.join(region.availability_zones) or 'the region'}")
            lines.append(f'    subgraph vpc_{n}["{_label(vpc)}"]')
            lines += [f"      {_node(node)}" for node in in_vpc]
            lines.append("    end")
        lines += [f"    {_node(node)}" for node in members if not node.in_vpc]
        lines.append("  end")
    for edge in env.edges:
        label = _label(edge.label)
        arrow = f'-. "{label}" .->' if edge.dotted else f'-- "{label}" -->'
        lines.append(f"  {edge.source} {arrow} {edge.target}")
    lines.append("```")
    return "\n".join(lines)


def _risk(change: Change, findings: dict[tuple[str, str], list[Finding]],
          allowed: dict[tuple[str, str], list[tuple[Finding, AllowEntry]]]) -> str:
    key = (change.stack, change.logical_id)
    marks = [f"**DATA LOSS** ({f.property}): {f.consequence}" for f in findings.get(key, [])
             if f.blocking]
    marks += [f"allowed data loss ({f.property}): {e.reason}" for f, e in allowed.get(key, [])]
    marks += [f"note ({f.property}): {f.consequence}" for f in findings.get(key, [])
              if not f.blocking]
    if not marks and change.action == "modified" and change.resource_type in STATEFUL_TYPES:
        marks.append("updated in place (no create-only property or policy change)")
    return "<br/>".join(marks) or "-"


def changes_section(review: Review) -> str:
    verdict = review.verdict
    findings: dict[tuple[str, str], list[Finding]] = {}
    for f in (*verdict.blocking, *verdict.notes):
        findings.setdefault((f.stack, f.resource), []).append(f)
    allowed: dict[tuple[str, str], list[tuple[Finding, AllowEntry]]] = {}
    for f, e in verdict.allowed:
        allowed.setdefault((f.stack, f.resource), []).append((f, e))
    status = ("PASSED: no stateful resource is deleted or replaced without an allow entry"
              if verdict.passed else
              f"FAILED: {len(verdict.blocking)} change(s) delete or replace stored data")
    parts = [f"### Changes against the {review.baseline_source}",
             f"**Data-loss guard: {status}.**"]
    if review.promotion:
        parts.append(f"**Declared topology change** (config/topology.json): {review.promotion}")
    if review.upgrade:
        parts.append("**Engine upgrade**, in the order CloudFormation runs it (a writer before "
                     "its replicas, the DR replica's stack last):\n" + "\n".join(
                         f"{n}. {line}" for n, line in enumerate(review.upgrade, 1)))
    if verdict.blocking:
        parts.append("\n".join(f"- {f.message()}" for f in verdict.blocking))
        parts.append("If a replacement is intended, add a reviewed entry to "
                     "`tests/data_loss_allowlist.toml` (see docs/review.md):\n\n"
                     "```toml\n" + "\n\n".join(f.allow_entry_toml() for f in verdict.blocking)
                     + "\n```")
    if review.stale_entries:
        parts.append("**Stale allow-list entries** (allow nothing pending and do not hold; "
                      "delete or correct them):\n"
                      + "\n".join(f"- {e.describe()}" for e in review.stale_entries))
    if review.new_stacks:
        parts.append(f"New stacks (no snapshot yet): {', '.join(review.new_stacks)}.")
    if verdict.allowed:
        parts.append("Allowed data loss (reviewed entries of the allow-list):\n" + "\n".join(
            f"- {f.message()}\n  - reason: {e.reason}" for f, e in verdict.allowed))
    changes = list(review.changes)
    listed = {(c.stack, c.logical_id) for c in changes}
    # A finding can sit on a resource whose own text did not change: MasterUsername is resolved
    # through the secret it references. Show that resource too, so the table is complete.
    for f in (*verdict.blocking, *(f for f, _ in verdict.allowed), *verdict.notes):
        if (f.stack, f.resource) not in listed:
            listed.add((f.stack, f.resource))
            changes.append(Change(stack=f.stack, logical_id=f.resource,
                                  resource_type=f.resource_type, action="modified",
                                  details=(f"{f.property} (resolved through a reference)",)))
    if not changes:
        parts.append("No resource changes.")
        return "\n\n".join(parts)
    counts = {a: sum(1 for c in changes if c.action == a)
              for a in ("added", "removed", "modified")}
    parts.append(", ".join(f"{n} {a}" for a, n in counts.items()) + ".")
    parts.append(table(
        ("stack", "resource", "type", "change", "changed", "replacement / data-loss risk"),
        [(c.stack, c.logical_id, c.resource_type, c.action, ", ".join(c.details) or "-",
          _risk(c, findings, allowed)) for c in changes]))
    return "\n\n".join(parts)


def render(review: Review, *, diagram: bool = True) -> str:
    """The Markdown review of one environment; `diagram=False` for the terminal."""
    env = review.environment
    where = "; ".join(f"{r.name}: VPC {', '.join(r.vpc_cidrs) or '-'} in "
                      f"{', '.join(r.availability_zones) or '-'}" for r in env.regions)
    parts = [f"## Environment `{env.name}`",
             f"Account {env.account}. Regions (from the cloud assembly's manifest: a template "
             f"does not say where it deploys): {where}."]
    if review.gate_error:
        parts.append(f"**Policy gate: REFUSED the synthesis** ({review.gate_error}). The review "
                     "below was synthesized without the gate; `make synth` shows the findings.")
    if diagram:
        parts.append(mermaid(env))
    parts += [_section(section) for section in env.sections]
    parts.append(changes_section(review))
    return "\n\n".join(parts) + "\n"
