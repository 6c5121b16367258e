"""Compliance evidence for CI: a Markdown report and a SARIF 2.1.0 log per environment.

Sources: the Redundancy plugin's evaluations (every rule on every resource, in both views,
passes included) and CDK's `validation-report.json` (cdk-nag and CloudFormation validation
findings, and each acknowledged finding with its reason, the Redundancy plugin's included: an
evaluation CDK's acknowledgments settled shows as acknowledged, not failed).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy.model import Compliance
from policy.plugin import VERSION, Evaluation
from policy.rules import ALL_RULES
from policy.rules.lifecycle import ENGINE_IN_STANDARD_SUPPORT

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0-rtm.5.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


@dataclass(frozen=True)
class Finding:
    """One finding (failed or acknowledged) from CDK's validation report."""

    plugin: str
    rule: str
    severity: str
    description: str
    path: str
    template: str | None
    logical_id: str | None
    acknowledged_reason: str | None = None


def read_validation_report(path: Path) -> list[Finding]:
    if not path.exists():
        return []
    report = json.loads(path.read_text())
    findings = []
    for plugin in report.get("pluginReports", []):
        # The Redundancy plugin's own violations are reported from its evaluations (passes
        # included); only its acknowledged ones are read here.
        keys = (("suppressedViolations",) if plugin["pluginName"] == "Redundancy"
                else ("violations", "suppressedViolations"))
        for key in keys:
            for violation in plugin.get(key, []):
                for construct in violation.get("violatingConstructs", []):
                    cfn = construct.get("cloudFormationResource", {})
                    findings.append(Finding(
                        plugin=plugin["pluginName"], rule=violation["ruleName"],
                        severity=violation.get("severity", "error"),
                        description=violation.get("description", ""),
                        path=construct.get("constructPath", ""),
                        template=cfn.get("templatePath"), logical_id=cfn.get("logicalId"),
                        acknowledged_reason=violation.get("reason") if key.startswith(
                            "suppressed") else None))
    return findings


def _acknowledged(findings: list[Finding]) -> dict[tuple[str, str], str]:
    """{(finding id, construct path): reason} of the Redundancy findings CDK acknowledged."""
    return {(f.rule, f.path): f.acknowledged_reason for f in findings
            if f.plugin == "Redundancy" and f.acknowledged_reason}


def _status(e: Evaluation, acknowledged: dict[tuple[str, str], str]) -> str:
    if e.compliance is Compliance.NON_COMPLIANT and (e.finding_id, e.resource.path) in acknowledged:
        return "acknowledged"
    return {Compliance.COMPLIANT: "pass", Compliance.NON_COMPLIANT: "FAIL",
            Compliance.NOT_APPLICABLE: "n/a"}[e.compliance]


def markdown(env: str, evaluations: list[Evaluation], findings: list[Finding]) -> str:
    acknowledged = _acknowledged(findings)
    counts = Counter(_status(e, acknowledged) for e in evaluations)
    open_findings = [f for f in findings if f.acknowledged_reason is None
                     and f.severity == "error"]
    verdict = "PASS" if not counts["FAIL"] and not open_findings else "FAIL"
    lines = [
        f"# Compliance report: env `{env}` — {verdict}",
        "",
        f"Redundancy rules v{VERSION}: {counts['pass']} passed, {counts['FAIL']} failed, "
        f"{counts['acknowledged']} acknowledged, {counts['n/a']} not applicable (each rule on "
        "each resource, construct tree and template). cdk-nag packs and CloudFormation "
        f"validation: {len(open_findings)} open error(s), "
        f"{sum(1 for f in findings if f.acknowledged_reason and f.plugin != 'Redundancy')} "
        "acknowledged.",
        "",
        "## Redundancy rules",
        "",
        "| Rule | Resource | Construct tree | Template | Detail |",
        "|---|---|---|---|---|",
    ]
    rows: dict[tuple[str, str], dict[str, Evaluation]] = {}
    for e in evaluations:
        rows.setdefault((e.finding_id, e.resource.path), {})[e.view] = e
    for (finding_id, path), views in sorted(rows.items()):
        tree, template = views.get("construct tree"), views.get("template")
        detail = next((v.result.detail for v in (template, tree) if v and v.result.detail), "")
        lines.append(f"| {finding_id} | `{path}` | "
                     f"{_status(tree, acknowledged) if tree else '-'} | "
                     f"{_status(template, acknowledged) if template else '-'} | {detail} |")
    lines += ["", "## Engine versions and support windows", "",
              "Each DB instance's engine version and how long RDS standard support lasts for it "
              "(dates: cloud_assembly/engines.py), or the Extended Support chosen for it.", ""]
    lines += support_windows(evaluations, acknowledged) or ["No DB instance."]
    lines += ["", "## Open findings (cdk-nag, CloudFormation validation)", ""]
    others = [f for f in findings if f.acknowledged_reason is None]
    if others:
        lines += ["| Severity | Rule | Resource | Description |", "|---|---|---|---|"]
        lines += [f"| {f.severity} | {f.rule} | `{f.path}` | {f.description} |" for f in others]
    else:
        lines.append("None.")
    lines += ["", "## Acknowledged findings", "",
              "| Rule | Resource | Reason |", "|---|---|---|"]
    lines += [f"| {f.rule} | `{f.path}` | {f.acknowledged_reason} |"
              for f in findings if f.acknowledged_reason]
    lines += ["", "## Rules", ""]
    lines += [f"- **{rule.id}**: {rule.info} {rule.explanation}" for rule in ALL_RULES]
    return "\n".join(lines) + "\n"


