"""An API action the emulator lacks fails at once, as a client error.

AWS behaviour: every action of a service's API is answered. Where the local emulator cannot
answer one, the closest AWS behaviour is that of an action the service does not know: a client
error (HTTP 400), which SDKs do not retry, so the caller learns at once and takes its fallback.

Gap in moto 5.2.5: an action moto has not implemented raises `NotImplementedError`, which its
server answers as HTTP 500, a server error SDKs retry with backoff. botocore's adaptive
retries (the operations' clients) made up to five attempts, with up to a second of backoff,
before the caller saw the failure: `ops verify` reads the backup plan's selections
(`ListBackupSelections`, which moto lacks) on every run, and waited each time before reading
the deployed template instead (1.2 s in all in the end-to-end drill).

This patches moto's `BaseResponse.call_action`: the error is `UnknownOperationException` (400),
and its message names the action and says the emulator lacks it.
"""

from __future__ import annotations

from typing import Any

from local_aws.fidelity._registry import Extension

CODE = "UnknownOperationException"
_original: dict[str, Any] = {}


def call_action(self: Any) -> Any:
    """`BaseResponse.call_action`, with an action moto lacks refused as a client error, in
    the service's protocol (a JSON body for the JSON protocols, XML for the query ones)."""
    from moto.core.exceptions import JsonRESTError, _RESTError
    from moto.core.utils import get_service_model

    try:
        return _original["call_action"](self)
    except NotImplementedError:
        json_protocol = "json" in get_service_model(self.service_name).protocol
        refusal = (JsonRESTError if json_protocol else _RESTError)(
            CODE, f"the local AWS emulator (moto) does not implement {self._get_action()}")
        headers = {**dict(refusal.get_headers()), "status": refusal.code}
        return self._transform_response(self.response_headers, (refusal.description, headers))


def _install() -> None:
    from moto.core.responses import BaseResponse

    if not _original:
        _original["call_action"] = BaseResponse.call_action
        BaseResponse.call_action = call_action  # type: ignore[method-assign]


def _uninstall() -> None:
    from moto.core.responses import BaseResponse

    if _original:
        BaseResponse.call_action = _original.pop("call_action")  # type: ignore[method-assign]


EXTENSION = Extension(
    name="unimplemented-actions",
    closes="an API action the emulator lacks is a client error (400, not retried), not a "
           "server error that SDKs retry with backoff",
    install=_install, uninstall=_uninstall)
