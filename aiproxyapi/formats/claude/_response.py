"""Anthropic non-streamed answers ↔ the canonical response.

`Response.extras["claude"]` keeps what the hub has no field for, so an Anthropic answer read and
written again comes out the same: `blocks` (`[index, block]` pairs of server-tool and other
blocks without a canonical part), `stop_reason` (an original value the hub folds into another,
such as `refusal` or `model_context_window_exceeded`), `usage` (usage fields beyond the four
counts: cache_creation breakdown, service_tier, server_tool_use, …) and `fields` (other
top-level fields such as container or stop_details).
"""

from __future__ import annotations

import uuid
from typing import Any

from aiproxyapi.canonical import Response, ToolCallPart
from aiproxyapi.formats.claude._blocks import decode_blocks, encode_part, place
from aiproxyapi.formats.claude._fields import at, opt_dict, opt_str, req_dict
from aiproxyapi.formats.claude._mapping import (
    ToolIds,
    stop_from_claude,
    stop_to_claude,
    usage_from_claude,
    usage_to_claude,
)

__all__ = ["decode_response", "encode_response", "message_id"]

_KNOWN = frozenset(
    {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
)
_COUNTS = frozenset(
    {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}
)


def decode_response(body: dict[str, Any]) -> Response:
    """An Anthropic `message` object as a canonical response."""
    body = req_dict(body, "body")
    if body.get("type") == "error":
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        raise ValueError(f"the upstream answered with an error: {message or 'no message'}")
    parts, kept = decode_blocks(body.get("content") or [], "content")
    usage = opt_dict(body, "usage") or {}
    raw_stop = body.get("stop_reason")
    reason = stop_from_claude(raw_stop)
    claude: dict[str, Any] = {}
    if kept:
        claude["blocks"] = kept
    if isinstance(raw_stop, str) and stop_to_claude(reason) != raw_stop:
        claude["stop_reason"] = raw_stop
    if extra_usage := {k: v for k, v in usage.items() if k not in _COUNTS}:
        claude["usage"] = extra_usage
    if fields := {k: v for k, v in body.items() if k not in _KNOWN}:
        claude["fields"] = fields
    return Response(
        id=opt_str(body, "id") or "",
        model=opt_str(body, "model") or "",
        parts=parts,
        stop_reason=reason,
        stop_sequence=opt_str(body, "stop_sequence") or "",
        usage=usage_from_claude(usage),
        extras={"claude": claude} if claude else {},
    )


def encode_response(response: Response, model: str) -> dict[str, Any]:
    """The Anthropic `message` object for a canonical response; `model` as the client named it."""
    own = response.extras.get("claude")
    claude: dict[str, Any] = own if isinstance(own, dict) else {}
    identity = response.id or message_id()
    reserved = [part.id for part in response.parts if isinstance(part, ToolCallPart)]
    ids = ToolIds(reserved, prefix=f"toolu_{ToolIds()(identity)}_")
    content = [
        block
        for i, part in enumerate(response.parts)
        if (block := encode_part(part, ids, at("content", i), response=True)) is not None
    ]
    content = place(content, claude.get("blocks"))
    stop = stop_to_claude(response.stop_reason, claude.get("stop_reason"))
    if stop == "end_turn" and any(block.get("type") == "tool_use" for block in content):
        # A tool call decides the stop reason whatever the upstream said (wire-formats §9.1).
        stop = "tool_use"
    usage = usage_to_claude(response.usage)
    for key, value in (claude.get("usage") or {}).items():
        usage.setdefault(key, value)
    body: dict[str, Any] = {
        "id": identity,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": response.stop_sequence or None,
        "usage": usage,
    }
    for key, value in (claude.get("fields") or {}).items():
        body.setdefault(key, value)
    return body


def message_id() -> str:
    """A new Anthropic-style message id, for answers whose upstream gave none."""
    return f"msg_{uuid.uuid4().hex[:24]}"
