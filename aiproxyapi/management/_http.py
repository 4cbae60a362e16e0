"""What every management route shares: JSON answers, errors, body reading, the gateway."""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec
from litestar import Request, Response
from litestar.datastructures import State

from aiproxyapi import __version__
from aiproxyapi.gateway import Gateway

__all__ = [
    "CPA_HEADERS",
    "MAX_BODY_BYTES",
    "ManagementError",
    "MgmtRequest",
    "decode_json",
    "gateway_of",
    "json_response",
    "ok",
    "read_body",
    "read_json",
]

MgmtRequest: TypeAlias = Request[Any, Any, State]

#: Config documents and auth records are small; anything bigger is refused before it is read.
MAX_BODY_BYTES = 4 * 1024 * 1024

#: Headers CLIProxyAPI sends on management answers; tools read the version from them.
CPA_HEADERS = {
    "X-CPA-VERSION": __version__,
    "X-CPA-COMMIT": "none",
    "X-CPA-BUILD-DATE": "unknown",
    "X-CPA-SUPPORT-PLUGIN": "false",
    "Cache-Control": "no-store",
}

_decoder = msgspec.json.Decoder()


class ManagementError(Exception):
    """A management call that cannot be done: the status and CLIProxyAPI's `{"error": ...}` body."""

    def __init__(self, status: int, error: str, message: str = "", **extra: Any) -> None:
        super().__init__(message or error)
        self.status = status
        self.body: dict[str, Any] = {"error": error}
        if message:
            self.body["message"] = message
        self.body.update(extra)
        self.headers: dict[str, str] = {}


def gateway_of(request: MgmtRequest) -> Gateway:
    """The gateway serving this app."""
    gateway: Gateway = request.app.state["gateway"]
    return gateway


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    """A JSON answer with the management headers."""
    return Response(
        msgspec.json.encode(body),
        status_code=status,
        media_type="application/json",
        headers={**CPA_HEADERS, **(headers or {})},
    )


def ok(**extra: Any) -> Response[bytes]:
    """`{"status": "ok"}`, CLIProxyAPI's answer to a successful change."""
    return json_response({"status": "ok", **extra})


async def read_body(request: MgmtRequest, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refused with 413 past `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ManagementError(413, "request_too_large", f"the body exceeds {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ManagementError(413, "request_too_large", f"the body exceeds {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def decode_json(raw: bytes) -> Any:
    """A JSON document, or a 400 `invalid body`."""
    try:
        return _decoder.decode(raw)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        raise ManagementError(400, "invalid body", "the body is not valid JSON") from None


async def read_json(request: MgmtRequest) -> Any:
    """The body decoded as JSON."""
    return decode_json(await read_body(request))
