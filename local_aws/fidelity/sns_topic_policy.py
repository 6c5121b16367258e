"""CloudFormation `AWS::SNS::TopicPolicy`: set the access policy of one or more topics.

AWS behaviour: each topic in `Topics` gets `PolicyDocument` as its `Policy` attribute
(`GetTopicAttributes`), replacing the default policy. CDK's `enforce_ssl=True` adds one that denies
`sns:Publish` without TLS to the database's alarm topic. `Ref` is a generated id.
Gap in moto 5.2.5: the type is not supported, so the topic keeps moto's default policy.
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation.exceptions import ValidationError

from local_aws.fidelity._registry import (
    EmulatedResource,
    FidelityModel,
    model_extension,
)

RESOURCE_TYPE = "AWS::SNS::TopicPolicy"


class TopicPolicyModel(FidelityModel):
    resource_type = RESOURCE_TYPE
    attributes = frozenset({"Id"})

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
        region_name: str, **kwargs: Any,
    ) -> EmulatedResource:
        from moto.sns.models import sns_backends

        logical_id = kwargs["LogicalId"]
        properties = cloudformation_json.get("Properties", {})
        topics, document = properties.get("Topics"), properties.get("PolicyDocument")
        if not topics or document is None:
            raise ValidationError(message=f"{logical_id}: Topics and PolicyDocument are required, "
                                          f"got {sorted(properties)}")
        policy = document if isinstance(document, str) else json.dumps(document)
        backend: Any = sns_backends[account_id][region_name]
        for topic_arn in topics:
            try:
                backend.set_topic_attribute(topic_arn, "policy", policy)
            except Exception as error:  # moto's TopicNotFound
                raise ValidationError(message=f"{logical_id}: topic {topic_arn}: {error}") \
                    from error
        return EmulatedResource(physical_resource_id=resource_name,
                                attributes={"Id": resource_name})


EXTENSION = model_extension(
    TopicPolicyModel, resource_type=RESOURCE_TYPE, name="sns-topic-policy",
    closes="AWS::SNS::TopicPolicy sets the topics' access policy")
