"""Chat Completions non-streamed answer ↔ canonical Response (the first choice)."""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.canonical import Part, Response, TextPart, ThinkingPart, ToolCallPart, Usage
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_chat import _wire as w
from aiproxyapi.formats.openai_chat._common import (
    DIALECT,
    chat_extras,
    convert,
    make_extras,
    merged,
    now,
    unknown_fields,
    with_prefix,
)
from aiproxyapi.formats.openai_chat._usage import (
    WireUsage,
    finish_reason,
    stop_reason,
    usage_from_wire,
    usage_to_wire,
)
from aiproxyapi.formats.openai_chat.content import decode_tool_call, encode_tool_call

__all__ = ["decode_response", "encode_response"]


class _Message(msgspec.Struct):
    role: str = "assistant"
    content: str | list[Any] | None = None
    refusal: str | None = None
    tool_calls: list[w.ToolCall] | None = None
    function_call: w.FunctionCall | None = None
    reasoning_content: str | None = None
    reasoning: Any = None


class _Choice(msgspec.Struct):
    index: int = 0
    message: _Message | None = None
    finish_reason: str | None = None


class _Answer(msgspec.Struct):
    id: str = ""
    object: str = ""
    model: str = ""
    created: int = 0
    choices: list[_Choice] = msgspec.field(default_factory=list)
    usage: WireUsage | None = None


def decode_response(body: dict[str, Any]) -> Response:
    """An upstream's Chat answer as a canonical response; n>1 answers keep only the first choice."""
    answer = convert(body, _Answer)
    if not answer.choices and isinstance(body.get("error"), dict):
        raise TranslationError(
            f"the upstream answered with an error: {body['error'].get('message')}"
        )
    extra = unknown_fields(body, _Answer)
    marks: dict[str, Any] = {}
    parts: list[Part] = []
    finish = None
    if answer.choices:
        choice, raw_choice = answer.choices[0], body["choices"][0]
        finish = choice.finish_reason
        if choice_extra := unknown_fields(raw_choice, _Choice):
            marks["choice"] = choice_extra
        raw_message = raw_choice.get("message") if isinstance(raw_choice, dict) else None
        if choice.message is not None:
            parts = _parts(choice.message, raw_message)
            if message_extra := unknown_fields(raw_message, _Message):
                marks["message"] = message_extra
    tool_calls = any(isinstance(p, ToolCallPart) for p in parts)
    return Response(
        id=answer.id,
        model=answer.model,
        parts=parts,
        stop_reason=stop_reason(finish, tool_calls),
        usage=usage_from_wire(answer.usage) if answer.usage else Usage(),
        created=answer.created,
        extras=make_extras(extra, marks),
    )


def _parts(message: _Message, raw: Any) -> list[Part]:
    parts: list[Part] = []
    reasoning = message.reasoning_content
    if reasoning is None and isinstance(message.reasoning, str):
        reasoning = message.reasoning
    if reasoning:
        parts.append(ThinkingPart(text=reasoning, signature_source=DIALECT))
    content = message.content
    if isinstance(content, list):
        # Some compatible servers answer with content parts; their text is the content.
        content = "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    if content:
        parts.append(TextPart(text=content))
    if message.refusal:
        parts.append(TextPart(text=message.refusal, extras=make_extras({}, {"refusal": True})))
    raw_calls = raw.get("tool_calls") if isinstance(raw, dict) else None
    for k, call in enumerate(message.tool_calls or ()):
        raw_call = raw_calls[k] if isinstance(raw_calls, list) else None
        path = f"choices[0].message.tool_calls[{k}]"
        parts.append(decode_tool_call(call, raw_call, path, f"call_{k}"))
    if message.function_call is not None:
        legacy = w.ToolCall(id="call_0", function=message.function_call)
        parts.append(decode_tool_call(legacy, None, "choices[0].message.function_call", "call_0"))
    return parts


def encode_response(response: Response, model: str) -> dict[str, Any]:
    """The client's Chat answer for a canonical response; `model` is the name the client used."""
    thinking: list[str] = []
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in response.parts:
        if isinstance(part, ThinkingPart):
            thinking.append(part.text)
        elif isinstance(part, TextPart):
            refusal = chat_extras(part.extras)[1].get("refusal")
            (refusals if refusal else texts).append(part.text)
        elif isinstance(part, ToolCallPart):
            calls.append(encode_tool_call(part, f"call_{len(calls)}"))
    raw, marks = chat_extras(response.extras)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not (calls or refusals) else None,
        "refusal": "".join(refusals) if refusals else None,
    }
    if calls:
        message["tool_calls"] = calls
    if any(thinking):
        message["reasoning_content"] = "".join(thinking)
    choice = {
        "index": 0,
        "message": merged(message, marks.get("message", {})),
        "logprobs": None,
        "finish_reason": finish_reason(response.stop_reason, bool(calls)),
    }
    body = {
        "id": with_prefix(response.id, "chatcmpl-"),
        "object": "chat.completion",
        "created": response.created or now(),
        "model": model,
        "choices": [merged(choice, marks.get("choice", {}))],
        "usage": usage_to_wire(response.usage),
    }
    return merged(body, raw)
