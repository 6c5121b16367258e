"""Platform teams run checkov over every CloudFormation template: so does `make test`, over every
environment's templates as synthesized through the gate, and holds what it reports to the
acknowledgment register (`policy.acknowledgments.scanner_skips_for`). Its SARIF joins the
compliance evidence CI uploads (build/compliance/checkov.sarif).

checkov runs from its own venv (`make checkov`, requirements-checkov.txt), named by $CHECKOV.
One scan (checkov takes ~6 s of CPU to start) over two copies of the templates: as synthesized
(no finding may be left, every register entry must be read as a suppression) and the resources
that carry the scanners' metadata, without it (every register entry must still be a finding: no
stale entry). The register's checks are checks of one resource each (`CKV_AWS_*`, no graph
check), so a resource scanned alone fails them as it would in its template; every other resource
is the same in both copies, so scanning it once, as synthesized, proves as much (~0.3 s of CPU a
template). The SARIF evidence is checkov's, with the results of the second copy left out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cloud_assembly import CloudAssembly
from policy.acknowledgments import ScannerSkip, scanner_skips_for
from tests.conftest import Synthesized

ROOT = Path(__file__).resolve().parents[1]
CHECKOV = Path(os.environ.get("CHECKOV") or ROOT / "build" / "checkov-venv" / "bin" / "checkov")
EVIDENCE = ROOT / "build" / "compliance" / "checkov.sarif"
SARIF_SCHEMA = json.loads((ROOT / "policy" / "schemas" / "sarif-2.1.0-rtm.5.json").read_text())
SCANNER_METADATA = ("checkov", "guard")
# Without the mapping download and the guidelines, checkov needs no network.
CHECKOV_ENV = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
CHECKOV_ARGS = ("--framework", "cloudformation", "--skip-download", "--compact")

Key = tuple[str, str, str, str]  # (env, stack, logical id, checkov check id)


@dataclass(frozen=True, repr=False)  # a failing assertion shows the sets it compares
class Scans:
    register: dict[Key, ScannerSkip]
    failed: set[Key]  # findings on the templates as synthesized
    skipped: dict[Key, str]  # checks skipped there by template metadata: their comment
    unsuppressed: set[Key]  # the register's checks that fail once the metadata is removed
    sarif: dict[str, Any]


def _resources(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from (template.get("Resources") or {}).items()


def _register(environments: dict[str, Synthesized]) -> dict[Key, ScannerSkip]:
    """The register's entries keyed as checkov reports them."""
    out: dict[Key, ScannerSkip] = {}
    for env, s in environments.items():
        where = {body["Metadata"]["aws:cdk:path"]: (stack, logical_id)
                 for stack, template in s.templates.items()
                 for logical_id, body in _resources(template)
                 if "aws:cdk:path" in (body.get("Metadata") or {})}
        for skip in scanner_skips_for(s.stacks):
            stack, logical_id = where[skip.path]
            out[(env, stack, logical_id, skip.checkov)] = skip
    return out


SYNTHESIZED, UNSUPPRESSED = "synthesized", "unsuppressed"  # the two copies, side by side


def _copy_templates(cdk_out: dict[str, Path], target: Path) -> None:
    """Every stack's template as synthesized under target/synthesized/<env>/, and under
    target/unsuppressed/<env>/ the same stack with only the resources that carry scanners'
    metadata, without it (no file for a stack that has none)."""
    for env, outdir in cdk_out.items():
        for copy in (SYNTHESIZED, UNSUPPRESSED):
            (target / copy / env).mkdir(parents=True)
        for stack in CloudAssembly.load(outdir).stacks:
            text = stack.template_file.read_text()
            (target / SYNTHESIZED / env / f"{stack.name}.template.json").write_text(text)
            template = json.loads(text)
            skipped = {}
            for logical_id, body in _resources(template):
                metadata = body.get("Metadata") or {}
                if any(key in metadata for key in SCANNER_METADATA):
                    for key in SCANNER_METADATA:
                        metadata.pop(key, None)
                    skipped[logical_id] = body
            if skipped:
                (target / UNSUPPRESSED / env / f"{stack.name}.template.json").write_text(
                    json.dumps({"Resources": skipped}))


def _copy_of(file_path: str) -> str:
    """Which copy a reported file is in (SYNTHESIZED or UNSUPPRESSED)."""
    return Path(file_path).parts[-3]


def _key(result: dict[str, Any]) -> Key:
    env, file_name = Path(result["file_path"]).parts[-2:]
    return (env, file_name.removesuffix(".template.json"),
            result["resource"].rsplit(".", 1)[1], result["check_id"])


def _results(report: Any, kind: str, copy: str) -> list[dict[str, Any]]:
    """The results of `kind` on the templates of `copy` (checkov's JSON report is one object
    per framework, or a list of them)."""
    reports = report if isinstance(report, list) else [report]
    return [r for each in reports for r in each["results"].get(kind, [])
            if _copy_of(r["file_path"]) == copy]


