"""Fidelity extensions: where moto falls short of AWS for our stacks, make it behave like AWS.

Real AWS is the reference for every behaviour; each module's docstring states the AWS behaviour it
reproduces and the moto gap it closes, and `tests/test_local_aws_fidelity.py` shows each gap (the
behaviour differs with the extension uninstalled).

`install()` switches every extension on in the current process: the local emulator's server process
calls it, and unit tests using `moto.mock_aws()` can call it too (e.g. for `PromoteReadReplica`).
`uninstall()` restores moto exactly; `installed()` does both around a block.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from local_aws.fidelity import (
    backup_plan,
    backup_vault,
    cfn_dynamic_references,
    cfn_get_stack_output,
    cfn_json_templates,
    cfn_stack_update,
    cloudwatch_alarm,
    cloudwatch_replica_lag,
    ec2_restrict_default_sg,
    ec2_security_group,
    ec2_security_group_egress,
    kms_key_tags,
    rds_blue_green,
    rds_cross_region_replica,
    rds_db_instance,
    rds_engine_upgrade,
    rds_option_group,
    rds_postgres_engine,
    rds_promote_read_replica,
    secrets_replica_kms_key,
    secrets_resource_policy,
    secrets_rotation_schedule,
    secrets_secret,
    secrets_target_attachment,
    sns_topic_policy,
    ssm_parameter,
    unimplemented_actions,
)
from local_aws.fidelity._registry import Extension

__all__ = ["EXTENSIONS", "Extension", "install", "installed", "uninstall"]

EXTENSIONS: tuple[Extension, ...] = (
    cfn_json_templates.EXTENSION,
    cfn_get_stack_output.EXTENSION,
    cfn_dynamic_references.EXTENSION,
    cfn_stack_update.EXTENSION,
    kms_key_tags.EXTENSION,
    secrets_secret.EXTENSION,
    secrets_target_attachment.EXTENSION,
    secrets_rotation_schedule.EXTENSION,
    secrets_resource_policy.EXTENSION,
    secrets_replica_kms_key.EXTENSION,
    rds_db_instance.EXTENSION,
    rds_postgres_engine.EXTENSION,
    rds_promote_read_replica.EXTENSION,
    rds_cross_region_replica.EXTENSION,
    ec2_restrict_default_sg.EXTENSION,
    ec2_security_group.EXTENSION,
    ec2_security_group_egress.EXTENSION,
    backup_vault.EXTENSION,
    backup_plan.EXTENSION,
    ssm_parameter.EXTENSION,
    cloudwatch_alarm.EXTENSION,
    cloudwatch_replica_lag.EXTENSION,
    sns_topic_policy.EXTENSION,
    rds_option_group.EXTENSION,
    rds_engine_upgrade.EXTENSION,
    rds_blue_green.EXTENSION,
    unimplemented_actions.EXTENSION,
)

_lock = threading.Lock()
_installed: list[Extension] = []


def install(*, only: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Switch on every extension (or those named in `only`); idempotent. Returns the names on."""
    known = {e.name for e in EXTENSIONS}
    unknown = sorted(set(only or ()) - known)
    if unknown:
        raise ValueError(f"unknown fidelity extension(s) {unknown}; known: {sorted(known)}")
    with _lock:
        for extension in EXTENSIONS:
            if (only is None or extension.name in only) and extension not in _installed:
                extension.install()
                _installed.append(extension)
        return tuple(e.name for e in _installed)


def uninstall(*, only: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Switch installed extensions off (all, or those named in `only`), restoring moto's own
    behaviour for them. Returns the names switched off, so a caller can `install(only=...)` them
    again."""
    with _lock:
        removed = [e for e in reversed(_installed) if only is None or e.name in only]
        for extension in removed:
            extension.uninstall()
            _installed.remove(extension)
        return tuple(e.name for e in reversed(removed))


@contextmanager
def installed(*, only: tuple[str, ...] | None = None) -> Iterator[tuple[str, ...]]:
    """`install()` for the duration of a `with` block; afterwards switch off what it switched on
    (extensions that were on before stay on)."""
    with _lock:
        before = {e.name for e in _installed}
    names = install(only=only)
    try:
        yield names
    finally:
        uninstall(only=tuple(n for n in names if n not in before))
