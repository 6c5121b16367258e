"""CloudFormation templates in JSON, read as JSON.

AWS behaviour: a template body is JSON or YAML, and CloudFormation reads a JSON template as
JSON: the number `1e3` is a number, and a character outside the Basic Multilingual Plane
escaped as JSON escapes it (`"\\ud83d\\ude00"`, as Python's `json.dumps` writes it) is that one
character.

Gap in moto 5.2.5: every template is read with PyYAML's YAML 1.1 loader first, as JSON only
when that loader fails. `1e3` becomes the string "1e3" and the escaped character two lone
surrogates, a string that no response can encode. The loader is also pure Python: reading the
app's JSON templates with it cost a fifth of the emulator's CPU in the end-to-end drill (13.1 s
with it, 10.5 s without).

This patches moto's `Stack.parse_template` (stack creates and updates) and
`ChangeSet._parse_template`: JSON first, then moto's own reading for anything that is not JSON
(a YAML template, with its short-form tags).
"""

from __future__ import annotations

import json
from typing import Any

from local_aws.fidelity._registry import Extension

_original: dict[str, Any] = {}


def parse_template(template: str) -> dict[str, Any]:
    """`Stack.parse_template`: a JSON template as JSON, anything else as moto reads it."""
    try:
        parsed = json.loads(template)
    except ValueError:  # not JSON (json.JSONDecodeError, or bytes that are not UTF-8)
        parsed = None
    if isinstance(parsed, dict):
        return parsed
    reading: dict[str, Any] = _original["parse_template"](template)
    return reading


def change_set_parse_template(self: Any) -> None:
    """`ChangeSet._parse_template`, read as a stack's template is."""
    self.template_dict = parse_template(self.template)


def _install() -> None:
    from moto.cloudformation import models

    if not _original:
        _original["parse_template"] = models.Stack.parse_template
        _original["change_set"] = models.ChangeSet._parse_template
        models.Stack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign]
        models.ChangeSet._parse_template = change_set_parse_template  # type: ignore[method-assign]


def _uninstall() -> None:
    from moto.cloudformation import models

    if _original:
        models.Stack.parse_template = staticmethod(  # type: ignore[method-assign]
            _original.pop("parse_template"))
        models.ChangeSet._parse_template = _original.pop("change_set")  # type: ignore[method-assign]


EXTENSION = Extension(
    name="cfn-json-templates",
    closes="a JSON template is read as JSON (numbers such as 1e3, escaped non-BMP characters), "
           "not through PyYAML's YAML 1.1 loader",
    install=_install, uninstall=_uninstall)
