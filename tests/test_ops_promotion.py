"""The promotion engine (`ops.promotion`) on hand-made plans, without AWS: what its plan lines,
repoints and next steps say in-region and across regions. The runs themselves are
tests/test_ops_failover.py's and tests/test_ops_dr.py's, through the CLI."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ops.errors import OpsError
from ops.instances import Health
from ops.promotion import (
    JournalTag,
    ParameterRepoint,
    PromotionPlan,
    SecretRepoint,
    next_steps,
    repoint,
)
from ops.writer import Endpoint, ParameterValue, SecretEndpoint

NEW = Endpoint(host="new.example", port=3307)
OLD = "old.example:3307"


class Refusing:
    """An SSM client whose every call fails with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def get_parameter(self, **_: Any) -> None:
        raise self.error


def parameter(region: str, *, best_effort: bool = False, ssm: Any = None,
              value: str | None = OLD) -> ParameterRepoint:
    return ParameterRepoint(region=region, ssm=ssm, name="/p/writer", best_effort=best_effort,
                            current=ParameterValue(name="/p/writer", value=value, type="String"))


def plan(**changes: Any) -> PromotionPlan:
    """An in-region plan (us-east-1) promoting `r1` in place of `w`."""
    fields: dict[str, Any] = dict(
        env="local", account="1", stack_name="S", region="us-east-1", old_region="us-east-1",
        old_writer="w", old_writer_health=Health(healthy=False, status="failed", reason="x"),
        target="r1", target_arn="arn:r1", target_status="available", target_endpoint=NEW,
        reason="why", resumed_phase=None, promote_needed=True, backup_retention_days=7,
        backup_window="02:00-03:00",
        repoints=(parameter("us-east-1"),
                  SecretRepoint(region="us-east-1", secrets=None, arn="arn:secret",
                                current=SecretEndpoint(host="old.example", port=3307,
                                                       instance_identifier="w"))))
    return PromotionPlan(**{**fields, **changes})


def cross_region(**changes: Any) -> PromotionPlan:
    """A plan promoting `r1` in us-west-2 in place of `w` in us-east-1."""
    return plan(region="us-west-2", **{"resume_command": "rerun", **changes})


def test_in_region_steps_name_only_the_other_regions() -> None:
    steps = plan(repoints=(parameter("us-east-1"),
                           parameter("us-west-2", best_effort=True))).steps()

    assert steps == [
        "journal the failover in r1's tags (redundantdb:failover, redundantdb:failover-from=w)",
        "promote r1 (promote_read_replica, BackupRetentionPeriod=7, "
        "PreferredBackupWindow=02:00-03:00)",
        "wait until r1 is available and detached from w",
        f"set SSM parameter /p/writer to {NEW} (now {OLD})",
        f"best effort: set SSM parameter /p/writer in us-west-2 to {NEW} (now {OLD})",
        "mark the failover complete in r1's tags",
    ]


def test_cross_region_steps_name_every_region_and_the_journal_extras() -> None:
    steps = cross_region(
        promote_needed=False,
        journal=(JournalTag(key="k", value="v", meaning="the estimate"),),
        repoints=(parameter("us-west-2", value=str(NEW)),
                  parameter("us-east-1", best_effort=True, value=None),
                  SecretRepoint(region="us-east-1", secrets=None, arn=None, problem="gone",
                                best_effort=True))).steps()

    assert steps == [
        "journal the failover in r1's tags (redundantdb:failover, redundantdb:failover-from=w), "
        "with the estimate (k=v)",
        "promote r1 in us-west-2: already requested or done, skipped",
        "wait until r1 is available and detached from w (us-east-1)",
        "SSM parameter /p/writer in us-west-2 already names r1, skipped",
        f"best effort: set SSM parameter /p/writer in us-east-1 to {NEW} (now missing)",
        f"best effort: set host/port of the credentials secret in us-east-1 to {NEW} (not "
        "located: gone)",
        "mark the failover complete in r1's tags (primary-region-pending if a best-effort step "
        "failed: re-run to finish it)",
    ]


def test_a_secret_already_naming_the_target_is_skipped() -> None:
    done = SecretEndpoint(host=NEW.host, port=NEW.port, instance_identifier="r1")
    secret = SecretRepoint(region="us-east-1", secrets=None, arn="arn:secret", current=done)

    assert plan(repoints=(secret,)).steps()[3] == "secret arn:secret already names r1, skipped"
    elsewhere = dataclasses.replace(secret, current=dataclasses.replace(
        done, instance_identifier="w"))
    assert plan(repoints=(elsewhere,)).steps()[3].startswith("set host/port of secret arn:secret")


