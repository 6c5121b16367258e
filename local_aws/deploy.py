"""`make deploy`: the whole product on the embedded local AWS, in one command.

Steps (each prints its progress and time):
  1. emulator   start one, or reuse the running one (a dead one is cleaned up and replaced);
  2. synth      `cdk synth -c env=local` through the policy gate (cdk-nag and Redundancy,
                as every synth; the Control Tower controls run in `make synth` and CI), or a
                given cloud assembly (`--assembly DIR`);
  3. state      compare what the emulator holds with the synthesized templates; for a promoted
                topology (config/topology.json), refuse it over an emulator that holds no
                deployment of the env, else run `python -m ops reconcile` (the live state
                allows it; the replicas the deploy replaces are released; in this process,
                as `verify` below);
  4. bootstrap  `cdk bootstrap aws://ACCOUNT/REGION` for the env's region and, with a
                `dr_region`, the DR region too (both regions run on the one emulator);
  5. deploy     `cdk deploy --all --method=direct --require-approval never` (CDK orders the
                stacks by their dependencies: DR network and foundation, network, database,
                DR replica);
  6. verify     `python -m ops verify --env local`, in this process (`ops.cli.main`, with this
                run's clients of the emulator: a process of its own costs 1-2 s of CPU);
then a summary: stacks, endpoints, secret, checks, resource types the emulator skipped, where it
listens, how to stop it.

Running it twice: CDK itself skips a bootstrap and stacks whose templates did not change, and
updates the others as CloudFormation does (the emulator's `cfn_stack_update` extension: changed
resources in place, new ones created, removed ones deleted last per their DeletionPolicy). When
a stack (the bootstrap stack included) is left failed or half-created, the emulator is restarted
with a clean state and everything is deployed from scratch (the emulator holds nothing but what
this app deployed). The summary says so, and names the retired writers a reconcile left outside
the stacks, with the command that decommissions them.

Recovery: if the emulator dies half-way, the step fails with a message saying so, and the next run
starts a fresh emulator (state is in memory only) and deploys from scratch.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

import config
from cloud_assembly.manifest import MANIFEST, AssemblyError, CloudAssembly, StackArtifact
from config.naming import DEPLOYED_ENVIRONMENT_PARAMETER, stack_name
from local_aws import emulator as emu
from local_aws.report import (
    SkippedResource,
    emulation_limits,
    skipped_by_type,
    skipped_resources,
)
from ops.aws import Clients
from ops.datapath import SUPPORTED_ENGINES

REPO_ROOT = emu.REPO_ROOT
VENV_BIN = REPO_ROOT / ".venv" / "bin"
CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"
STEPS = 6
_COMPLETE = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
TOOLKIT_STACK = "CDKToolkit"  # what `cdk bootstrap` deploys (its default name)
_CHECK_SUMMARY = re.compile(r"^\d+ checks: .*$", re.MULTILINE)


class DeployError(RuntimeError):
    """A step failed; the message says what happened and what to do."""


@dataclass(frozen=True, kw_only=True)
class DeployOptions:
    env: str = "local"
    state_dir: Path = emu.DEFAULT_STATE_DIR
    assembly: Path | None = None
    """A synthesized cloud assembly to deploy as is; None synthesizes into `outdir`."""
    outdir: Path = REPO_ROOT / "cdk.out.local"
    port: int = 0
    verify: bool = True


@dataclass(kw_only=True)
class DeployResult:
    emulator: emu.Emulator
    stacks: tuple[StackArtifact, ...] = ()
    regions: tuple[str, ...] = ()
    """The env's regions: the primary region, then the DR region (if any)."""
    restarted_because: str | None = None
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    skipped: list[SkippedResource] = field(default_factory=list)
    verification: str | None = None
    writer: str | None = None
    """host:port in the writer endpoint parameter: what applications connect to."""
    dr_writer: str | None = None
    """host:port in the DR region's writer endpoint parameter (env with a dr_region)."""
    retired: list[str] = field(default_factory=list)
    """One line per retired writer still kept outside the stacks (with its decommission)."""
    cleanup: list[str] = field(default_factory=list)
    """What the emulator's start cleaned up of a killed emulator (its servers), one per line."""
    psql: bool = False
    """Whether the writer runs a real server `python -m local_aws psql` connects to."""


