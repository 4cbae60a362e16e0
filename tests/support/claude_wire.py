"""Anthropic Messages bodies and stream events as the real API writes them.

Shapes follow wire-formats.md §4.5-§4.9: the ``message`` object, the ``message_start`` ...
``message_stop`` event sequence with ``ping``, thinking blocks closed by a ``signature_delta``,
``input_json_delta`` fragments for tool input, the error envelope, count_tokens and models.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

from ._answer import Answer
from .openai_wire import Usage, split_json

__all__ = [
    "content_blocks",
    "error_body",
    "message_body",
    "models_body",
    "stop_reason",
    "stream_events",
    "usage_json",
]

_NATIVE_STOPS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_STOP_REASONS["content_filter"] = "refusal"

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}
_request_ids = itertools.count(1)


def usage_json(usage: Usage, *, output_tokens: int | None = None) -> dict[str, Any]:
    """§9.5: input_tokens excludes cache reads; output_tokens includes thinking."""
    return {
        "input_tokens": usage.prompt_tokens - usage.cached_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": usage.completion_tokens if output_tokens is None else output_tokens,
        "service_tier": "standard",
        "server_tool_use": None,
    }


def stop_reason(finish_reason: str) -> str:
    """§9.1: OpenAI finish reasons mapped; Anthropic's own values pass through."""
    if finish_reason in _NATIVE_STOPS:
        return finish_reason
    return _STOP_REASONS.get(finish_reason, "end_turn")


def content_blocks(answer: Answer) -> list[dict[str, Any]]:
    """The final content: a thinking block (with signature), a text block, tool_use blocks."""
    blocks: list[dict[str, Any]] = []
    if answer.thinking is not None:
        blocks.append(
            {"type": "thinking", "thinking": answer.thinking, "signature": answer.signature}
        )
    if answer.has_text:
        blocks.append({"type": "text", "text": answer.text})
    blocks += [
        {
            "type": "tool_use",
            "id": answer.call_id(index, "toolu_"),
            "name": call.name,
            "input": dict(call.arguments),
        }
        for index, call in enumerate(answer.tool_calls)
    ]
    return blocks


def message_body(answer: Answer) -> dict[str, Any]:
    """The non-streaming ``message`` object."""
    return {
        "id": f"msg_fake{answer.serial}",
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": content_blocks(answer),
        "stop_reason": stop_reason(answer.finish_reason),
        "stop_sequence": None,
        "usage": usage_json(answer.usage),
    }


def _block_events(index: int, block: dict[str, Any], answer: Answer) -> list[dict[str, Any]]:
    def delta(body: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": index, "delta": body}

    kind = block["type"]
    if kind == "thinking":
        opened = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [delta({"type": "thinking_delta", "thinking": p}) for p in answer.thinking_pieces]
        deltas.append(delta({"type": "signature_delta", "signature": block["signature"]}))
    elif kind == "text":
        opened = {"type": "text", "text": ""}
        deltas = [delta({"type": "text_delta", "text": p}) for p in answer.text_pieces if p]
    else:
        opened = {**block, "input": {}}
        pieces = split_json(json.dumps(block["input"], ensure_ascii=False))
        deltas = [delta({"type": "input_json_delta", "partial_json": p}) for p in pieces]
    return [
        {"type": "content_block_start", "index": index, "content_block": opened},
        *deltas,
        {"type": "content_block_stop", "index": index},
    ]


def stream_events(answer: Answer) -> list[dict[str, Any]]:
    """Every event payload of one stream; each event's name is its ``type``."""
    start = message_body(answer)
    start.update(content=[], stop_reason=None, usage=usage_json(answer.usage, output_tokens=1))
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(content_blocks(answer)):
        block_events = _block_events(index, block, answer)
        if index == 0:  # the API pings once the first block is open
            block_events.insert(1, {"type": "ping"})
        events += block_events
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(answer.finish_reason), "stop_sequence": None},
            "usage": {"output_tokens": answer.usage.completion_tokens},
        }
    )
    events.append({"type": "message_stop"})
    return events


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """``{"type":"error","error":{"type","message"},"request_id"}`` with §4.7's type."""
    default_type = "invalid_request_error" if status < 500 else "api_error"
    kind, default_message = _ERRORS.get(status, (default_type, f"Upstream error {status}"))
    return {
        "type": "error",
        "error": {"type": kind, "message": message or default_message},
        "request_id": f"req_fake{next(_request_ids)}",
    }


def models_body(ids: Sequence[str]) -> dict[str, Any]:
    """The ``GET /v1/models`` page (asked with an ``anthropic-version`` header)."""
    return {
        "data": [
            {
                "type": "model",
                "id": model,
                "display_name": model,
                "created_at": "2025-09-29T00:00:00Z",
            }
            for model in ids
        ],
        "has_more": False,
        "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None,
    }