def support_windows(evaluations: list[Evaluation],
                    acknowledged: dict[tuple[str, str], str]) -> list[str]:
    """A table row per DB instance of the template: its identifier and what
    `Redundancy-EngineInStandardSupport` found (version and support window, or the failure)."""
    found: dict[str, list[Evaluation]] = {}
    for e in evaluations:
        if e.rule is ENGINE_IN_STANDARD_SUPPORT and e.view == "template":
            found.setdefault(e.resource.path, []).append(e)
    if not found:
        return []
    lines = ["| Instance | Status | Engine version and support window |", "|---|---|---|"]
    for path, results in sorted(found.items()):
        identifier = results[0].resource.prop("DBInstanceIdentifier") or path
        statuses = {_status(e, acknowledged) for e in results}
        status = next((s for s in ("FAIL", "acknowledged", "pass", "n/a") if s in statuses))
        detail = "; ".join(e.result.detail for e in results if e.result.detail)
        lines.append(f"| `{identifier}` | {status} | {detail} |")
    return lines


def _location(template: str | None, logical_id: str | None, path: str) -> dict[str, Any]:
    location: dict[str, Any] = {
        "logicalLocations": [{"fullyQualifiedName": path, "kind": "resource"}]}
    if template:
        location["physicalLocation"] = {"artifactLocation": {"uri": Path(template).name,
                                                             "uriBaseId": "CDK_OUT"}}
    if logical_id:
        location["logicalLocations"].append({"name": logical_id, "kind": "object"})
    return location


def sarif(env: str, evaluations: list[Evaluation], findings: list[Finding],
          template_names: dict[str, str]) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one run for the Redundancy rules, one per other plugin."""
    redundancy_results = []
    kinds = {Compliance.COMPLIANT: "pass", Compliance.NON_COMPLIANT: "fail",
             Compliance.NOT_APPLICABLE: "notApplicable"}
    acknowledged = _acknowledged(findings)
    for e in evaluations:
        failed = e.compliance is Compliance.NON_COMPLIANT
        reason = acknowledged.get((e.finding_id, e.resource.path)) if failed else None
        finding = f" [{e.result.finding}]" if e.result.finding else ""
        redundancy_results.append({
            "ruleId": e.rule.id,
            "kind": kinds[e.compliance],
            "level": "error" if failed else "none",
            "message": {"text": f"[env={env}] [{e.view}]{finding} {e.rule.info} "
                                f"{e.result.detail}".strip()},
            "locations": [_location(template_names.get(e.stack), e.resource.logical_id,
                                    e.resource.path)],
            **({"suppressions": [{"kind": "external", "status": "accepted",
                                  "justification": reason}]} if reason else {}),
        })
    runs = [{
        "tool": {"driver": {
            "name": "Redundancy", "version": VERSION,
            "informationUri": "https://github.com/aws/aws-cdk",
            "rules": [{"id": r.id, "shortDescription": {"text": r.info},
                       "fullDescription": {"text": r.explanation},
                       "defaultConfiguration": {"level": "error"}} for r in ALL_RULES],
        }},
        "originalUriBaseIds": {"CDK_OUT": {"uri": "cdk.out/"}},
        "results": redundancy_results,
    }]
    for plugin in sorted({f.plugin for f in findings if f.plugin != "Redundancy"}):
        mine = [f for f in findings if f.plugin == plugin]
        rules = sorted({f.rule for f in mine})
        runs.append({
            "tool": {"driver": {"name": plugin, "rules": [
                {"id": rule, "shortDescription": {"text": next(
                    f.description for f in mine if f.rule == rule)[:1000] or rule}}
                for rule in rules]}},
            "originalUriBaseIds": {"CDK_OUT": {"uri": "cdk.out/"}},
            "results": [{
                "ruleId": f.rule,
                "kind": "fail",
                "level": _LEVEL.get(f.severity, "warning"),
                "message": {"text": f"[env={env}] {f.description}"},
                "locations": [_location(f.template, f.logical_id, f.path)],
                **({"suppressions": [{"kind": "external", "status": "accepted",
                                      "justification": f.acknowledged_reason}]}
                   if f.acknowledged_reason else {}),
            } for f in mine],
        })
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}


def write_reports(*, env: str, evaluations: list[Evaluation], cdk_out: Path,
                  out_dir: Path, template_names: dict[str, str]) -> tuple[Path, Path]:
    """Write `<out_dir>/<env>.md` and `<out_dir>/<env>.sarif`; return their paths.

    The App may hold other environments too (`-c env=all`): only this environment's
    evaluations and its stacks' findings (`template_names`) are reported."""
    evaluations = [e for e in evaluations if e.environment == env]
    findings = [f for f in read_validation_report(cdk_out / "validation-report.json")
                if f.path.split("/", 1)[0] in template_names]
    out_dir.mkdir(parents=True, exist_ok=True)
    md_path = out_dir / f"{env}.md"
    sarif_path = out_dir / f"{env}.sarif"
    md_path.write_text(markdown(env, evaluations, findings))
    # Not indented: json's C encoder writes it ~10x faster, and no human reads it raw.
    sarif_path.write_text(json.dumps(sarif(env, evaluations, findings, template_names)) + "\n")
    return md_path, sarif_path
