"""OpenAI Chat Completions bodies as the real API writes them, for fake upstreams and assertions.

Shapes follow wire-formats.md §1.5-§1.7 and §3: ``chat.completion`` objects,
``chat.completion.chunk`` SSE events ending in ``data: [DONE]``, the error envelope, and the
models list. Reasoning travels as the de-facto ``reasoning_content`` (§1.6, last bullet); tool
call arguments stream as fragments keyed by ``index``, interleaved when there are several.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "ChatToolCall",
    "Usage",
    "chunk_events",
    "completion_body",
    "dumps",
    "error_body",
    "models_body",
    "split_json",
    "split_text",
    "sse_data",
]

_FINGERPRINT = "fp_fake"

_ERROR_DEFAULTS: dict[int, tuple[str, str, str | None]] = {
    400: ("Invalid request.", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("Country, region, or territory not supported", "invalid_request_error", None),
    404: (
        "The model does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    ),
    429: ("Rate limit reached for requests.", "requests", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request.", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: (
        "The engine is currently overloaded, please try again later.",
        "service_unavailable_error",
        "server_is_overloaded",
    ),
}


@dataclass(frozen=True)
class Usage:
    """Token counts of one reply; cached and reasoning tokens are subsets, as OpenAI counts them."""

    prompt_tokens: int = 9
    completion_tokens: int = 12
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """prompt + completion, the way OpenAI totals them."""
        return self.prompt_tokens + self.completion_tokens

    def to_json(self) -> dict[str, Any]:
        """The ``usage`` object of a response or of the final stream chunk."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": self.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }


def dumps(obj: Any) -> bytes:
    """Compact JSON, as the OpenAI API emits it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def split_text(text: str, pieces: int | None) -> list[str]:
    """Cut text into stream deltas: per word when pieces is None, else into that many slices."""
    if pieces is None:
        words = text.split(" ")
        return [w + " " for w in words[:-1]] + [words[-1]]
    if pieces < 1:
        raise ValueError("a stream needs at least one content chunk")
    size = -(-len(text) // pieces) if text else 0
    return [text[i * size : (i + 1) * size] for i in range(pieces)]


class ChatToolCall(NamedTuple):
    """A tool call as Chat carries it: the arguments are a JSON string."""

    id: str
    name: str
    arguments: str


def split_json(text: str) -> list[str]:
    """Cut a JSON string into the 2-3 fragments a stream carries (short ones stay whole)."""
    if len(text) <= 2:
        return [text]
    size = -(-len(text) // 3)
    return [text[i : i + size] for i in range(0, len(text), size)]


def _tool_call_json(call: ChatToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def completion_body(
    *,
    id: str,
    created: int,
    model: str,
    text: str,
    finish_reason: str,
    usage: Usage,
    reasoning: str | None = None,
    tool_calls: Sequence[ChatToolCall] = (),
) -> dict[str, Any]:
    """A non-streaming ``chat.completion`` object with one choice.

    content is null when there are tool calls and no text, as OpenAI answers.
    """
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not tool_calls else None,
        "refusal": None,
        "annotations": [],
    }
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = [_tool_call_json(call) for call in tool_calls]
    return {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": _FINGERPRINT,
        "service_tier": "default",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": usage.to_json(),
    }


def _tool_call_deltas(tool_calls: Sequence[ChatToolCall]) -> list[dict[str, Any]]:
    """One delta per fragment: every call's head first, then argument pieces round-robin."""
    deltas: list[dict[str, Any]] = []
    for index, call in enumerate(tool_calls):
        head = {"index": index, **_tool_call_json(call)}
        head["function"] = {"name": call.name, "arguments": ""}
        deltas.append({"tool_calls": [head]})
    fragments = [split_json(call.arguments) for call in tool_calls]
    for round_ in range(max(map(len, fragments), default=0)):
        for index, pieces in enumerate(fragments):
            if round_ < len(pieces):
                piece = {"index": index, "function": {"arguments": pieces[round_]}}
                deltas.append({"tool_calls": [piece]})
    return deltas


def chunk_events(
    *,
    id: str,
    created: int,
    model: str,
    pieces: Sequence[str],
    finish_reason: str,
    usage: Usage | None,
    reasoning_pieces: Sequence[str] = (),
    tool_calls: Sequence[ChatToolCall] = (),
) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of one stream, without the ``[DONE]`` terminator.

    A role chunk, then one chunk per reasoning piece, per text piece and per tool-call fragment,
    the finish chunk, then (only when usage is given, i.e. the request asked for
    ``stream_options.include_usage``) a usage chunk with ``choices: []``. With tool calls, empty
    text pieces are left out.
    """

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": _FINGERPRINT,
            "service_tier": "default",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage is not None:
            body["usage"] = None
        return body

    if tool_calls:
        pieces = [piece for piece in pieces if piece]
    events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    events += [chunk({"reasoning_content": piece}, None) for piece in reasoning_pieces]
    events += [chunk({"content": piece}, None) for piece in pieces]
    events += [chunk(delta, None) for delta in _tool_call_deltas(tool_calls)]
    events.append(chunk({}, finish_reason))
    if usage is not None:
        last = chunk({}, None)
        last["choices"] = []
        last["usage"] = usage.to_json()
        events.append(last)
    return events


def error_body(
    status: int, message: str | None = None, *, type: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The ``{"error": {...}}`` envelope, with OpenAI's usual type and code for the status."""
    default_message, default_type, default_code = _ERROR_DEFAULTS.get(
        status, (f"Upstream error {status}.", "server_error" if status >= 500 else "error", None)
    )
    return {
        "error": {
            "message": message if message is not None else default_message,
            "type": type if type is not None else default_type,
            "param": None,
            "code": code if code is not None else default_code,
        }
    }


def models_body(ids: Sequence[str]) -> dict[str, Any]:
    """The ``GET /v1/models`` list."""
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"} for m in ids
        ],
    }


def sse_data(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order (comments and other fields skipped)."""
    payloads: list[str] = []
    for event in text.replace("\r\n", "\n").split("\n\n"):
        lines = [ln[5:].removeprefix(" ") for ln in event.split("\n") if ln.startswith("data:")]
        if lines:
            payloads.append("\n".join(lines))
    return payloads
