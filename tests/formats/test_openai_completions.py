"""Legacy Completions: the prompt as one chat turn, refused features by name, text_completion out."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiproxyapi.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    Event,
    Message,
    Request,
    Response,
    Role,
    StopReason,
    StreamEnd,
    StreamError,
    StreamStart,
    TextPart,
    ThinkingPart,
    Usage,
    UsageUpdate,
)
from aiproxyapi.formats import Format, codec_for
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_completions import (
    CompletionsStreamEncoder,
    decode_completions_request,
    encode_completions_response,
)


def test_a_completions_body_becomes_a_chat_request_and_its_chat_body() -> None:
    body = {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "Say this is a test",
        "temperature": 0.5,
        "stop": "\n",
        "seed": 3,
        "presence_penalty": 0.1,
        "logit_bias": {"50256": -100},
        "user": "u",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    request = decode_completions_request(body)
    assert request == Request(
        model="gpt-3.5-turbo-instruct",
        messages=[Message(role=Role.USER, parts=[TextPart(text="Say this is a test")])],
        max_tokens=16,
        temperature=0.5,
        stop=["\n"],
        seed=3,
        stream=True,
        include_usage=True,
        user="u",
        extras={"openai": {"presence_penalty": 0.1, "logit_bias": {"50256": -100}}},
    )
    assert codec_for(Format.OPENAI_CHAT).encode_request(request, "gpt-4o-mini") == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Say this is a test"}],
        "max_tokens": 16,
        "temperature": 0.5,
        "stop": ["\n"],
        "seed": 3,
        "user": "u",
        "presence_penalty": 0.1,
        "logit_bias": {"50256": -100},
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_a_list_of_prompts_is_one_user_turn_and_max_tokens_is_kept() -> None:
    request = decode_completions_request(
        {"model": "m", "prompt": ["a", "", "b"], "max_tokens": 100}
    )
    assert request.messages == [
        Message(role=Role.USER, parts=[TextPart(text="a"), TextPart(text="b")])
    ]
    assert request.max_tokens == 100


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"suffix": "end"}, "suffix"),
        ({"echo": True}, "echo"),
        ({"logprobs": 0}, "logprobs"),
        ({"best_of": 2}, "best_of"),
        ({"n": 3}, "n"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": [[1, 2]]}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"prompt": ["", ""]}, "prompt"),
        ({"model": ""}, "model"),
        ({"max_tokens": "many"}, "max_tokens"),
    ],
)
def test_unsupported_or_bad_fields_are_refused_by_name(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(TranslationError) as caught:
        decode_completions_request({"model": "m", "prompt": "hi", **fields})
    assert caught.value.param == param


@pytest.mark.parametrize("fields", [{"echo": False}, {"best_of": 1}, {"n": 1}, {"suffix": ""}])
def test_harmless_defaults_are_accepted(fields: dict[str, Any]) -> None:
    assert decode_completions_request({"model": "m", "prompt": "hi", **fields}).model == "m"


def test_the_answer_is_a_text_completion() -> None:
    response = Response(
        id="chatcmpl-abc",
        model="gpt-4o-mini",
        parts=[ThinkingPart(text="hidden"), TextPart(text="This is "), TextPart(text="a test.")],
        stop_reason=StopReason.MAX_TOKENS,
        usage=Usage(input=5, output=7),
        created=1761000000,
    )
    assert encode_completions_response(response, "gpt-3.5-turbo-instruct") == {
        "id": "cmpl-abc",
        "object": "text_completion",
        "created": 1761000000,
        "model": "gpt-3.5-turbo-instruct",
        "choices": [
            {"text": "This is a test.", "index": 0, "logprobs": None, "finish_reason": "length"}
        ],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 7,
            "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


EVENTS: list[Event] = [
    StreamStart(id="chatcmpl-s", model="x", created=9),
    BlockStart(index=0, kind="thinking"),
    BlockDelta(index=0, text="hidden"),
    BlockStop(index=0),
    BlockStart(index=1, kind="text"),
    BlockDelta(index=1, text="Hi"),
    BlockDelta(index=1, text=" there"),
    BlockStop(index=1),
    UsageUpdate(usage=Usage(input=3, output=2)),
    StreamEnd(),
]


def stream(events: list[Event], include_usage: bool) -> list[Any]:
    encoder = CompletionsStreamEncoder(Request(model="m", include_usage=include_usage), "inst")
    raw = b"".join(encoder.feed(e) for e in events) + encoder.close()
    assert raw.endswith(b"\n\n")
    frames = [f.removeprefix(b"data: ") for f in raw.split(b"\n\n") if f]
    return ["[DONE]" if f == b"[DONE]" else json.loads(f) for f in frames]


def piece(text: str, finish: str | None = None) -> dict[str, Any]:
    head = {"id": "cmpl-s", "object": "text_completion", "created": 9, "model": "inst"}
    return {
        **head,
        "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
    }


def test_the_stream_is_text_completion_chunks_then_done() -> None:
    assert stream(EVENTS, include_usage=False) == [
        piece("Hi"),
        piece(" there"),
        piece("", "stop"),
        "[DONE]",
    ]


def test_the_usage_chunk_comes_only_when_asked_for() -> None:
    out = stream(EVENTS, include_usage=True)
    assert out[-2] == {
        "id": "cmpl-s",
        "object": "text_completion",
        "created": 9,
        "model": "inst",
        "choices": [],
        "usage": {
            "prompt_tokens": 3,
            "completion_tokens": 2,
            "total_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
    assert out[-1] == "[DONE]"


def test_a_stream_error_ends_without_done() -> None:
    out = stream(
        [*EVENTS[:6], StreamError(message="cut", kind="upstream_error", status=502), StreamEnd()],
        False,
    )
    assert out == [
        piece("Hi"),
        {"error": {"message": "cut", "type": "upstream_error", "param": None, "code": None}},
    ]
