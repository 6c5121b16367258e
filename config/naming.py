"""Stack names, shared by the CDK app and the boto3 operations (which must not import CDK)."""

from __future__ import annotations

APP_NAME = "RedundantDb"


def stack_name(env: str, role: str, *, prefix: str = APP_NAME) -> str:
    """`<prefix>-<env>-<role>`, e.g. RedundantDb-prod-Database, RedundantDb-prod-DrReplica."""
    return f"{prefix}-{env}-{role}"

#: The template parameter a promoted topology's stacks carry (stacks.require_deployed_environment):
#: it resolves the writer-endpoint SSM parameter, which only a deployed environment has.
DEPLOYED_ENVIRONMENT_PARAMETER = "DeployedEnvironment"
