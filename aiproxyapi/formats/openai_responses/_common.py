"""Names and small conversions shared by the Responses codec modules."""

from __future__ import annotations

import re
import secrets
from typing import Any

import msgspec

from aiproxyapi.canonical import StopReason, Usage
from aiproxyapi.formats.dialect import Format

FMT = Format.OPENAI_RESPONSES.value
"""The extras key and `signature_source` value of this dialect."""

_DATA_URL = re.compile(r"data:([^;,]*)(?:;[^,]*)?;base64,(.*)", re.DOTALL)
_NOT_ID = re.compile(r"[^A-Za-z0-9]")


def own(extras: dict[str, Any]) -> dict[str, Any]:
    """This dialect's share of an extras bag (empty when there is none)."""
    value = extras.get(FMT)
    return value if isinstance(value, dict) else {}


def tagged(fields: dict[str, Any]) -> dict[str, Any]:
    """An extras bag holding `fields` under this dialect, or an empty bag."""
    return {FMT: fields} if fields else {}


def rest(obj: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The keys of `obj` that the hub has no field for."""
    return {key: value for key, value in obj.items() if key not in known}


def split_data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of a `data:` URL, or None for any other URL."""
    match = _DATA_URL.fullmatch(url)
    return (match.group(1), match.group(2)) if match else None


def data_url(media_type: str, data: str) -> str:
    """A base64 `data:` URL."""
    return f"data:{media_type};base64,{data}"


def response_id(canonical_id: str) -> str:
    """A `resp_` id derived from a canonical answer id (random when there is none)."""
    if canonical_id.startswith("resp_"):
        return canonical_id
    # Other dialects' ids (chatcmpl-…, msg_…) keep their letters so logs still line up.
    return "resp_" + (_NOT_ID.sub("", canonical_id) or secrets.token_hex(12))


def item_id(prefix: str, resp_id: str, index: int) -> str:
    """A deterministic item id (`msg_`, `fc_`, `rs_`), unique within one response."""
    return f"{prefix}_{resp_id.removeprefix('resp_')}_{index}"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _details(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def usage_from_wire(obj: Any) -> Usage | None:
    """Canonical usage from a Responses `usage` object (None when there is none)."""
    if not isinstance(obj, dict):
        return None
    inputs = _details(obj, "input_tokens_details")
    outputs = _details(obj, "output_tokens_details")
    return Usage(
        input=_int(obj.get("input_tokens")),
        output=_int(obj.get("output_tokens")),
        reasoning=_int(outputs.get("reasoning_tokens")),
        cached=_int(inputs.get("cached_tokens")),
        cache_write=_int(inputs.get("cache_write_tokens")),
    )


def usage_to_wire(usage: Usage) -> dict[str, Any]:
    """A Responses `usage` object (both already count cached and reasoning tokens)."""
    inputs: dict[str, int] = {"cached_tokens": usage.cached}
    if usage.cache_write:
        inputs["cache_write_tokens"] = usage.cache_write
    return {
        "input_tokens": usage.input,
        "input_tokens_details": inputs,
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": usage.total,
    }


def stop_reason_for(status: Any, incomplete: Any, *, tool_call: bool, refusal: bool) -> StopReason:
    """The hub's stop reason for a final response status (wire-formats §9.1)."""
    if status == "incomplete":
        reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
        # Any other truncation (context overflow, tool-call caps) reads as a token cap.
        return StopReason.CONTENT_FILTER if reason == "content_filter" else StopReason.MAX_TOKENS
    if status in ("failed", "cancelled"):
        return StopReason.ERROR
    if tool_call:
        return StopReason.TOOL_USE
    return StopReason.CONTENT_FILTER if refusal else StopReason.END


def status_for(stop: StopReason, *, refusal: bool) -> tuple[str, dict[str, str] | None]:
    """The Responses `status` and `incomplete_details` for a stop reason."""
    if stop is StopReason.MAX_TOKENS:
        return "incomplete", {"reason": "max_output_tokens"}
    if stop is StopReason.CONTENT_FILTER and not refusal:
        return "incomplete", {"reason": "content_filter"}
    if stop is StopReason.ERROR:
        return "failed", None
    return "completed", None


def response_object(
    resp_id: str,
    model: str,
    *,
    created: int,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
) -> dict[str, Any]:
    """The Response object of §2.3, with the request echo fields at neutral defaults."""
    return {
        "id": resp_id,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": None,
        "store": False,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "metadata": {},
        "usage": usage_to_wire(usage) if usage is not None else None,
    }


def sse_event(kind: str, payload: dict[str, Any], sequence: int) -> bytes:
    """One stream event: `event: <type>` and its JSON, which repeats the type (wire-formats §2.4)."""
    data = {"type": kind, **payload, "sequence_number": sequence}
    return b"event: " + kind.encode() + b"\ndata: " + msgspec.json.encode(data) + b"\n\n"


def sub(mine: dict[str, Any], key: str) -> dict[str, Any]:
    """A dict kept under `key` in this dialect's extras (empty when absent)."""
    value = mine.get(key)
    return value if isinstance(value, dict) else {}


def listed(mine: dict[str, Any], key: str) -> list[Any]:
    """A list kept under `key` in this dialect's extras (empty when absent)."""
    value = mine.get(key)
    return value if isinstance(value, list) else []
