"""The benchmark's floor: the app's stacks with no policy gate, what every gate figure is
divided by. Only the benchmark runs it, as the CDK CLI's app
(`cdk synth --app '<venv python> -m bench.floor_app' -c env=NAME|all`) or as
`python -m bench.floor_app` with the context the CLI would pass (`CDK_CONTEXT_JSON`).

It builds what `app.main()` builds, from the same `-c env` and `-c account`, without the gate
(no cdk-nag, no Redundancy rules, no Control Tower controls, no compliance reports) and without
CDK's built-in CloudFormation validation. Its templates can never be deployed: every stack
carries a rule that always fails (`refuse_deploy`), and CloudFormation checks rules before it
creates or updates anything. `app.py` itself has no switch that turns the gate off.
"""

from __future__ import annotations

import sys

import app as project  # first: it starts jsii's Node with the app's options

# isort: split
import aws_cdk as cdk

import config
from stacks import EnvironmentStacks

RULE_ID = "PolicyGateOff"


def refuse_deploy(stacks: EnvironmentStacks) -> None:
    """A template rule that always fails, so CloudFormation refuses to create or update any
    stack synthesized without the gate (rules are checked before any resource changes)."""
    for stack in stacks.all:
        cdk.CfnRule(stack, RULE_ID, assertions=[cdk.CfnRuleAssertion(
            assert_=cdk.Fn.condition_equals("policy-gate", "off"),
            assert_description="Synthesized without the policy gate (the benchmark's floor): "
                               "never deploy this template.")])


def main(app: cdk.App | None = None) -> int:
    """Synthesize the environments `-c env=` names without the gate; 1 after one line on
    stderr for a bad config."""
    if app is None:
        app = cdk.App(builtin_cloud_formation_validation=False)
    try:
        built = [project.build_app(env, app=app, account=app.node.try_get_context("account"),
                                   gate=False)[1]
                 for env in project.environments(app)]
    except config.ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for stacks in built:
        refuse_deploy(stacks)
    print("WARNING: no policy gate (bench.floor_app, the benchmark's floor): no cdk-nag, no "
          "Redundancy rules, no CloudFormation validation; these templates fail any deploy.",
          file=sys.stderr)
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