def test_fails_to_repoint_a_required_place_that_is_not_located() -> None:
    place = dataclasses.replace(parameter("us-east-1"), located=False, problem="no outputs")

    with pytest.raises(OpsError, match=r"^SSM parameter /p/writer in us-east-1 cannot be "
                                       r"repointed: not located \(no outputs\)$"):
        repoint(plan(), place, NEW, io.StringIO())


def test_a_required_repoint_that_fails_stops_the_run() -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetParameter")

    with pytest.raises(ClientError, match="AccessDenied"):
        repoint(plan(), parameter("us-east-1", ssm=Refusing(denied)), NEW, io.StringIO())


def test_a_missed_best_effort_repoint_says_how_to_finish_it() -> None:
    """By hand without a resume command; by re-running the command when the plan has one."""
    down = EndpointConnectionError(endpoint_url="https://down.invalid")
    place = parameter("us-west-2", best_effort=True, ssm=Refusing(down))
    out, rerun_out = io.StringIO(), io.StringIO()

    assert repoint(plan(), place, NEW, out) is False
    assert repoint(cross_region(), place, NEW, rerun_out) is False

    problem = ("WARN  SSM parameter /p/writer in us-west-2 not repointed: us-west-2 does not "
               "answer (Could not connect to the endpoint URL: \"https://down.invalid\"). "
               "Applications in us-west-2 that read it still get the old writer; ")
    assert out.getvalue() == (f"{problem}once us-west-2 answers, set it: aws ssm put-parameter "
                              f"--region us-west-2 --name /p/writer --value {NEW} --overwrite\n")
    assert rerun_out.getvalue() == (f"{problem}once us-west-2 answers, re-run `rerun` (it resumes "
                                    "and finishes this step)\n")


def test_next_steps_in_region() -> None:
    lines = next_steps(plan(), pending=[])

    assert lines[0] == (f"Applications: read the writer from SSM /p/writer or the secret's host "
                        f"({NEW}); restart connection pools that cached w.")
    assert lines[1].startswith("Old writer w (failed) still exists: make sure nothing writes")
    assert "the reconcile retires it" in lines[1]
    assert lines[2].startswith("Reconcile the stacks: declare r1 the writer (the config change "
                               "is printed below; --record writes it into config/topology.json)"
                               ", commit it, run `python -m ops reconcile --env local`, then "
                               "deploy (`cdk deploy -c env=local --all`).")
    assert "retires w (kept outside the stack, deletion protection on)" in lines[2]
    assert lines[3].startswith("Until then no replica follows r1")
    assert lines[4] == ("Check: `python -m ops verify --env local` (the promoted writer must "
                        "pass; the demoted primary, the reduced redundancy and the undeclared "
                        "promotion show as WARN until the reconcile).")
    assert len(lines) == 5
    assert not any("Do not deploy" in line for line in lines)
    gone = plan(old_writer_health=Health(healthy=False, status="missing", reason="gone"))
    assert next_steps(gone, pending=[])[1] == "Old writer w no longer exists; nothing to fence."


def test_next_steps_across_regions_say_what_is_pending() -> None:
    pending = [SecretRepoint(region="us-east-1", secrets=None, arn=None, best_effort=True),
               parameter("us-east-1", best_effort=True)]

    lines = next_steps(cross_region(repoints=(parameter("us-west-2"), *pending)),
                       pending=pending)

    assert lines[0] == (f"Applications: read the writer from SSM /p/writer in us-west-2 ({NEW}); "
                        "run them in us-west-2 (or route to it) and restart connection pools "
                        "that cached w.")
    assert [line.split(":")[0] for line in lines[1:3]] == ["Split-brain risk",
                                                           "Secret rotation runs in us-east-1 "
                                                           "and cannot reach r1 until the "
                                                           "reconcile, which gives r1 a "
                                                           "credentials secret of us-west-2"]
    assert lines[3] == ("Pending in us-east-1: the credentials secret, SSM parameter /p/writer. "
                        "Once us-east-1 answers, re-run `rerun`: it resumes and repoints them "
                        "(nothing else changes).")
    assert lines[4].startswith("Reconcile the stacks once us-east-1 answers: declare r1 the "
                               "writer")
    assert lines[5].startswith("Until then there is no regional redundancy, no replica of r1")
    assert lines[6] == ("Check: `python -m ops verify --env local` (writer: r1; the old primary "
                        "region and the undeclared promotion show as WARN until the "
                        "reconcile).")
    assert len(lines) == 7
