"""The google.rpc.Status error envelope (wire-formats §5.6, §9.6) and its retry hints.

`ErrorInfo.kind` is Gemini's `status` name (RESOURCE_EXHAUSTED...); `code` is the
`google.rpc.ErrorInfo.reason` (API_KEY_INVALID...). A retry hint is read, in this order, from
`RetryInfo.retryDelay` ("37s", "0.84s"), `ErrorInfo.metadata.quotaResetDelay` (a Go duration
such as "1h2m3s") and "reset after 30s" in the message; it is written back as `RetryInfo`.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.formats.gemini._common import text_of

__all__ = [
    "decode_error",
    "duration_seconds",
    "encode_error",
    "encode_stream_error",
    "error_from_object",
    "error_object",
    "status_name",
]

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
    529: "UNAVAILABLE",
}
_GRPC_NAMES = frozenset(_STATUS_NAMES.values()) | {
    "FAILED_PRECONDITION", "OUT_OF_RANGE", "ALREADY_EXISTS", "DATA_LOSS", "UNKNOWN",
}  # fmt: skip
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_REASON = re.compile(r"[A-Z][A-Z0-9_]*")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RESET_AFTER = re.compile(r"reset after (\d+(?:\.\d+)?)\s*s", re.IGNORECASE)
_json = msgspec.json.Decoder()


def status_name(status: int) -> str:
    """The google.rpc status name usual for an HTTP status."""
    if status in _STATUS_NAMES:
        return _STATUS_NAMES[status]
    return "INTERNAL" if status >= 500 else "INVALID_ARGUMENT"


def duration_seconds(text: Any) -> float | None:
    """Seconds in a proto / Go duration ("0.84s", "1m30s", "250ms"), or None."""
    if not isinstance(text, str):
        return None
    found = _DURATION_PART.findall(text.strip())
    if not found or "".join(n + u for n, u in found) != text.strip():
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in found)


def _error_object(error: ErrorInfo) -> dict[str, Any]:
    kind = error.kind if error.kind in _GRPC_NAMES else status_name(error.status)
    obj: dict[str, Any] = {"code": error.status, "message": error.message, "status": kind}
    details: list[dict[str, Any]] = []
    if error.code and _REASON.fullmatch(error.code):
        details.append({"@type": _ERROR_INFO, "reason": error.code, "domain": "googleapis.com"})
    if error.param:
        violation = {"field": error.param, "description": error.message}
        details.append({"@type": _BAD_REQUEST, "fieldViolations": [violation]})
    if error.retry_after is not None:
        delay = f"{max(error.retry_after, 0.0):.3f}".rstrip("0").rstrip(".")
        details.append({"@type": _RETRY_INFO, "retryDelay": f"{delay}s"})
    if details:
        obj["details"] = details
    return obj


def encode_error(error: ErrorInfo) -> bytes:
    """The `{"error": {code, message, status, details?}}` body."""
    return msgspec.json.encode({"error": _error_object(error)})


def encode_stream_error(error: ErrorInfo) -> bytes:
    """An error after the stream began: the same object as an SSE data line."""
    return b"data: " + encode_error(error) + b"\n\n"


def error_object(error: ErrorInfo) -> dict[str, Any]:
    """The error envelope as a JSON value (for the JSON-array stream)."""
    return {"error": _error_object(error)}


def error_from_object(error: dict[str, Any], status: int) -> ErrorInfo:
    """An ErrorInfo for a google.rpc.Status object (`status` when it names no code)."""
    code = error.get("code")
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
        status = code
    details = error.get("details")
    details = [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
    message = text_of(error.get("message")) or f"upstream error (HTTP {status})"
    reason: str | None = None
    retry: float | None = None
    for detail in details:
        kind = detail.get("@type")
        if kind == _RETRY_INFO and retry is None:
            retry = duration_seconds(detail.get("retryDelay"))
        elif kind == _ERROR_INFO:
            reason = text_of(detail.get("reason")) or reason
            metadata = detail.get("metadata")
            if retry is None and isinstance(metadata, dict):
                retry = duration_seconds(metadata.get("quotaResetDelay"))
    if retry is None and (found := _RESET_AFTER.search(message)):
        retry = float(found.group(1))
    kind = text_of(error.get("status")) or status_name(status)
    return ErrorInfo(status, message, kind, reason, retry)


def decode_error(status: int, body: bytes) -> ErrorInfo:
    """An upstream error body: the envelope, the same in a one-element array, or anything."""
    try:
        payload: Any = _json.decode(body)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        payload = None
    if isinstance(payload, list) and payload:
        payload = payload[0]
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        info = error_from_object(error, status)
        info.status = status  # the HTTP status is the truth; the body's code may differ
        return info
    text = body.decode("utf-8", "replace").strip()
    message = text_of(error) or text[:300] or f"upstream error (HTTP {status})"
    return ErrorInfo(status, message, status_name(status))
