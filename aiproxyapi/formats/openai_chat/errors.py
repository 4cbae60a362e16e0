"""The OpenAI error envelope (wire-formats §1.7), as a body and as an in-stream event.

``{"error": {"message", "type", "param", "code"}}``; after a stream began it travels as one
`data:` event, which the OpenAI SDK raises as an APIError. Retry hints are headers, read by the
relay, not here.
"""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.formats.codec import ErrorInfo

__all__ = [
    "decode_error",
    "encode_error",
    "encode_error_info",
    "encode_stream_error",
    "encode_stream_error_info",
    "type_for_status",
]

_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_exceeded"}
_any = msgspec.json.Decoder()


def type_for_status(status: int) -> str:
    """The envelope `type` usual for an HTTP status, when the error names none."""
    if status in _TYPES:
        return _TYPES[status]
    return "server_error" if status >= 500 else "invalid_request_error"


def encode_error(message: str, kind: str, code: str | None, param: str | None = None) -> bytes:
    """The OpenAI error envelope."""
    return msgspec.json.encode(
        {"error": {"message": message, "type": kind, "param": param, "code": code}}
    )


def encode_stream_error(message: str, kind: str, code: str | None) -> bytes:
    """An error after the stream started, as the OpenAI SDK recognises it."""
    return b"data: " + encode_error(message, kind, code) + b"\n\n"


def encode_error_info(error: ErrorInfo) -> bytes:
    """The envelope for an ErrorInfo (the type follows the status when it has none of OpenAI's).

    Gemini names its errors in upper case (`INVALID_ARGUMENT`); those are no OpenAI `type`.
    """
    kind = error.kind if error.kind and not error.kind.isupper() else type_for_status(error.status)
    return encode_error(error.message, kind, error.code, error.param)


def encode_stream_error_info(error: ErrorInfo) -> bytes:
    """The in-stream error event for an ErrorInfo; no `[DONE]` follows it."""
    return b"data: " + encode_error_info(error) + b"\n\n"


def decode_error(status: int, body: bytes) -> ErrorInfo:
    """An upstream error body: the envelope, the bare-string variants, or a generic error.

    The text of a body that is not JSON is not repeated: it may be an HTML page or echo a header.
    """
    try:
        payload: Any = _any.decode(body)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        payload = None
    if isinstance(payload, list) and payload:
        payload = payload[0]  # some servers wrap the envelope in an array
    message, kind, code = "", "", None
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            message = _text(error.get("message"))
            kind = _text(error.get("type"))
            code = _text(error.get("code")) or None
        elif isinstance(error, str):
            message = error
        if not message:
            message = _text(payload.get("detail")) or _text(payload.get("message"))
    return ErrorInfo(
        status,
        message or f"the upstream answered HTTP {status}",
        kind or type_for_status(status),
        code,
    )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)
