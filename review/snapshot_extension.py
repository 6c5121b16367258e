"""syrupy extension: one normalized, key-sorted JSON file per CloudFormation template.

Imported by the tests only (syrupy is a development dependency). The file text is exactly
`review.normalize.dumps(normalize(template))`, so the guard and the report read the same bytes
the snapshot test writes, and a snapshot diff in a pull request is a plain JSON diff.
"""

from __future__ import annotations

from typing import Any

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from review.normalize import dumps, normalize


class CloudFormationSnapshotExtension(SingleFileSnapshotExtension):
    """Serializes a template dict to normalized JSON text in `<test>[<id>].json`."""

    file_extension = "json"
    _write_mode = WriteMode.TEXT

    def serialize(self, data: Any, **_: Any) -> str:
        if not isinstance(data, dict) or "Resources" not in data:
            raise TypeError("CloudFormationSnapshotExtension snapshots template dicts "
                            f"(with Resources), got {type(data).__name__}")
        return dumps(normalize(data))
