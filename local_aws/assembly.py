"""Read a synthesized cloud assembly (cdk.out): its stacks, their templates and environments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_STACK_ARTIFACT = "aws:cloudformation:stack"


@dataclass(frozen=True, kw_only=True)
class AssemblyStack:
    name: str
    account: str
    region: str
    template: dict[str, Any]
    dependencies: tuple[str, ...]

    @property
    def resource_types(self) -> dict[str, str]:
        """{logical id: resource type}."""
        return {lid: r["Type"] for lid, r in self.template.get("Resources", {}).items()}


class AssemblyError(ValueError):
    """The directory is not a cloud assembly we can deploy."""


def load_stacks(directory: Path) -> tuple[AssemblyStack, ...]:
    """The CloudFormation stacks of the cloud assembly in `directory`, in manifest order."""
    manifest_path = directory / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError as error:
        raise AssemblyError(f"{directory} is not a cloud assembly (no manifest.json); synthesize "
                            "first (`cdk synth -c env=local`)") from error
    stacks = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != _STACK_ARTIFACT:
            continue
        environment = artifact.get("environment", "")
        # aws://ACCOUNT/REGION
        account, _, region = environment.removeprefix("aws://").partition("/")
        properties = artifact.get("properties", {})
        template = json.loads((directory / properties["templateFile"]).read_text())
        stacks.append(AssemblyStack(
            name=properties.get("stackName", artifact_id), account=account, region=region,
            template=template,
            dependencies=tuple(d for d in artifact.get("dependencies", ())
                               if manifest["artifacts"].get(d, {}).get("type") == _STACK_ARTIFACT),
        ))
    if not stacks:
        raise AssemblyError(f"{manifest_path} lists no CloudFormation stack")
    return tuple(stacks)
