"""OpenAI Chat codec, answers: decode to the exact canonical response, encode to the exact body,
finish reasons and usage both ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiproxyapi.canonical import Response, StopReason, TextPart, ThinkingPart, ToolCallPart, Usage
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_chat import CODEC

DATA = Path(__file__).parent / "data" / "openai_chat"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text("utf-8"))
    return data


def answer(message: dict[str, Any], finish: str | None = "stop", **fields: Any) -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
    return {"id": "chatcmpl-1", "model": "m", "created": 5, "choices": [choice], **fields}


def test_decode_response_gives_the_exact_canonical_response() -> None:
    case = load("response_openai.json")
    assert CODEC.decode_response(case["body"]) == msgspec.convert(case["canonical"], Response)


def test_a_chat_answer_round_trips_with_its_unknown_fields() -> None:
    case = load("response_openai.json")
    assert (
        CODEC.encode_response(CODEC.decode_response(case["body"]), "my-reasoner")
        == case["round_trip"]
    )


def test_encode_response_from_another_dialect_gives_the_exact_body() -> None:
    case = load("response_foreign.json")
    response = msgspec.convert(case["canonical"], Response)
    assert CODEC.encode_response(response, case["model"]) == case["body"]


@pytest.mark.parametrize(
    ("finish", "calls", "reason"),
    [
        ("stop", False, StopReason.END),
        (None, False, StopReason.END),
        ("length", False, StopReason.MAX_TOKENS),
        ("max_tokens", False, StopReason.MAX_TOKENS),
        ("content_filter", False, StopReason.CONTENT_FILTER),
        ("tool_calls", True, StopReason.TOOL_USE),
        ("function_call", True, StopReason.TOOL_USE),
        ("stop", True, StopReason.TOOL_USE),  # a tool call overrides a plain stop
        ("length", True, StopReason.MAX_TOKENS),  # but not a truncation: the call is cut
        ("error", False, StopReason.ERROR),
        ("something_new", False, StopReason.END),
    ],
)
def test_finish_reasons_decode(finish: str | None, calls: bool, reason: StopReason) -> None:
    message: dict[str, Any] = {"content": "x"}
    if calls:
        message["tool_calls"] = [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ]
    assert CODEC.decode_response(answer(message, finish)).stop_reason is reason


@pytest.mark.parametrize(
    ("reason", "calls", "finish"),
    [
        (StopReason.END, False, "stop"),
        (StopReason.STOP_SEQUENCE, False, "stop"),
        (StopReason.PAUSE, False, "stop"),
        (StopReason.ERROR, False, "stop"),
        (StopReason.MAX_TOKENS, False, "length"),
        (StopReason.MAX_TOKENS, True, "length"),
        (StopReason.CONTENT_FILTER, False, "content_filter"),
        (StopReason.TOOL_USE, True, "tool_calls"),
        (StopReason.END, True, "tool_calls"),
        (StopReason.TOOL_USE, False, "stop"),  # no call to show: a plain stop
    ],
)
def test_finish_reasons_encode(reason: StopReason, calls: bool, finish: str) -> None:
    parts: list[Any] = [TextPart(text="x")]
    if calls:
        parts.append(ToolCallPart(id="c", name="f"))
    body = CODEC.encode_response(Response(id="r", model="m", parts=parts, stop_reason=reason), "m")
    assert body["choices"][0]["finish_reason"] == finish


def test_a_refusal_and_a_legacy_function_call_are_read() -> None:
    body = answer(
        {"content": None, "refusal": "No.", "function_call": {"name": "f", "arguments": "{}"}},
        "function_call",
    )
    response = CODEC.decode_response(body)
    assert response.parts == [
        TextPart(text="No.", extras={"openai": {"_chat": {"refusal": True}}}),
        ToolCallPart(id="call_0", name="f", arguments="{}"),
    ]
    message = CODEC.encode_response(response, "m")["choices"][0]["message"]
    assert (message["content"], message["refusal"]) == (None, "No.")


def test_content_parts_and_openrouter_reasoning_are_read() -> None:
    body = answer(
        {
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            "reasoning": "r",
        }
    )
    assert CODEC.decode_response(body).parts == [
        ThinkingPart(text="r", signature_source="openai"),
        TextPart(text="ab"),
    ]


def test_usage_of_compatible_servers() -> None:
    deepseek = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 8}
    cliproxy = {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "prompt_tokens_details": {"cached_creation_tokens": 3},
    }
    assert CODEC.decode_response(answer({"content": "x"}, usage=deepseek)).usage == Usage(
        input=10, output=2, cached=8
    )
    assert CODEC.decode_response(answer({"content": "x"}, usage=cliproxy)).usage == Usage(
        input=10, output=2, cache_write=3
    )
    assert CODEC.decode_response(answer({"content": "x"})).usage == Usage()


def test_an_answer_without_choices_is_empty_and_an_error_body_is_refused() -> None:
    empty = CODEC.decode_response({"id": "x", "model": "m", "choices": []})
    assert (empty.parts, empty.stop_reason) == ([], StopReason.END)
    with pytest.raises(TranslationError, match="overloaded"):
        CODEC.decode_response({"error": {"message": "overloaded", "type": "server_error"}})
    with pytest.raises(TranslationError):
        CODEC.decode_response({"choices": "none"})


def test_an_empty_answer_encodes_with_empty_content_and_a_generated_id() -> None:
    body = CODEC.encode_response(Response(id="", model="m"), "m")
    assert body["id"].startswith("chatcmpl-")
    assert len(body["id"]) > len("chatcmpl-")
    assert body["created"] > 1_700_000_000
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "", "refusal": None}
