"""A synthesized cloud assembly (`cdk.out`) as the gate, the review and the local emulator read it.

One reader, so that they cannot drift apart:

- `cloud_assembly.manifest`: the assembly's manifest: its stacks (construct path, name, account,
  region, template, dependencies) and the construct tree CDK wrote beside them;
- `cloud_assembly.template`: a template's resources and outputs, and how a value refers to a
  resource (`Ref`, both forms of `Fn::GetAtt`, `Fn::Sub`, `Fn::GetStackOutput`,
  `Fn::ImportValue`, export names built from the stack's own name), and CloudFormation's
  reading of a literal boolean;
- `cloud_assembly.removal`: what a DeletionPolicy / UpdateReplacePolicy keeps;
- `cloud_assembly.rds`: the RDS facts every consumer needs (is a replica, source of, the TLS
  parameter per engine family, create-only properties, retention limits);
- `cloud_assembly.engines`: engine versions: major versions and their end of RDS standard
  support (with sources), parameter-group families, and how RDS upgrades a source and its read
  replicas;
- `cloud_assembly.baseline`: the secure floors that the constructs' defaults, the config's
  validation and the gate's rules share.

Nothing here imports aws_cdk: the review and the emulator read assemblies without it.
"""

from cloud_assembly.manifest import AssemblyError, CloudAssembly, StackArtifact, split_environment
from cloud_assembly.template import Resource, Stack, link_stacks, literal_string, truthy

__all__ = ["AssemblyError", "CloudAssembly", "Resource", "Stack", "StackArtifact", "link_stacks",
           "literal_string", "split_environment", "truthy"]
