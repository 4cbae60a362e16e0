"""Error bodies: the OpenAI envelope (wire-formats §1.7), Codex's `{"detail": ...}` and usage
limits (§7.2), and the in-stream failure events (§2.4)."""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec

from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.formats.openai_chat.errors import encode_error_info, type_for_status
from aiproxyapi.formats.openai_responses._common import response_object, sse_event

__all__ = [
    "decode_error",
    "encode_error",
    "encode_stream_error",
    "error_from_failure",
    "failure_events",
    "status_for_code",
]

_CODE_STATUS = {
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "usage_limit_reached": 429,
    "rate_limit_error": 429,
    "invalid_prompt": 400,
    "context_length_exceeded": 400,
    "invalid_request_error": 400,
    "server_is_overloaded": 503,
    "slow_down": 503,
    "vector_store_timeout": 504,
}
_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)
_json = msgspec.json.Decoder()


def status_for_code(code: str) -> int:
    """The HTTP status that an in-stream error code stands for."""
    if code in _CODE_STATUS:
        return _CODE_STATUS[code]
    return 400 if "image" in code else 500


def encode_error(error: ErrorInfo) -> bytes:
    """The OpenAI error envelope, shared with OpenAI Chat (wire-formats §1.7)."""
    return encode_error_info(error)


def decode_error(status: int, body: bytes, now: float | None = None) -> ErrorInfo:
    """An upstream error body: the OpenAI envelope, Codex's `detail`, or anything else."""
    try:
        payload: Any = _json.decode(body)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        payload = None
    message, kind, code, retry = "", "", None, None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            message = _text(error.get("message"))
            kind = _text(error.get("type"))
            code = _text(error.get("code")) or None
            retry = _resets(error, time.time() if now is None else now)
            if kind == "usage_limit_reached" and code is None:
                code = kind
        elif isinstance(error, str):
            message = error
        if not message:
            message = _detail(payload.get("detail")) or _text(payload.get("message"))
    # The text of a body that is not JSON is not repeated: it may be an HTML page or echo a
    # header, as the OpenAI Chat codec decided too.
    message = message or f"the upstream answered HTTP {status}"
    if retry is None and (found := _TRY_AGAIN.search(message)):
        retry = float(found.group(1)) / (1000 if found.group(2).lower() == "ms" else 1)
    return ErrorInfo(status, message, kind or type_for_status(status), code, retry)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


def _detail(detail: Any) -> str:
    # FastAPI gives a string, or a list of {loc, msg, type} for validation failures.
    if isinstance(detail, list):
        return "; ".join(_detail(entry) for entry in detail)
    if isinstance(detail, dict):
        return _text(detail.get("msg") or detail.get("message"))
    return _text(detail)


def _resets(error: dict[str, Any], now: float) -> float | None:
    seconds = error.get("resets_in_seconds")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return max(0.0, float(seconds))
    at = error.get("resets_at")
    if isinstance(at, int | float) and not isinstance(at, bool):
        return max(0.0, float(at) - now)
    return None


def error_from_failure(error: Any, fallback: str) -> ErrorInfo:
    """An ErrorInfo for a failed response's `error` object (or an `error` event)."""
    if not isinstance(error, dict):
        return ErrorInfo(500, fallback, "server_error", "server_error")
    code = _text(error.get("code")) or _text(error.get("type")) or "server_error"
    message = _text(error.get("message")) or fallback
    return ErrorInfo(status_for_code(code), message, code, code)


def failure_events(error: ErrorInfo, response: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The `error` event and the terminal `response.failed` for an in-stream failure."""
    code = error.code or error.kind or "server_error"
    failed = response | {"status": "failed", "error": {"code": code, "message": error.message}}
    return [
        ("error", {"code": code, "message": error.message, "param": None}),
        ("response.failed", {"response": failed}),
    ]


def encode_stream_error(error: ErrorInfo) -> bytes:
    """An in-stream failure written without the stream's state (passthrough relays).

    The sequence numbers restart at 0: the upstream's numbering is not known here.
    """
    response = response_object(
        "resp_failed", "", created=int(time.time()), status="failed", output=[], usage=None
    )
    return b"".join(
        sse_event(kind, payload, seq)
        for seq, (kind, payload) in enumerate(failure_events(error, response))
    )
