"""OpenAI Chat codec: request checks, byte-faithful passthrough, usage from bodies and streams."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aiproxyapi.canonical import Usage
from aiproxyapi.formats.openai_chat import (
    ChatRequestError,
    StreamTap,
    decode_request,
    encode_error,
    encode_stream_error,
    prepare_passthrough,
    usage_from_body,
)

MESSAGES = [{"role": "user", "content": "hi"}]


def body(**fields: Any) -> bytes:
    return json.dumps({"model": "gpt-4o", "messages": MESSAGES, **fields}).encode()


@pytest.mark.parametrize(
    ("raw", "param", "says"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        (b'"text"', None, "JSON object"),
        (json.dumps({"messages": MESSAGES}).encode(), "model", "`model`"),
        (body(model=""), "model", "`model`"),
        (body(model="   "), "model", "`model`"),
        (body(model=42), "model", "`model`"),
        (json.dumps({"model": "gpt-4o"}).encode(), "messages", "`messages`"),
        (body(messages=[]), "messages", "`messages`"),
        (body(messages="hi"), "messages", "`messages`"),
        (body(stream="true"), "stream", "`stream`"),
        (body(stream=1), "stream", "`stream`"),
    ],
)
def test_decode_request_refuses_unusable_bodies(raw: bytes, param: str | None, says: str) -> None:
    with pytest.raises(ChatRequestError) as caught:
        decode_request(raw)
    assert caught.value.param == param
    assert says in str(caught.value)


def test_decode_request_accepts_a_minimal_body_and_keeps_everything() -> None:
    payload = decode_request(body(stream=True, foo={"bar": [1, None]}))
    assert payload == {
        "model": "gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "foo": {"bar": [1, None]},
    }
    assert decode_request(body(stream=None))["stream"] is None


def test_passthrough_changes_only_the_model() -> None:
    unknown = {
        "vendor_extension": {"nested": [1, 2.5, "x", None, True]},
        "temperature": 0.2,
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "reasoning_effort": "low",
        "stream_options": {"include_usage": False},
    }
    payload = decode_request(body(**unknown))
    raw, added = prepare_passthrough(payload, "upstream-name-2025")
    assert added is False
    assert json.loads(raw) == {**json.loads(body(**unknown)), "model": "upstream-name-2025"}
    assert payload["model"] == "gpt-4o"  # the caller's dict is untouched


def test_include_usage_is_asked_for_in_streams_and_reported() -> None:
    raw, added = prepare_passthrough(decode_request(body(stream=True)), "up")
    assert added is True
    assert json.loads(raw)["stream_options"] == {"include_usage": True}


def test_other_stream_options_survive_when_usage_is_added() -> None:
    payload = decode_request(body(stream=True, stream_options={"include_obfuscation": False}))
    raw, added = prepare_passthrough(payload, "up")
    assert added is True
    assert json.loads(raw)["stream_options"] == {
        "include_obfuscation": False,
        "include_usage": True,
    }
    assert payload["stream_options"] == {"include_obfuscation": False}


def test_a_client_asking_for_usage_itself_is_left_alone() -> None:
    payload = decode_request(body(stream=True, stream_options={"include_usage": True}))
    raw, added = prepare_passthrough(payload, "up")
    assert added is False
    assert json.loads(raw)["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("fields", [{}, {"stream": False}, {"stream": None}])
def test_non_streams_get_no_stream_options(fields: dict[str, Any]) -> None:
    raw, added = prepare_passthrough(decode_request(body(**fields)), "up")
    assert added is False
    assert "stream_options" not in json.loads(raw)


USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "prompt_tokens_details": {"cached_tokens": 100},
    "completion_tokens_details": {"reasoning_tokens": 20},
}


def test_usage_from_body_reads_cached_and_reasoning_tokens() -> None:
    answer = {"id": "x", "choices": [{"index": 0, "message": {"content": "hi"}}], "usage": USAGE}
    usage = usage_from_body(json.dumps(answer).encode())
    assert usage == Usage(input=120, output=30, cached=100, reasoning=20)
    assert usage is not None
    assert usage.total == 150


@pytest.mark.parametrize(
    "raw",
    [b'{"choices": []}', b'{"usage": null}', b"not json", b"[]", b'{"usage": "lots"}'],
)
def test_usage_from_body_without_usable_usage_is_none(raw: bytes) -> None:
    assert usage_from_body(raw) is None


def test_usage_from_body_with_only_totals_counts_zero_details() -> None:
    raw = b'{"usage": {"prompt_tokens": 5, "completion_tokens": 7, "prompt_tokens_details": null}}'
    assert usage_from_body(raw) == Usage(input=5, output=7)


def chunk(*, content: str | None = "x", usage: dict[str, Any] | None = None) -> bytes:
    choices = [] if content is None else [{"index": 0, "delta": {"content": content}}]
    data: dict[str, Any] = {"object": "chat.completion.chunk", "choices": choices}
    if usage is not None or content is None:
        data["usage"] = usage
    return json.dumps(data).encode()


def test_tap_hides_the_usage_chunk_the_gateway_asked_for_but_keeps_the_usage() -> None:
    tap = StreamTap(hide_usage_chunk=True)
    assert tap.keep(chunk(content="hello")) is True
    assert tap.usage is None
    assert tap.keep(chunk(content=None, usage=USAGE)) is False
    assert tap.usage == Usage(input=120, output=30, cached=100, reasoning=20)
    assert tap.done is False
    assert tap.keep(b"[DONE]") is True
    assert tap.done is True


def test_tap_relays_the_usage_chunk_when_the_client_asked_for_it() -> None:
    tap = StreamTap(hide_usage_chunk=False)
    assert tap.keep(chunk(content=None, usage=USAGE)) is True
    assert tap.usage == Usage(input=120, output=30, cached=100, reasoning=20)


def test_tap_never_hides_a_chunk_that_carries_choices() -> None:
    tap = StreamTap(hide_usage_chunk=True)
    assert tap.keep(chunk(content="last words", usage=USAGE)) is True
    assert tap.usage is not None
    assert tap.usage.input == 120


def test_tap_ignores_usage_null_and_text_that_mentions_usage() -> None:
    tap = StreamTap(hide_usage_chunk=True)
    assert tap.keep(chunk(content=None, usage=None)) is True  # "usage": null
    assert tap.keep(chunk(content='say "usage": {"prompt_tokens": 9}')) is True
    assert tap.keep(b'{"usage": {broken') is True
    assert tap.usage is None
    assert tap.done is False


def test_error_envelopes() -> None:
    envelope = {
        "error": {"message": "no", "type": "invalid_request_error", "param": "model", "code": "c"}
    }
    assert json.loads(encode_error("no", "invalid_request_error", "c", "model")) == envelope
    frame = encode_stream_error("no", "invalid_request_error", "c")
    assert frame.startswith(b"data: ")
    assert frame.endswith(b"\n\n")
    assert json.loads(frame[6:])["error"]["message"] == "no"
