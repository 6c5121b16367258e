"""How fidelity extensions plug into moto, reversibly.

moto's CloudFormation finds a resource's model through `resource_class_from_type()` and
`resource_name_property_from_type()` in `moto.cloudformation.parsing`, which read
`CloudFormationModel.__subclasses__()` through three `lru_cache`d maps (`get_model_list`,
`get_model_map`, `get_name_type_map`), and it evaluates intrinsic functions in `clean_json()`.

A *direct* subclass of `CloudFormationModel` would be live for every moto user of the process as
soon as its module is imported, and could never be switched off again, so a test could not show
moto's behaviour without the extension. Fidelity models therefore derive from `FidelityModel` (one
level down, invisible to `__subclasses__()`) and are registered here by type. While at least one
extension is installed, the two look-up functions and `clean_json` are wrapped: a registered type,
including a `Custom::` type, resolves to its fidelity model first; `clean_json` evaluates the
registered intrinsic functions (e.g. `Fn::GetStackOutput`) and post-processes strings (dynamic
references). Installing and uninstalling clear moto's three caches so no stale map survives.
Everything is restored exactly when the last extension is uninstalled.

moto's backends are typed `Any` where the extensions call them: their annotations say `str` for
arguments that the service APIs (and moto's own responses) pass as None.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel

Intrinsic = Callable[[Any, Any], Any]
"""`(arguments, resources_map) -> value` of an intrinsic function such as `Fn::GetStackOutput`."""
StringResolver = Callable[[str, Any], str]
"""`(string, resources_map) -> string`, applied to every string `clean_json` produces."""

_lock = threading.RLock()
# Model classes stay abstract for type checkers on purpose: moto marks `update_` and
# `delete_from_cloudformation_json` abstract to mean "not supported", so they are held as `type`.
_models: dict[str, type] = {}
_intrinsics: dict[str, Intrinsic] = {}
_string_resolvers: dict[str, StringResolver] = {}
_originals: dict[str, Any] = {}


class FidelityModel(CloudFormationModel):
    """Base of the fidelity CloudFormation models; never a resource type itself.

    A model declares what moto asks of it as class attributes: `resource_type`, the property
    that names the resource (`name_property`, "" when CloudFormation generates the name) and the
    `Fn::GetAtt` attributes it has (`attributes`; None accepts any, as moto's base does).
    """

    resource_type: ClassVar[str] = ""
    name_property: ClassVar[str] = ""
    attributes: ClassVar[frozenset[str] | None] = None

    @classmethod
    def cloudformation_type(cls) -> str:
        # This base is reached only through moto's model map, which lists it as a subclass.
        return cls.resource_type or f"LocalAws::Fidelity::{cls.__name__}"

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.name_property

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return cls.attributes is None or attr in cls.attributes


@dataclass(frozen=True, kw_only=True)
class Extension:
    """One fidelity extension: what AWS does that moto does not, and how to switch it on/off."""

    name: str
    closes: str
    install: Callable[[], None]
    uninstall: Callable[[], None]
    resource_type: str | None = None
    """The CloudFormation type the extension creates, if it is a resource model."""
    limit: str | None = None
    """What still differs from AWS with the extension on; `make deploy` reports it."""
    property_limits: Mapping[str, str] = field(default_factory=dict)
    """{"TYPE.Property": what differs}: limits that apply only when a template sets that
    property (at any depth of a resource's `Properties`); `make deploy` reports them then."""


def _resource_class_from_type(resource_type: str) -> Any:
    model = _models.get(resource_type)
    return model if model is not None else _originals["resource_class_from_type"](resource_type)


def _resource_name_property_from_type(resource_type: str) -> str | None:
    model = _models.get(resource_type)
    if model is not None:
        own: str = model.cloudformation_name_type()  # type: ignore[attr-defined]
        return own or None
    name: str | None = _originals["resource_name_property_from_type"](resource_type)
    return name


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    if isinstance(resource_json, dict) and len(resource_json) == 1:
        (name, arguments), = resource_json.items()
        intrinsic = _intrinsics.get(name)
        if intrinsic is not None:
            return intrinsic(arguments, resources_map)
    result = _originals["clean_json"](resource_json, resources_map)
    if isinstance(result, str):
        for resolve in tuple(_string_resolvers.values()):
            result = resolve(result, resources_map)
    return result


_WRAPPERS: dict[str, Callable[..., Any]] = {
    "resource_class_from_type": _resource_class_from_type,
    "resource_name_property_from_type": _resource_name_property_from_type,
    "clean_json": _clean_json,
}


def _clear_model_caches() -> None:
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()


def _sync_hooks() -> None:
    """Wrap moto's functions while anything is registered; restore them when nothing is."""
    active = bool(_models or _intrinsics or _string_resolvers)
    if active and not _originals:
        for name, wrapper in _WRAPPERS.items():
            _originals[name] = getattr(parsing, name)
            setattr(parsing, name, wrapper)
    elif not active and _originals:
        for name, original in _originals.items():
            setattr(parsing, name, original)
        _originals.clear()
    _clear_model_caches()


def _add(table: dict[str, Any], key: str, value: Any) -> None:
    with _lock:
        current = table.get(key)
        if current is not None and current is not value:
            raise RuntimeError(f"{key} is already handled by {current!r}; cannot register "
                               f"{value!r}")
        table[key] = value
        _sync_hooks()


def _remove(table: dict[str, Any], key: str) -> None:
    with _lock:
        table.pop(key, None)
        _sync_hooks()


def model_extension(model: type, *, resource_type: str, name: str,
                    closes: str, limit: str | None = None,
                    property_limits: Mapping[str, str] | None = None) -> Extension:
    """An extension that makes CloudFormation create `resource_type` with `model`."""
    return Extension(
        name=name, closes=closes, resource_type=resource_type, limit=limit,
        property_limits=dict(property_limits or {}),
        install=lambda: _add(_models, resource_type, model),
        uninstall=lambda: _remove(_models, resource_type),
    )


def intrinsic_extension(function: Intrinsic, *, function_name: str, name: str,
                        closes: str) -> Extension:
    """An extension that evaluates the intrinsic `function_name` (e.g. Fn::GetStackOutput)."""
    return Extension(
        name=name, closes=closes,
        install=lambda: _add(_intrinsics, function_name, function),
        uninstall=lambda: _remove(_intrinsics, function_name),
    )


def string_extension(resolver: StringResolver, *, key: str, name: str, closes: str) -> Extension:
    """An extension that rewrites every string CloudFormation evaluates (dynamic references)."""
    return Extension(
        name=name, closes=closes,
        install=lambda: _add(_string_resolvers, key, resolver),
        uninstall=lambda: _remove(_string_resolvers, key),
    )


def clean(value: Any, resources_map: Any) -> Any:
    """Evaluate intrinsic functions in `value` the way the current moto (with extensions) does."""
    return parsing.clean_json(value, resources_map)


def stack_location(resources_map: Any) -> tuple[str, str]:
    """(account id, region) of the stack a `ResourceMap` belongs to.

    moto keeps them in private attributes; reading them here keeps that coupling in one place.
    """
    return resources_map._account_id, resources_map._region_name


class EmulatedResource:
    """What a fidelity model creates when moto has no object of its own for the resource.

    CloudFormation needs a physical id (`Ref`), attributes (`Fn::GetAtt`) and a way to delete it.
    """

    def __init__(self, *, physical_resource_id: str, attributes: dict[str, Any] | None = None,
                 on_delete: Callable[[], object] | None = None) -> None:
        self.physical_resource_id = physical_resource_id
        self._attributes = dict(attributes or {})
        self._on_delete = on_delete

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name not in self._attributes:
            raise UnformattedGetAttTemplateException()
        return self._attributes[attribute_name]

    def is_created(self) -> bool:
        """Creation is synchronous here (moto asks to know whether to wait)."""
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        if self._on_delete is not None:
            self._on_delete()