def _synthesized_only(sarif: dict[str, Any]) -> dict[str, Any]:
    """checkov's SARIF without the results on the copies without metadata."""
    for run in sarif["runs"]:
        run["results"] = [
            r for r in run["results"]
            if all(_copy_of(location["physicalLocation"]["artifactLocation"]["uri"])
                   == SYNTHESIZED for location in r["locations"])]
    return sarif


@pytest.fixture(scope="module")
def scans(environments: dict[str, Synthesized], cdk_out: dict[str, Path],
          tmp_path_factory: pytest.TempPathFactory) -> Scans:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is not installed at {CHECKOV}: `make checkov` installs it "
                    "(requirements-checkov.txt)")
    register = _register(environments)
    work = tmp_path_factory.mktemp("checkov")
    _copy_templates(cdk_out, work / "templates")
    run = subprocess.run(  # noqa: S603 - our own pinned checkov
        [str(CHECKOV), "-d", str(work / "templates"), *CHECKOV_ARGS, "-o", "json",
         "-o", "sarif", "--output-file-path", str(work / "report")],
        env=CHECKOV_ENV, capture_output=True, text=True, timeout=600, check=False)
    if run.returncode not in (0, 1):  # 1: failed checks, judged by the tests below
        pytest.fail(f"checkov exited {run.returncode}: {run.stderr[-2000:]}")
    report = json.loads((work / "report" / "results_json.json").read_text())
    sarif = _synthesized_only(json.loads(
        (work / "report" / "results_sarif.sarif").read_text()))
    EVIDENCE.parent.mkdir(parents=True, exist_ok=True)
    EVIDENCE.write_text(json.dumps(sarif, indent=2))
    checks = {key[3] for key in register}
    return Scans(
        register=register,
        failed={_key(r) for r in _results(report, "failed_checks", SYNTHESIZED)},
        skipped={_key(r): r["check_result"]["suppress_comment"]
                 for r in _results(report, "skipped_checks", SYNTHESIZED)},
        unsuppressed={_key(r) for r in _results(report, "failed_checks", UNSUPPRESSED)
                      if r["check_id"] in checks},
        sarif=sarif)


def test_checkov_reports_nothing_the_register_does_not_explain(scans: Scans) -> None:
    assert not scans.failed, (
        "checkov findings that no entry of policy.acknowledgments.scanner_skips_for explains "
        f"(fix them, or register a check that does not apply): {sorted(scans.failed)}")


def test_checkov_reads_every_register_entry_from_the_templates(scans: Scans) -> None:
    assert scans.skipped == {key: skip.reason for key, skip in scans.register.items()}


def test_every_register_entry_is_a_checkov_finding(scans: Scans) -> None:
    stale = sorted(set(scans.register) - scans.unsuppressed)
    assert not stale, f"register entries checkov no longer reports (remove them): {stale}"
    assert scans.unsuppressed == set(scans.register)


def test_the_register_skips_no_check_on_our_own_resources_but_replica_encryption(
        scans: Scans) -> None:
    """Apart from aws-cdk-lib's own provider function, the only checks that do not apply are
    the ones CloudFormation itself forbids: StorageEncrypted on a read replica."""
    for (_, _, _, check), skip in scans.register.items():
        if skip.path.endswith("/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler"):
            continue
        assert (check, skip.guard) == ("CKV_AWS_16", "RDS_STORAGE_ENCRYPTED"), skip
        assert re.search(r"/Replica\d*/Instance/Resource$", skip.path), skip
        assert "CloudFormation rejects StorageEncrypted" in skip.reason


def test_cfn_guard_reads_the_same_register(environments: dict[str, Synthesized]) -> None:
    """`Metadata.guard.SuppressedRules` names the Guard Rules Registry twin of each checkov
    skip, on the same resources and nowhere else."""
    for env, s in environments.items():
        skips = scanner_skips_for(s.stacks)
        expected = {path: [k.guard for k in skips if k.path == path]
                    for path in {k.path for k in skips}}
        found = {body["Metadata"]["aws:cdk:path"]: body["Metadata"]["guard"]["SuppressedRules"]
                 for template in s.templates.values() for _, body in _resources(template)
                 if "guard" in (body.get("Metadata") or {})}
        assert found == expected, env


def test_checkov_sarif_joins_the_compliance_evidence(scans: Scans) -> None:
    jsonschema.validate(scans.sarif, SARIF_SCHEMA)
    (run,) = scans.sarif["runs"]
    assert run["tool"]["driver"]["name"] == "Checkov"
    justified = {(r["ruleId"], r["suppressions"][0]["justification"])
                 for r in run["results"] if r.get("suppressions")}
    assert justified == {(key[3], skip.reason) for key, skip in scans.register.items()}
    assert all(r.get("suppressions") for r in run["results"]), "an unsuppressed finding"
    workflow = (ROOT / ".github" / "workflows" / "policy-gate.yml").read_text()
    assert f"sarif_file: {EVIDENCE.relative_to(ROOT)}" in workflow