class Progress:
    """`[n/6] title ...` lines, the step's own output indented, and `done in Xs`."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.number = 0

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        self.print(f"[{self.number}/{STEPS}] {title}")
        started = time.monotonic()
        yield
        self.print(f"      done in {time.monotonic() - started:.1f}s")

    def print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def detail(self, line: str) -> None:
        self.print(f"      {line}")


def tool_environment(emulator: emu.Emulator, *, region: str) -> dict[str, str]:
    """The caller's environment without any `AWS_*` variable (profile, session token, role,
    container credentials ...), pointed at the emulator only (see `emu.aws_environment`)."""
    return _scrubbed(emu.aws_environment(emulator, region=region))


def offline_tool_environment(*, state_dir: Path, region: str) -> dict[str, str]:
    """`tool_environment` before the emulator listens: pointed at nothing
    (`emu.offline_environment`)."""
    return _scrubbed(emu.offline_environment(state_dir=state_dir, region=region))


def _scrubbed(aws: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(aws)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    env["JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION"] = "1"
    return env


def _echo(progress: Progress, line: str) -> None:
    """A tool's output line, indented under its step."""
    if line.strip():
        progress.detail(f"| {line}")


class BackgroundTool:
    """A tool started early to overlap another step (the synth, while the emulator starts):
    its output is kept and echoed when `finish` is called, in its step."""

    def __init__(self, command: Sequence[str], *, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(list(command), cwd=REPO_ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, text=True, errors="replace")
        self.lines: list[str] = []
        self.started = time.monotonic()
        self.seconds = 0.0  # its whole run, set by `finish`
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def finish(self, progress: Progress) -> int:
        code = self.process.wait()
        self._reader.join()
        self.seconds = time.monotonic() - self.started
        for line in self.lines:
            _echo(progress, line)
        return code

    def cancel(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def run_tool(command: Sequence[str], *, env: dict[str, str], progress: Progress,
             capture: list[str] | None = None) -> int:
    """Run `command` from the repo root, echoing its output indented; return its exit code."""
    process = subprocess.Popen(list(command), cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                               errors="replace")
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip()
        if capture is not None:
            capture.append(line)
        _echo(progress, line)
    return process.wait()


def cdk(*args: str) -> list[str]:
    return [str(CDK), "--no-notices", *args]


@functools.cache
def boto3_session() -> Any:
    """One session for every client of the emulator in this process (the dummy credentials):
    its clients share the service models it loaded (each new session parses them again, ~0.3 s
    a client)."""
    import boto3

    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing")


@functools.cache
def emulator_client(service: str, endpoint_url: str, region: str) -> Any:
    """A client of the emulator at `endpoint_url`, made once per service and region."""
    return boto3_session().client(service, region_name=region, endpoint_url=endpoint_url)


def _live_status(cloudformation: Any, name: str) -> str | None:
    """The stack's status, None when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        return str(cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def _deployed_state(cloudformation: Any, stacks: Sequence[StackArtifact]) -> dict[str, str]:
    """{stack name: 'absent' | 'same' | reason it cannot be deployed over} for the `stacks` of
    the client's region, the region's bootstrap stack (`CDKToolkit (REGION)`) included when it
    exists but is not complete."""
    state: dict[str, str] = {}
    region = cloudformation.meta.region_name
    toolkit = _live_status(cloudformation, TOOLKIT_STACK)
    if toolkit is not None and toolkit not in _COMPLETE:
        state[f"{TOOLKIT_STACK} ({region})"] = (
            f"{TOOLKIT_STACK} in {region} is {toolkit} (a failed or interrupted bootstrap)")
    for stack in stacks:
        status = _live_status(cloudformation, stack.name)
        if status is None:
            state[stack.name] = "absent"
            continue
        if status not in _COMPLETE:
            state[stack.name] = f"{stack.name} is {status} (a failed or interrupted deploy)"
            continue
        body = cloudformation.get_template(StackName=stack.name)["TemplateBody"]
        deployed = body if isinstance(body, dict) else json.loads(body)
        state[stack.name] = "same" if deployed == stack.template else "changed"
    return state


def promoted(stacks: Sequence[StackArtifact]) -> bool:
    """Whether the assembly renders a promoted topology (its stacks require a deployed env)."""
    return any(DEPLOYED_ENVIRONMENT_PARAMETER in (s.template.get("Parameters") or {})
               for s in stacks)


class Deployment:
    """One `make deploy` run. Each method is a step; `run()` chains them."""

    def __init__(self, options: DeployOptions, *, out: TextIO) -> None:
        self.options = options
        self.progress = Progress(out)
        if options.env not in config.ENVIRONMENTS:
            raise DeployError(f"unknown env {options.env!r}; known: "
                              f"{', '.join(config.ENVIRONMENTS)}")
        # Not `config.load()`: validation imports aws_cdk (seconds); `cdk synth` validates.
        self.cfg = config.ENVIRONMENTS[options.env]
        if self.cfg.account != emu.ACCOUNT or self.cfg.region is None:
            raise DeployError(
                f"env {options.env!r} targets account {self.cfg.account} region "
                f"{self.cfg.region}; the local emulator is account {emu.ACCOUNT} with an explicit "
                "region (use env 'local')")
        self.region: str = self.cfg.region
        self.regions: tuple[str, ...] = (self.region,) + (
            (self.cfg.dr_region,) if self.cfg.dr_region else ())
        self._result: DeployResult | None = None
        # The declared topology (config/topology.json), for the summary and the refusal.
        self.layout = config.with_declared_topology(self.cfg).layout

    # -- helpers ---------------------------------------------------------------------------
    @property
    def result(self) -> DeployResult:
        if self._result is None:
            raise RuntimeError("the emulator step has not run yet")
        return self._result

    @property
    def emulator(self) -> emu.Emulator:
        return self.result.emulator

    def _client(self, service: str, region: str | None = None) -> Any:
        return emulator_client(service, self.emulator.endpoint_url, region or self.region)

    def _fail(self, what: str, *, hint: str | None = None) -> DeployError:
        """The error for a failed step, telling a dead emulator from a failing tool."""
        if not self.emulator.is_alive():
            return DeployError(
                f"{what}: the emulator (pid {self.emulator.pid}, {self.emulator.endpoint_url}) "
                "stopped while it ran, and everything deployed to it is gone (it keeps its state "
                "in memory only). Run `make deploy` again: it starts a fresh emulator and "
                "deploys from scratch.")
        return DeployError(
            f"{what}. The emulator is still running at {self.emulator.endpoint_url} (log "
            f"{self.emulator.log_path}). " + (hint or (
                "Fix the cause and run `make deploy` again: a stack left failed is redeployed on "
                "a clean emulator automatically; `make destroy` starts over by hand.")))

    def _tool(self, command: Sequence[str], what: str, *, hint: str | None = None,
              capture: list[str] | None = None) -> None:
        env = tool_environment(self.emulator, region=self.region)
        if run_tool(command, env=env, progress=self.progress, capture=capture) != 0:
            raise self._fail(f"{what} (output above)", hint=hint)

    def _ops_clients(self, region: str, probe: bool) -> Clients:
        """The runbooks' clients of `region`: this run's, bound to the emulator (a dead
        emulator refuses the connection at once: no probe clients needed)."""
        return Clients(region=region, **{
            f.name: self._client(f.name, region) for f in fields(Clients) if f.name != "region"})

    def _ops(self, command: str, *, failure: str, hint: str) -> list[str]:
        """`python -m ops COMMAND --env ENV` in this process (`ops.cli.main`) against the
        emulator only, with this run's clients; its output echoed under the step. Returns its
        output lines. (A process of its own would cost a Python start, the imports and a boto3
        session parsing the service models again: 1-2 s of CPU a command.)"""
        from ops.cli import main

        out = io.StringIO()
        code = main([command, "--env", self.options.env], out=out, err=out,
                    factory=self._ops_clients)
        lines = out.getvalue().splitlines()
        for line in lines:
            _echo(self.progress, line)
        if code != 0:
            raise self._fail(f"{failure} (output above)", hint=hint)
        return lines

    @contextmanager
    def _aws_calls(self, what: str) -> Iterator[None]:
        """Turn a failed call to the emulator into a `DeployError` that says what to do."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as error:
            raise self._fail(f"{what}: {error}") from error

    # -- steps -----------------------------------------------------------------------------
    def start_emulator(self) -> None:
        with self.progress.step("Local AWS emulator"):
            stale = emu.stale_pid(state_dir=self.options.state_dir)
            if stale is not None:
                self.progress.detail(f"the emulator recorded in {self.options.state_dir} (pid "
                                     f"{stale}) is gone, with its state; starting a fresh one")
            cleanup = emu.clean_up(self.options.state_dir) \
                if emu.status(state_dir=self.options.state_dir) is None else []
            for text in cleanup:
                self.progress.detail(f"cleanup: {text}")
            running, reused = emu.start(state_dir=self.options.state_dir, port=self.options.port)
            self._result = DeployResult(emulator=running, regions=self.regions, cleanup=cleanup,
                                        psql=self.cfg.engine in SUPPORTED_ENGINES)
            verb = "reusing the running emulator" if reused else "started"
            self.progress.detail(f"{verb} at {running.endpoint_url} (pid {running.pid})")
            with self._aws_calls("asking the emulator who it is"):
                identity = self._client("sts").get_caller_identity()
            if identity["Account"] != emu.ACCOUNT:
                raise DeployError(f"{running.endpoint_url} answers as account "
                                  f"{identity['Account']}, expected the emulator's {emu.ACCOUNT}; "
                                  "refusing to deploy")

    def start_synth(self) -> BackgroundTool | None:
        """`cdk synth` in the background, so it overlaps the emulator's start (both ~2 s);
        None when a given assembly is deployed as is."""
        if self.options.assembly is not None:
            return None
        # The gate of every synth. The Control Tower controls (cfn-guard, +0.6 s per
        # template) guard what reaches AWS: `make synth` and CI run them.
        command = cdk("synth", "--quiet", "-c", f"env={self.options.env}",
                      "--output", str(self.options.outdir))
        return BackgroundTool(command, env=offline_tool_environment(
            state_dir=self.options.state_dir, region=self.region))

    def synthesize(self, synth: BackgroundTool | None) -> Path:
        if synth is None:
            assert self.options.assembly is not None
            with self.progress.step(f"Cloud assembly {self.options.assembly} (already "
                                    "synthesized)"):
                return self.options.assembly
        outdir = self.options.outdir
        shown = outdir.relative_to(REPO_ROOT) if outdir.is_relative_to(REPO_ROOT) else outdir
        with self.progress.step(f"Synthesize env {self.options.env} through the policy gate "
                                f"(cdk synth -> {shown})"):
            code = synth.finish(self.progress)
            self.progress.detail(f"ran {synth.seconds:.1f}s, beside the emulator's start")
            if code != 0:
                raise DeployError("cdk synth failed (output above): the policy gate or the "
                                  "config refused the app; nothing was deployed")
        return outdir

    def reconcile_state(self, assembly: Path) -> None:
        with self.progress.step("Compare the emulator's stacks with the templates"):
            try:
                self.result.stacks = CloudAssembly.load(assembly).stacks
            except AssemblyError as error:
                raise DeployError(str(error)) from error
            if not self.result.stacks:
                raise DeployError(f"{assembly / MANIFEST} lists no CloudFormation stack")
            wrong = [s for s in self.result.stacks
                     if s.account != emu.ACCOUNT or s.region not in self.regions]
            if wrong:
                hosts = " and ".join(f"aws://{emu.ACCOUNT}/{r}" for r in self.regions)
                target = (f"aws://{wrong[0].account or 'unknown-account'}/"
                          f"{wrong[0].region or 'unknown-region'}")
                raise DeployError(f"stack {wrong[0].name} targets {target}; the emulator hosts "
                                  f"env {self.options.env} as {hosts}")
            state: dict[str, str] = {}
            with self._aws_calls("reading the emulator's stacks"):
                for region in self.regions:
                    state.update(_deployed_state(
                        self._client("cloudformation", region),
                        [s for s in self.result.stacks if s.region == region]))
            labels = {"absent": "not deployed yet", "same": "deployed, template unchanged",
                      "changed": "deployed, template changed: updated in place"}
            for name, what in state.items():
                self.progress.detail(f"{name}: {labels.get(what, what)}")
            blockers = [what for what in state.values()
                        if what not in ("absent", "same", "changed")]
            if blockers:
                reason = "; ".join(blockers)
                self.progress.detail("moto cannot update or delete a stack: restarting the "
                                     "emulator with a clean state and deploying from scratch")
                emu.stop(state_dir=self.options.state_dir)
                running, _ = emu.start(state_dir=self.options.state_dir,
                                       port=self.options.port or self.emulator.port)
                self.result.emulator = running
                self.result.restarted_because = reason
                self.progress.detail(f"fresh emulator at {running.endpoint_url} (pid "
                                     f"{running.pid})")
                state = {name: "absent" for name in state}
            if promoted(self.result.stacks):
                self.prepare_reconcile(state)

    def prepare_reconcile(self, state: dict[str, str]) -> None:
        """A promoted topology deploys only over the env it was promoted in: refused over an
        emulator without the env's database stack; otherwise `python -m ops reconcile` checks
        the live state and releases the replicas the deploy replaces."""
        database = stack_name(self.options.env, "Database")
        if state.get(database, "absent") == "absent":
            raise DeployError(
                f"env {self.options.env} declares a promoted topology (config/topology.json: "
                f"{self.layout.change}), which deploys only over the environment it was promoted "
                f"in, and the emulator holds no deployment of it ({database} is not deployed). "
                "`make destroy` returns env local to its original topology; then `make deploy`.")
        self.progress.detail(f"promoted topology: python -m ops reconcile --env "
                             f"{self.options.env}")
        self._ops("reconcile", failure="the reconcile refused the declared topology",
                  hint="The message above says what the live state lacks. `make destroy` "
                       "returns env local to its original topology.")

    def bootstrap(self, assembly: Path) -> None:
        """`cdk bootstrap` of the env's regions, unless each already holds a complete bootstrap
        stack: the emulator holds only what this app's deploys put there, so a complete one is
        this CLI's (the CLI itself would only confirm it, ~1 s of Node per region)."""
        targets = [f"aws://{emu.ACCOUNT}/{region}" for region in self.regions]
        with self.progress.step(f"cdk bootstrap {' '.join(targets)}"):
            with self._aws_calls("reading the bootstrap stacks"):
                done = all(_live_status(self._client("cloudformation", region), TOOLKIT_STACK)
                           in _COMPLETE for region in self.regions)
            if done:
                self.progress.detail(f"{TOOLKIT_STACK} complete in {', '.join(self.regions)}: "
                                     "already bootstrapped")
                return
            self._tool(cdk("bootstrap", *targets, "--app", str(assembly)), "cdk bootstrap failed")

    def deploy_stacks(self, assembly: Path) -> None:
        """`cdk deploy --all --method=direct`: the assets published, then a CreateStack or
        UpdateStack of each stack whose template changed, in dependency order."""
        with self.progress.step("cdk deploy --all --method=direct"):
            self._tool(cdk("deploy", "--all", "--app", str(assembly), "--method=direct",
                           "--require-approval", "never"), "cdk deploy failed")

    def deploy(self, assembly: Path) -> None:
        """Deploy the stacks, then read what the summary shows of them."""
        self.deploy_stacks(assembly)
        with self._aws_calls("reading the deployed stacks"):
            for stack in self.result.stacks:
                cloudformation = self._client("cloudformation", stack.region)
                live = cloudformation.describe_stacks(StackName=stack.name)["Stacks"][0]
                self.result.statuses[stack.name] = live["StackStatus"]
                self.result.outputs[stack.name] = {o["OutputKey"]: o["OutputValue"]
                                                   for o in live.get("Outputs", [])}
                self.result.skipped.extend(skipped_resources(cloudformation, stack))
            parameter = _database_outputs(self.result).get("WriterEndpointParameter")
            if parameter:
                self.result.writer = self._client("ssm").get_parameter(
                    Name=parameter)["Parameter"]["Value"]
            dr_parameter = _dr_outputs(self.result).get("WriterEndpointParameter")
            dr_region = self._standby_region()
            if dr_parameter and dr_region:
                self.result.dr_writer = self._client("ssm", dr_region).get_parameter(
                    Name=dr_parameter)["Parameter"]["Value"]
            self.result.retired = self._retired()

    def _standby_region(self) -> str | None:
        standby = self.layout.standby
        return None if standby is None else standby.region

    def _retired(self) -> list[str]:
        """A line per retired writer that still exists, with its decommission commands."""
        from config.topology import decommission_commands
        from ops.instances import describe_instance

        lines = []
        for member in self.layout.retired:
            instance = describe_instance(self._client("rds", member.region), member.identifier)
            if instance is not None:
                lines.append(f"{member.identifier} ({member.region}): outside the stacks, kept "
                             "(deletion protection on, fenced); decommission: "
                             f"{decommission_commands(member)}")
        return lines

    def verify(self) -> None:
        with self.progress.step(f"Verify the live resources (python -m ops verify --env "
                                f"{self.options.env})"):
            lines = self._ops(
                "verify", failure="verification failed: a live resource differs from what the "
                                  "stacks promise",
                hint="Each FAIL line above names the resource, the expected and the actual "
                     "value. `make verify` checks again; `make destroy && make deploy` starts "
                     "over.")
            found = _CHECK_SUMMARY.findall("\n".join(lines))
            self.result.verification = found[-1] if found else "passed"

    def run(self) -> DeployResult:
        started = time.monotonic()
        synth = self.start_synth()
        try:
            self.start_emulator()
        except BaseException:
            if synth is not None:
                synth.cancel()
            raise
        assembly = self.synthesize(synth)
        self.reconcile_state(assembly)
        self.bootstrap(assembly)
        self.deploy(assembly)
        if self.options.verify:
            self.verify()
        else:
            self.progress.number += 1
            self.progress.print(f"[{self.progress.number}/{STEPS}] Verify: skipped (--no-verify)")
        print_summary(self.result, out=self.progress.out, state_dir=self.options.state_dir,
                      seconds=time.monotonic() - started)
        return self.result


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _database_outputs(result: DeployResult) -> dict[str, str]:
    """The outputs of the stack that holds the writer (after a regional failover's reconcile,
    the DR region's)."""
    for outputs in result.outputs.values():
        if "PrimaryIdentifier" in outputs:
            return outputs
    return {}


def _dr_stack(result: DeployResult) -> str | None:
    """The stack that holds the cross-region replica of the writer."""
    for name, outputs in result.outputs.items():
        if "ReplicaIdentifier" in outputs and "SourceRegion" in outputs:
            return name
    return None


def _dr_outputs(result: DeployResult) -> dict[str, str]:
    name = _dr_stack(result)
    return result.outputs[name] if name else {}


def print_summary(result: DeployResult, *, out: TextIO, state_dir: Path, seconds: float) -> None:
    def line(label: str, text: str) -> None:
        print(f"  {label:<13}{text}", file=out)

    emulator = result.emulator
    print(f"\nDeployed to the local AWS emulator in {seconds:.1f}s", file=out)
    if result.restarted_because:
        line("note", f"emulator restarted clean ({result.restarted_because})")
    regions = {s.name: s.region for s in result.stacks}
    for number, region in enumerate(result.regions or (None,)):
        names = [n for n in result.statuses if region is None or regions.get(n) == region]
        shown = ", ".join(f"{name} ({result.statuses[name]})" for name in names)
        line("stacks" if number == 0 else "", f"{region}: {shown}" if region else shown)
    db = _database_outputs(result)
    if db:
        port = db.get("Port", "?")
        primary = f"{db.get('PrimaryEndpoint')}:{port}"
        line("primary", f"{db.get('PrimaryIdentifier')}  {primary}")
        replicas = sorted(k for k in db if re.fullmatch(r"Replica\d+Identifier", k))
        for key in replicas:
            endpoint = db.get(key.replace("Identifier", "Endpoint"))
            line("replica", f"{db[key]}  {endpoint}:{port}")
        dr = _dr_outputs(result)
        if dr:
            dr_region = {s.name: s.region for s in result.stacks}.get(_dr_stack(result) or "",
                                                                     "?")
            line("dr replica", f"{dr.get('ReplicaIdentifier')}  "
                               f"{dr.get('ReplicaEndpoint')}:{dr.get('Port', port)}  "
                               f"({dr_region}, from {dr.get('SourceRegion')})")
        where = f" in {' and '.join(result.regions)}" if dr and len(result.regions) > 1 else ""
        line("writer", f"{result.writer or '?'}  (SSM "
                       f"{db.get('WriterEndpointParameter', '?')}{where})")
        if dr and result.dr_writer != result.writer:
            line("", f"the DR region's parameter names {result.dr_writer or 'nothing'}")
        current = result.dr_writer if dr and result.dr_writer else result.writer
        if current and current != primary:
            # The parameter is repointed by a failover or a switchover, the stack's outputs by
            # its next update: whether the config declares the change is verify's to say.
            line("", f"the writer endpoint names {current}, the stack's outputs {primary}: a "
                     "failover or switchover since the stack's last update (`make verify` says "
                     "whether config/topology.json declares it)")
        line("secret", db.get("SecretArn", "?"))
        if dr.get("SecretArn"):
            line("", f"{dr['SecretArn']}  (read-only replica)")
    for number, text in enumerate(result.retired):
        line("retired" if number == 0 else "", text)
    if result.verification:
        line("verification", f"{result.verification}  (make verify)")
    grouped = skipped_by_type(result.skipped)
    if grouped:
        count = sum(len(v) for v in grouped.values())
        line("skipped", f"{_plural(count, 'resource')} of {_plural(len(grouped), 'type')} the "
                        "emulator cannot run (exist on AWS, not here):")
        for rtype, items in grouped.items():
            ids = ", ".join(i.logical_id for i in items[:2]) + (" ..." if len(items) > 2 else "")
            print(f"{'':15}  {rtype} x{len(items)}: {ids}", file=out)
    limits = emulation_limits(result.stacks, emulator.limits)
    if limits:
        line("emulated", "with these limits:")
        for rtype, limit in limits.items():
            print(f"{'':15}  {rtype}: {limit}", file=out)
    default = state_dir == emu.DEFAULT_STATE_DIR
    line("emulator", f"{emulator.endpoint_url} (pid {emulator.pid}; log {emulator.log_path})")
    for number, text in enumerate(result.cleanup):
        line("cleanup" if number == 0 else "", text)
    state_option = "" if default else f" --state-dir {state_dir}"
    if result.psql:
        line("psql", f".venv/bin/python -m local_aws psql{state_option} --member writer --exec"
                     "  # TLS, the secret's user (replica-1, dr-replica: read-only)")
    line("use it", f"eval \"$(.venv/bin/python -m local_aws env{state_option})\"  "
                   "# AWS CLI/boto3 -> emulator")
    regional = " | make failover-region" if len(result.regions) > 1 else ""
    line("next", f"make verify | make failover{regional} | make destroy (stops the emulator, "
                 "drops its state)")


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m local_aws.deploy",
                                     description="Deploy env local to the embedded local AWS.")
    parser.add_argument("--env", default="local", help="environment (default local)")
    parser.add_argument("--state-dir", type=Path, default=emu.DEFAULT_STATE_DIR)
    parser.add_argument("--assembly", type=Path,
                        help="deploy this synthesized cloud assembly instead of synthesizing")
    parser.add_argument("--outdir", type=Path, default=DeployOptions.outdir,
                        help="where to synthesize (default cdk.out.local)")
    parser.add_argument("--port", type=int, default=0,
                        help="port for a new emulator (default: a free one)")
    parser.add_argument("--no-verify", action="store_true", help="skip `python -m ops verify`")
    args = parser.parse_args(argv)
    options = DeployOptions(env=args.env, state_dir=args.state_dir.resolve(),
                            assembly=args.assembly.resolve() if args.assembly else None,
                            outdir=args.outdir.resolve(), port=args.port,
                            verify=not args.no_verify)
    try:
        Deployment(options, out=out).run()
    except (DeployError, emu.EmulatorError, config.ConfigError) as error:
        print(f"\nmake deploy failed: {error}", file=out, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted. The emulator keeps running; `make deploy` resumes (a half-created "
              "stack is redeployed on a clean emulator), `make destroy` stops it.", file=out)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
