"""The manifest of a cloud assembly: which stacks it holds, where each deploys, its template and
the construct tree CDK wrote beside them. The only reader of `manifest.json` in the project."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
STACK_ARTIFACT = "aws:cloudformation:stack"
TREE_ARTIFACT = "cdk:tree"
_UNKNOWN = ("", "unknown-account", "unknown-region")
_TREE_TYPE = "aws:cdk:cloudformation:type"
_TREE_PROPS = "aws:cdk:cloudformation:props"


class AssemblyError(ValueError):
    """The directory is not a cloud assembly, or it does not hold what was asked of it."""


def split_environment(environment: str) -> tuple[str | None, str | None]:
    """(account, region) of an artifact's `aws://ACCOUNT/REGION`; None where CDK wrote an
    unknown (environment-agnostic) part."""
    account, _, region = environment.removeprefix("aws://").partition("/")
    return (None if account in _UNKNOWN else account, None if region in _UNKNOWN else region)


@dataclass(frozen=True, kw_only=True)
class StackArtifact:
    """One CloudFormation stack of the assembly, as its manifest describes it."""

    artifact_id: str
    path: str  # construct path (the artifact's display name)
    name: str  # CloudFormation stack name
    account: str | None  # None for an environment-agnostic stack
    region: str | None
    template_file: Path
    dependencies: tuple[str, ...]  # artifact ids of the stacks deployed before this one
    termination_protection: bool = False

    @cached_property
    def template(self) -> dict[str, Any]:
        template: dict[str, Any] = json.loads(self.template_file.read_text())
        return template


@dataclass(frozen=True)
class TreeNode:
    """A construct of the app as `tree.json` records it (preorder, as `node.find_all()`)."""

    path: str
    type: str | None  # CloudFormation type of an L1, None for any other construct
    props: dict[str, Any] | None  # the L1's resolved properties, jsii spelling


@dataclass(frozen=True)
class CloudAssembly:
    directory: Path
    stacks: tuple[StackArtifact, ...]
    tree_file: Path | None = field(default=None)

    @classmethod
    def load(cls, directory: str | Path) -> CloudAssembly:
        directory = Path(directory)
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
        except FileNotFoundError as error:
            raise AssemblyError(f"{directory} is not a cloud assembly (no {MANIFEST}); "
                                "synthesize first (`cdk synth`)") from error
        artifacts: dict[str, Any] = manifest.get("artifacts", {})
        stacks = []
        tree_file = None
        for artifact_id, artifact in artifacts.items():
            kind = artifact.get("type")
            properties = artifact.get("properties") or {}
            if kind == TREE_ARTIFACT:
                tree_file = directory / properties["file"]
            if kind != STACK_ARTIFACT:
                continue
            account, region = split_environment(artifact.get("environment", ""))
            stacks.append(StackArtifact(
                artifact_id=artifact_id,
                path=artifact.get("displayName", artifact_id),
                name=properties.get("stackName", artifact_id),
                account=account, region=region,
                template_file=directory / properties["templateFile"],
                dependencies=tuple(d for d in artifact.get("dependencies", ())
                                   if artifacts.get(d, {}).get("type") == STACK_ARTIFACT),
                termination_protection=bool(properties.get("terminationProtection", False)),
            ))
        return cls(directory=directory, stacks=tuple(stacks), tree_file=tree_file)

    @classmethod
    def containing(cls, template_file: str | Path) -> tuple[CloudAssembly, StackArtifact]:
        """The assembly whose directory holds `template_file` (a nested stage's own assembly
        for a stage's stack), and that stack."""
        template_file = Path(template_file)
        assembly = cls.load(template_file.parent)
        return assembly, assembly.stack_with_template(template_file)

    def stack_with_template(self, template_file: str | Path) -> StackArtifact:
        """The stack of this assembly whose template is `template_file` (compared by name)."""
        name = Path(template_file).name
        for stack in self.stacks:
            if stack.template_file.name == name:
                return stack
        raise AssemblyError(f"{template_file}: no stack of {self.directory / MANIFEST} "
                            "has this template")

    def stack(self, name: str) -> StackArtifact:
        for stack in self.stacks:
            if stack.name == name:
                return stack
        raise AssemblyError(f"stack {name!r} is not in {self.directory}; it holds "
                            f"{', '.join(s.name for s in self.stacks) or 'no stack'}")

    @property
    def regions(self) -> dict[str, str | None]:
        """{stack name: region}; None for an environment-agnostic stack."""
        return {stack.name: stack.region for stack in self.stacks}

    def tree(self) -> list[TreeNode] | None:
        """Every construct of the app in preorder, the order of `node.find_all()`. None when
        this assembly has no tree (tree metadata off, or a stage's nested assembly: its tree is
        the root's) or CDK split it into fragments (500,000+ nodes)."""
        if self.tree_file is None:
            return None
        out: list[TreeNode] = []
        todo = [json.loads(self.tree_file.read_text())["tree"]]
        while todo:
            node = todo.pop()
            if "fileName" in node:  # a reference to a fragment in another file
                return None
            attributes = node.get("attributes") or {}
            out.append(TreeNode(node["path"], attributes.get(_TREE_TYPE),
                                attributes.get(_TREE_PROPS)))
            todo.extend(reversed(list((node.get("children") or {}).values())))
        return out


def assembly_with_tree(template_file: str | Path) -> CloudAssembly | None:
    """The nearest assembly at or above `template_file`'s directory that holds the app's tree
    (a stage's nested assembly does not)."""
    for directory in Path(template_file).parents:
        if (directory / MANIFEST).exists():
            assembly = CloudAssembly.load(directory)
            if assembly.tree_file is not None:
                return assembly
    return None


def iter_templates(assembly: CloudAssembly) -> Iterator[tuple[str, dict[str, Any]]]:
    """(stack name, template) of every stack, in manifest order."""
    for stack in assembly.stacks:
        yield stack.name, stack.template
