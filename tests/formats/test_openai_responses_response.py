"""OpenAI Responses codec, non-streamed answers: the Response object to and from the canonical."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiproxyapi.canonical import Response, StopReason, TextPart, ToolCallPart, Usage
from aiproxyapi.formats.openai_responses import CODEC

DATA = Path(__file__).parent / "data" / "openai_responses"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text("utf-8"))
    return data


def test_decode_response_gives_the_exact_canonical_answer() -> None:
    case = load("response_openai.json")
    assert CODEC.decode_response(case["body"]) == msgspec.convert(case["canonical"], Response)


def test_a_response_object_round_trips_but_for_empty_logprob_lists() -> None:
    body = load("response_openai.json")["body"]
    expected = copy.deepcopy(body)
    del expected["output"][2]["content"][0]["logprobs"]
    assert CODEC.encode_response(CODEC.decode_response(body), body["model"]) == expected


def test_encode_response_from_another_dialect_gives_the_exact_object() -> None:
    case = load("response_foreign.json")
    answer = msgspec.convert(case["canonical"], Response)
    assert CODEC.encode_response(answer, case["model"]) == case["body"]


def answer(stop: StopReason, *parts: TextPart | ToolCallPart) -> Response:
    return Response(id="resp_x", model="m", parts=list(parts), stop_reason=stop, created=1)


@pytest.mark.parametrize(
    ("stop", "status", "incomplete"),
    [
        (StopReason.END, "completed", None),
        (StopReason.STOP_SEQUENCE, "completed", None),
        (StopReason.TOOL_USE, "completed", None),
        (StopReason.PAUSE, "completed", None),
        (StopReason.MAX_TOKENS, "incomplete", {"reason": "max_output_tokens"}),
        (StopReason.CONTENT_FILTER, "incomplete", {"reason": "content_filter"}),
    ],
)
def test_stop_reasons_become_status_and_incomplete_details(
    stop: StopReason, status: str, incomplete: dict[str, str] | None
) -> None:
    body = CODEC.encode_response(answer(stop, TextPart(text="x")), "m")
    assert (body["status"], body["incomplete_details"]) == (status, incomplete)
    assert CODEC.decode_response(body).stop_reason is (
        StopReason.END if status == "completed" else stop
    )


def test_a_failed_answer_carries_an_error_object() -> None:
    body = CODEC.encode_response(answer(StopReason.ERROR), "m")
    assert body["status"] == "failed"
    assert body["error"] == {"code": "server_error", "message": "the model failed"}


@pytest.mark.parametrize(
    ("status", "details", "stop"),
    [
        ("incomplete", {"reason": "max_output_tokens"}, StopReason.MAX_TOKENS),
        ("incomplete", {"reason": "content_filter"}, StopReason.CONTENT_FILTER),
        ("incomplete", None, StopReason.MAX_TOKENS),
        ("failed", None, StopReason.ERROR),
        ("cancelled", None, StopReason.ERROR),
        ("completed", None, StopReason.END),
    ],
)
def test_decode_response_reads_the_status(status: str, details: Any, stop: StopReason) -> None:
    body = {
        "id": "resp_1",
        "model": "m",
        "status": status,
        "incomplete_details": details,
        "output": [],
    }
    assert CODEC.decode_response(body).stop_reason is stop


def test_a_refusal_reads_as_content_filter_and_is_written_back_as_a_refusal() -> None:
    body = {
        "id": "resp_r",
        "model": "m",
        "status": "completed",
        "output": [
            {
                "id": "msg_r",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "refusal", "refusal": "I can't help with that."}],
            }
        ],
    }
    decoded = CODEC.decode_response(body)
    assert decoded.stop_reason is StopReason.CONTENT_FILTER
    assert decoded.parts == [
        TextPart(
            text="I can't help with that.",
            extras={
                "openai-responses": {
                    "refusal": True,
                    "item": {"id": "msg_r", "status": "completed"},
                }
            },
        )
    ]
    encoded = CODEC.encode_response(decoded, "m")
    assert encoded["status"] == "completed"  # a refusal is a complete answer
    assert encoded["output"] == body["output"]


def test_a_terse_response_decodes_with_defaults() -> None:
    decoded = CODEC.decode_response(
        {"output": [{"type": "function_call", "call_id": "c", "name": "f"}]}
    )
    assert decoded == Response(
        id="",
        model="",
        parts=[ToolCallPart(id="c", name="f", arguments="{}")],
        stop_reason=StopReason.TOOL_USE,
    )
    assert decoded.usage == Usage()


def test_output_items_the_hub_cannot_model_come_back_after_the_last_part() -> None:
    image_call = {
        "id": "ig_1",
        "type": "image_generation_call",
        "status": "completed",
        "result": "iVBO",
    }
    body = {"id": "resp_1", "model": "m", "status": "completed", "output": [image_call]}
    decoded = CODEC.decode_response(body)
    assert decoded.parts == []
    assert CODEC.encode_response(decoded, "m")["output"] == [image_call]
