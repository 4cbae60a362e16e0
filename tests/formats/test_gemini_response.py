"""Gemini codec, answers: exact canonical answers from recorded bodies, exact bodies from
canonical answers, finish reasons and usage (wire-formats §5.3, §9.1, §9.5)."""

from __future__ import annotations

from typing import Any

import pytest

from aiproxyapi.canonical import (
    ImagePart,
    Response,
    StopReason,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)
from aiproxyapi.formats.gemini import CODEC
from tests.formats.gemini_cases import check_answer, load, request, response

CASES = load("responses.json")


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_answers_decode_to_the_exact_canonical_answer(name: str) -> None:
    case = CASES[name]
    known = request(case["request"]) if case["request"] else None
    assert CODEC.decode_response(case["body"], known) == response(case["canonical"])


@pytest.mark.parametrize("name", sorted(CASES))
def test_recorded_answers_encode_back_to_the_exact_body(name: str) -> None:
    case = CASES[name]
    encoded = CODEC.encode_response(response(case["canonical"]), "client-model")
    assert encoded == case["encoded"]
    check_answer(encoded)


def test_a_gemini_answer_survives_the_round_trip_unchanged() -> None:
    body = CASES["spec"]["body"]
    assert CODEC.encode_response(CODEC.decode_response(body), body["modelVersion"]) == body


def test_answer_ids_without_the_request_cannot_collide_with_earlier_turns() -> None:
    body = CASES["tools"]["body"]
    decoded = CODEC.decode_response(body)
    ids = [part.id for part in decoded.parts if isinstance(part, ToolCallPart)]
    assert ids == ["call_get_weather_resptools1_1", "call_get_weather_resptools1_2", "call__1st-lookup_resptools1_3"]  # fmt: skip
    assert decoded.stop_reason is StopReason.TOOL_USE


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("STOP", StopReason.END),
        ("MAX_TOKENS", StopReason.MAX_TOKENS),
        ("SAFETY", StopReason.CONTENT_FILTER),
        ("RECITATION", StopReason.CONTENT_FILTER),
        ("PROHIBITED_CONTENT", StopReason.CONTENT_FILTER),
        ("SPII", StopReason.CONTENT_FILTER),
        ("IMAGE_SAFETY", StopReason.CONTENT_FILTER),
        ("MALFORMED_FUNCTION_CALL", StopReason.ERROR),
        ("UNEXPECTED_TOOL_CALL", StopReason.ERROR),
        ("OTHER", StopReason.END),
        ("FINISH_REASON_UNSPECIFIED", StopReason.END),
        ("SOMETHING_NEW", StopReason.END),
    ],
)
def test_finish_reasons_map_to_stop_reasons(finish: str, stop: StopReason) -> None:
    body = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": finish}]}
    assert CODEC.decode_response(body).stop_reason is stop


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        (StopReason.END, "STOP"),
        (StopReason.STOP_SEQUENCE, "STOP"),
        (StopReason.TOOL_USE, "STOP"),
        (StopReason.PAUSE, "STOP"),
        (StopReason.MAX_TOKENS, "MAX_TOKENS"),
        (StopReason.CONTENT_FILTER, "SAFETY"),
        (StopReason.ERROR, "OTHER"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop: StopReason, finish: str) -> None:
    answer = Response(id="r", model="m", parts=[TextPart(text="x")], stop_reason=stop)
    assert CODEC.encode_response(answer, "m")["candidates"][0]["finishReason"] == finish


def test_an_answer_from_another_vendor_encodes_to_the_exact_body() -> None:
    answer = Response(
        id="msg_01XYZ",
        model="claude-sonnet-4-5",
        parts=[
            ThinkingPart(text="Weighing it.", signature="EqQBCkY", signature_source="claude"),
            TextPart(text="Two calls.", extras={"claude": {"citations": []}}),
            ToolCallPart(id="toolu_01", name="get weather", arguments='{"city": "Oslo"}'),
            ToolCallPart(id="toolu_02", name="noop", arguments=""),
            ImagePart(media_type="image/png", data="iVBORw0KGgo="),
        ],
        stop_reason=StopReason.TOOL_USE,
        usage=Usage(input=100, output=50, reasoning=20, cached=60, cache_write=10),
    )
    encoded = CODEC.encode_response(answer, "gemini-2.5-pro")
    assert encoded == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Weighing it.", "thought": True},
                        {"text": "Two calls."},
                        {"functionCall": {"name": "get weather", "args": {"city": "Oslo"}, "id": "toolu_01"}},
                        {"functionCall": {"name": "noop", "args": {}, "id": "toolu_02"}},
                        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 100,
            "candidatesTokenCount": 30,
            "thoughtsTokenCount": 20,
            "cachedContentTokenCount": 60,
            "totalTokenCount": 150,
        },
        "modelVersion": "gemini-2.5-pro",
        "responseId": "msg_01XYZ",
    }  # fmt: skip
    parsed = check_answer(encoded)
    assert parsed.function_calls is not None
    assert [call.id for call in parsed.function_calls] == ["toolu_01", "toolu_02"]


def test_a_content_filter_stop_from_another_vendor_is_a_safety_candidate() -> None:
    answer = Response(id="r", model="m", stop_reason=StopReason.CONTENT_FILTER)
    encoded = CODEC.encode_response(answer, "m")
    assert encoded["candidates"] == [
        {"content": {"role": "model", "parts": []}, "finishReason": "SAFETY", "index": 0}
    ]
    check_answer(encoded)


@pytest.mark.parametrize(
    ("meta", "usage"),
    [
        (None, Usage()),
        ({"promptTokenCount": 10, "totalTokenCount": 10}, Usage(input=10)),
        (
            {"promptTokenCount": "12", "candidatesTokenCount": 3, "thoughtsTokenCount": 4, "cachedContentTokenCount": 8},
            Usage(input=12, output=7, reasoning=4, cached=8),
        ),
        ({"promptTokenCount": 5, "toolUsePromptTokenCount": 20, "candidatesTokenCount": 1}, Usage(input=25, output=1)),
    ],
)  # fmt: skip
def test_usage_has_openai_semantics(meta: dict[str, Any] | None, usage: Usage) -> None:
    body: dict[str, Any] = {"candidates": [{"content": {"parts": [{"text": "x"}]}}]}
    if meta is not None:
        body["usageMetadata"] = meta
    assert CODEC.decode_response(body).usage == usage


def test_an_answer_without_candidates_or_feedback_is_empty_not_an_error() -> None:
    decoded = CODEC.decode_response({"responseId": "r", "modelVersion": "m"})
    assert (decoded.parts, decoded.stop_reason) == ([], StopReason.END)
