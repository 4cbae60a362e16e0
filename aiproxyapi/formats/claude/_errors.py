"""Anthropic error bodies, whole and in-stream: `{"type":"error","error":{"type","message"}}`."""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.formats.codec import ErrorInfo

__all__ = [
    "decode_error",
    "encode_error",
    "encode_stream_error",
    "error_body",
    "status_for",
    "type_for",
]

# wire-formats §4.7 and §9.6.
_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
_json = msgspec.json.Decoder()


def type_for(kind: str, status: int) -> str:
    """Anthropic's `error.type`: the kind when it is one of Anthropic's, else from the status."""
    if kind in _STATUS:
        return kind
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def status_for(kind: str) -> int:
    """The HTTP status Anthropic pairs with an `error.type` (500 for unknown types)."""
    return _STATUS.get(kind, 500)


def error_body(error: ErrorInfo) -> dict[str, Any]:
    """The error envelope as a JSON value."""
    kind = type_for(error.kind, error.status)
    return {"type": "error", "error": {"type": kind, "message": error.message}}


def encode_error(error: ErrorInfo) -> bytes:
    """The bytes of an Anthropic error response body."""
    return msgspec.json.encode(error_body(error))


def encode_stream_error(error: ErrorInfo) -> bytes:
    """An `event: error` for a failure after the stream began (no message_stop follows)."""
    return b"event: error\ndata: " + encode_error(error) + b"\n\n"


def decode_error(status: int, body: bytes) -> ErrorInfo:
    """An upstream error body; anything that is not Anthropic's envelope becomes a generic one."""
    try:
        value = _json.decode(body)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        value = None
    error = value.get("error") if isinstance(value, dict) else None
    if isinstance(error, dict):
        message, kind = error.get("message"), error.get("type")
    elif isinstance(value, dict):
        message, kind = value.get("message"), None
    else:
        message, kind = None, None
    if not isinstance(message, str) or not message:
        # An HTML page from a proxy in front of the API (say a 413) is not worth relaying.
        message = f"the upstream answered HTTP {status}"
    kind = kind if isinstance(kind, str) and kind else type_for("", status)
    return ErrorInfo(status, message, kind)
