"""Normalize a synthesized template so that a snapshot changes only when the stack would.

What is dropped or masked, and why it carries no meaning for a reviewer:
- asset hashes (64 hex digits in S3 keys and elsewhere): they change with every CDK upgrade that
  touches a bundled Lambda handler, not with anything this app decides;
- the `BootstrapVersion` parameter and the `CheckBootstrapVersion` rule: the CDK toolkit's
  handshake with the bootstrap stack, identical in every stack;
- the `CDKMetadata` resource and its condition (CDK version analytics);
- `aws:cdk:*` and `aws:asset:*` resource metadata (construct paths and asset pointers for the
  CLI; the construct path is already encoded in the logical id).

Everything else is kept, including list order (CloudFormation gives it meaning in places).
Keys are sorted when the JSON is written, so a dict built in another order is not a change.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

Template = dict[str, Any]

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
ASSET_HASH_MASK = "<asset-hash>"
_TOOLKIT_PARAMETERS = ("BootstrapVersion",)
_TOOLKIT_RULES = ("CheckBootstrapVersion",)
_METADATA_PREFIXES = ("aws:cdk:", "aws:asset:")


def _mask_hashes(value: Any) -> Any:
    if isinstance(value, str):
        return ASSET_HASH.sub(ASSET_HASH_MASK, value)
    if isinstance(value, list):
        return [_mask_hashes(item) for item in value]
    if isinstance(value, dict):
        return {_mask_hashes(key): _mask_hashes(item) for key, item in value.items()}
    return value


def _drop_keys(section: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any] | None:
    if not section:
        return None
    kept = {key: value for key, value in section.items() if key not in keys}
    return kept or None


def normalize(template: Template) -> Template:
    """A copy of `template` without toolkit noise and with asset hashes masked.

    Idempotent: normalizing a normalized template (e.g. a snapshot read back) changes nothing,
    so the guard can compare snapshots and fresh synths on equal terms.
    """
    out = copy.deepcopy(template)
    for section, keys in (("Parameters", _TOOLKIT_PARAMETERS), ("Rules", _TOOLKIT_RULES),
                          ("Conditions", ("CDKMetadataAvailable",))):
        kept = _drop_keys(out.get(section), keys)
        if kept is None:
            out.pop(section, None)
        else:
            out[section] = kept
    resources: dict[str, Any] = out.get("Resources", {})
    for logical_id in [lid for lid, res in resources.items()
                       if res.get("Type") == "AWS::CDK::Metadata"]:
        del resources[logical_id]
    for resource in resources.values():
        metadata = resource.get("Metadata")
        if isinstance(metadata, dict):
            kept_metadata = {key: value for key, value in metadata.items()
                             if not key.startswith(_METADATA_PREFIXES)}
            if kept_metadata:
                resource["Metadata"] = kept_metadata
            else:
                del resource["Metadata"]
    masked: dict[str, Any] = _mask_hashes(out)
    return masked


def dumps(template: Template) -> str:
    """The snapshot text of a normalized template: sorted keys, 2-space indent, final newline."""
    return json.dumps(template, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
