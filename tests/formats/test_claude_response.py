"""Anthropic answers and error bodies ↔ the canonical model."""

from __future__ import annotations

import json
from pathlib import Path
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
from aiproxyapi.formats.claude import CODEC
from aiproxyapi.formats.codec import ErrorInfo
from tests.formats.claude_cases import cases, load, response


@pytest.mark.parametrize("path", cases("responses"), ids=lambda p: Path(p).stem)
def test_answers_decode_to_the_exact_canonical_response(path: Path) -> None:
    case = load(path)
    assert CODEC.decode_response(case["body"]) == response(case["canonical"])


@pytest.mark.parametrize("path", cases("responses"), ids=lambda p: Path(p).stem)
def test_answers_come_back_unchanged_through_the_hub(path: Path) -> None:
    case = load(path)
    assert CODEC.encode_response(CODEC.decode_response(case["body"]), case["model"]) == case["body"]


def test_a_foreign_answer_encodes_to_a_complete_message() -> None:
    answer = Response(
        id="chatcmpl-9x",
        model="gpt-4o",
        parts=[
            ThinkingPart(text="reasoning summary"),
            ThinkingPart(redacted="gAAAA", signature_source="openai-responses"),
            ThinkingPart(text="gemini thought", signature="c2ln", signature_source="gemini"),
            TextPart(text=""),
            TextPart(text="Calling."),
            ToolCallPart(id="call_1", name="f", arguments='{"a":1}'),
            ToolCallPart(id="", name="g", arguments="not json"),
            ToolCallPart(id="fc:7", name="h", arguments=""),
            ImagePart(url="https://x/y.png"),
        ],
        stop_reason=StopReason.END,
        usage=Usage(input=1000, output=50, reasoning=20, cached=800, cache_write=0),
    )
    assert CODEC.encode_response(answer, "claude-sonnet-4-5") == {
        "id": "chatcmpl-9x",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "reasoning summary", "signature": ""},
            {"type": "thinking", "thinking": "gemini thought", "signature": ""},
            {"type": "text", "text": "Calling."},
            {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
            {
                "type": "tool_use",
                "id": "toolu_chatcmpl-9x_1",
                "name": "g",
                "input": {"raw": "not json"},
            },
            {"type": "tool_use", "id": "fc_7", "name": "h", "input": {}},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 200,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 800,
            "output_tokens": 50,
        },
    }


def test_an_answer_without_an_id_gets_a_message_id() -> None:
    body = CODEC.encode_response(Response(id="", model="m"), "m")
    assert body["id"].startswith("msg_")
    assert len(body["id"]) == 28
    assert body["content"] == []


@pytest.mark.parametrize(
    ("wire", "reason"),
    [
        ("end_turn", StopReason.END),
        ("stop_sequence", StopReason.STOP_SEQUENCE),
        ("max_tokens", StopReason.MAX_TOKENS),
        ("tool_use", StopReason.TOOL_USE),
        ("pause_turn", StopReason.PAUSE),
        ("refusal", StopReason.CONTENT_FILTER),
        ("model_context_window_exceeded", StopReason.MAX_TOKENS),
        ("something_new", StopReason.END),
        (None, StopReason.END),
    ],
)
def test_stop_reasons_decode(wire: str | None, reason: StopReason) -> None:
    body = {"id": "m", "type": "message", "content": [], "stop_reason": wire, "usage": {}}
    assert CODEC.decode_response(body).stop_reason is reason


@pytest.mark.parametrize(
    ("reason", "wire"),
    [
        (StopReason.END, "end_turn"),
        (StopReason.STOP_SEQUENCE, "stop_sequence"),
        (StopReason.MAX_TOKENS, "max_tokens"),
        (StopReason.TOOL_USE, "tool_use"),
        (StopReason.PAUSE, "pause_turn"),
        (StopReason.CONTENT_FILTER, "end_turn"),
        (StopReason.ERROR, "end_turn"),
    ],
)
def test_stop_reasons_encode(reason: StopReason, wire: str) -> None:
    assert (
        CODEC.encode_response(Response(id="m", model="m", stop_reason=reason), "m")["stop_reason"]
        == wire
    )


def test_a_max_tokens_stop_is_kept_even_with_a_tool_call() -> None:
    answer = Response(
        id="m", model="m", parts=[ToolCallPart(id="t", name="f")], stop_reason=StopReason.MAX_TOKENS
    )
    assert CODEC.encode_response(answer, "m")["stop_reason"] == "max_tokens"


def test_an_error_body_in_a_success_is_not_an_answer() -> None:
    with pytest.raises(ValueError, match="Overloaded"):
        CODEC.decode_response(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        )


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (400, "invalid_request_error", "invalid_request_error"),
        (400, "", "invalid_request_error"),
        (401, "invalid_api_key", "authentication_error"),
        (402, "", "billing_error"),
        (403, "", "permission_error"),
        (404, "model_not_found", "not_found_error"),
        (413, "", "request_too_large"),
        (429, "rate_limit_exceeded", "rate_limit_error"),
        (500, "server_error", "api_error"),
        (502, "upstream_error", "api_error"),
        (503, "", "overloaded_error"),
        (529, "", "overloaded_error"),
        (504, "", "timeout_error"),
        (408, "", "invalid_request_error"),
        (500, "overloaded_error", "overloaded_error"),
    ],
)
def test_errors_encode_with_anthropics_type_for_the_status(
    status: int, kind: str, expected: str
) -> None:
    body = json.loads(CODEC.encode_error(ErrorInfo(status, "went wrong", kind)))
    assert body == {"type": "error", "error": {"type": expected, "message": "went wrong"}}


def test_in_stream_errors_are_an_error_event() -> None:
    wire = CODEC.encode_stream_error(ErrorInfo(529, "Overloaded", "overloaded_error"))
    assert wire == (
        b"event: error\n"
        b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )


@pytest.mark.parametrize(
    ("status", "body", "message", "kind"),
    [
        (
            429,
            b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_1"}',
            "slow down",
            "rate_limit_error",
        ),
        (
            400,
            b'{"error":{"message":"openai shaped","type":"invalid_request_error"}}',
            "openai shaped",
            "invalid_request_error",
        ),
        (403, b'{"message":"plain message"}', "plain message", "permission_error"),
        (
            413,
            b"<html>Request Entity Too Large</html>",
            "the upstream answered HTTP 413",
            "request_too_large",
        ),
        (500, b"", "the upstream answered HTTP 500", "api_error"),
        (
            529,
            b'{"type":"error","error":{"message":""}}',
            "the upstream answered HTTP 529",
            "overloaded_error",
        ),
    ],
)
def test_error_bodies_decode_whatever_their_shape(
    status: int, body: bytes, message: str, kind: str
) -> None:
    info = CODEC.decode_error(status, body)
    assert (info.status, info.message, info.kind) == (status, message, kind)


def test_decoded_errors_encode_back_to_the_same_body() -> None:
    body: dict[str, Any] = {"type": "error", "error": {"type": "billing_error", "message": "pay"}}
    info = CODEC.decode_error(400, json.dumps(body).encode())
    assert json.loads(CODEC.encode_error(info)) == body
