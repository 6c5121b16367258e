"""`Fn::GetStackOutput`: read another stack's output, as CloudFormation does.

AWS behaviour: `{"Fn::GetStackOutput": {"StackName": S, "OutputName": O, "Region": R}}` evaluates
to the current value of output `O` of stack `S` in region `R` (default: the stack's own region;
`RoleArn` is for another account and has no meaning in a one-account emulator). It fails the
deployment when the stack or the output does not exist. CDK emits it for weak cross-stack references
(`@aws-cdk/core:defaultCrossStackReferences: weak`): our database stack reads the network stack's
subnet ids this way.
Gap in moto 5.2.5: the function is unknown, so the dict is passed through as a property value
(e.g. a subnet group whose subnet ids are dicts) and the stack fails to create.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import clean, intrinsic_extension, stack_location

FUNCTION = "Fn::GetStackOutput"


def get_stack_output(arguments: Any, resources_map: Any) -> str:
    from moto.cloudformation.models import cloudformation_backends

    args = clean(arguments, resources_map)
    if not isinstance(args, dict) or not {"StackName", "OutputName"} <= args.keys():
        raise ValidationError(message=f"Template error: {FUNCTION} needs StackName and OutputName, "
                                      f"got {arguments!r}")
    account_id, own_region = stack_location(resources_map)
    region = args.get("Region") or own_region
    stack_name, output_name = args["StackName"], args["OutputName"]
    backend = cloudformation_backends[account_id][region]
    stack = next((s for s in backend.stacks.values()
                  if stack_name in (s.name, s.stack_id) and not s.status.startswith("DELETE")),
                 None)
    if stack is None:
        raise ValidationError(message=f"Template error: {FUNCTION}: stack {stack_name} does not "
                                      f"exist in {account_id}/{region}")
    outputs = {o.key: o.value for o in stack.output_map.values() if o}
    if output_name not in outputs:
        known = ", ".join(sorted(outputs))
        raise ValidationError(message=f"Template error: {FUNCTION}: stack {stack_name} has no "
                                      f"output {output_name} (outputs: {known})")
    return str(outputs[output_name])


EXTENSION = intrinsic_extension(
    get_stack_output, function_name=FUNCTION, name="cfn-get-stack-output",
    closes="Fn::GetStackOutput (CDK weak cross-stack references) is evaluated")
