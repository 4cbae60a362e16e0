"""OpenAI Chat codec, streams: recorded transcripts to the exact canonical events, canonical events
to the exact chunks (§9.7), errors and cut streams, and a decode → encode → decode fixed point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiproxyapi.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    Event,
    Request,
    StopReason,
    StreamEnd,
    StreamError,
    StreamStart,
    Tool,
    Usage,
    UsageUpdate,
)
from aiproxyapi.formats.claude import CODEC as CLAUDE
from aiproxyapi.formats.codec import Codec
from aiproxyapi.formats.gemini import CODEC as GEMINI
from aiproxyapi.formats.openai_chat import CODEC
from aiproxyapi.formats.openai_responses import CODEC as RESPONSES
from aiproxyapi.formats.sse import SSEDecoder, SSEEvent
from aiproxyapi.formats.translate import StreamTranslator

DATA = Path(__file__).parent / "data" / "openai_chat"
EXPECTED: dict[str, Any] = json.loads((DATA / "stream_decode.json").read_text("utf-8"))
TRANSCRIPTS = [name for name in EXPECTED if name.endswith(".sse")]


def frames(raw: bytes, step: int | None = None) -> list[SSEEvent]:
    decoder = SSEDecoder()
    pieces = [raw] if step is None else [raw[i : i + step] for i in range(0, len(raw), step)]
    return [event for piece in pieces for event in decoder.feed(piece)] + decoder.close()


def decode(raw: bytes, step: int | None = None) -> list[Event]:
    decoder = CODEC.stream_decoder()
    events = [e for frame in frames(raw, step) for e in decoder.feed(frame)]
    return events + decoder.close()


def encode(events: list[Event], request: Request | None = None, model: str = "my-model") -> bytes:
    encoder = CODEC.stream_encoder(request or Request(model=model), model)
    return b"".join(encoder.feed(event) for event in events) + encoder.close()


def payloads(raw: bytes) -> list[Any]:
    """Each event's data: parsed JSON, or the `[DONE]` string."""
    out: list[Any] = []
    for frame in frames(raw):
        assert frame.raw.startswith(b"data: ")
        out.append("[DONE]" if frame.data == b"[DONE]" else json.loads(frame.data))
    return out


@pytest.mark.parametrize("name", TRANSCRIPTS)
@pytest.mark.parametrize("step", [None, 7])
def test_a_recorded_stream_decodes_to_the_exact_events(name: str, step: int | None) -> None:
    raw = (DATA / name).read_bytes()
    assert decode(raw, step) == msgspec.convert(EXPECTED[name], list[Event])


def test_the_decoder_reports_usage_as_it_arrives() -> None:
    decoder = CODEC.stream_decoder()
    raw = frames((DATA / "stream_parallel_tools.sse").read_bytes())
    for frame in raw[:-2]:
        decoder.feed(frame)
    assert decoder.usage is None
    decoder.feed(raw[-2])
    assert decoder.usage == Usage(input=82, output=17, cached=64)


def test_nothing_after_the_end_or_an_error_counts() -> None:
    decoder = CODEC.stream_decoder()
    raw = frames((DATA / "stream_reasoning.sse").read_bytes())
    for frame in raw:
        decoder.feed(frame)
    assert decoder.feed(raw[1]) == []
    assert decoder.close() == []


def test_an_empty_stream_and_done_without_an_answer_are_errors() -> None:
    assert [type(e) for e in decode(b"")] == [StreamError]
    assert [type(e) for e in decode(b"data: [DONE]\n\n")] == [StreamError]


def test_done_without_a_finish_reason_still_ends_the_answer() -> None:
    raw = b'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: [DONE]\n\n'
    assert decode(raw)[-2:] == [BlockStop(index=0), StreamEnd(stop_reason=StopReason.END)]


def test_other_choices_and_noise_are_ignored() -> None:
    raw = (
        b'data: {"id":"x","model":"m","choices":[{"index":1,"delta":{"content":"other"}}]}\n\n'
        b"data: not json\n\n"
        b'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{"refusal":"No."},"finish_reason":"content_filter"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    assert decode(raw) == [
        StreamStart(id="x", model="m"),
        BlockStart(index=0, kind="text"),
        BlockDelta(index=0, text="No."),
        BlockStop(index=0),
        StreamEnd(stop_reason=StopReason.CONTENT_FILTER),
    ]


def test_an_unreadable_chunk_is_an_error() -> None:
    events = decode(b'data: {"id":"x","choices":[{"index":"zero"}]}\n\n')
    assert isinstance(events[0], StreamError)
    assert events[0].status == 502


def test_a_rate_limit_error_in_the_stream_keeps_its_status() -> None:
    raw = (
        b'data: {"error":{"message":"slow down","type":"tokens","code":"rate_limit_exceeded"}}\n\n'
    )
    assert decode(raw) == [StreamError(message="slow down", kind="tokens", status=429)]


def test_custom_tool_and_legacy_function_deltas_become_tool_calls() -> None:
    raw = (
        b'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","type":"custom","custom":{"name":"patch","input":"a\\"b"}}]}}]}\n\n'
        b'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"custom":{"input":"\\n"}}]}}]}\n\n'
        b'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    events = decode(raw)
    arguments = "".join(e.text for e in events if isinstance(e, BlockDelta))
    assert json.loads(arguments) == {"input": 'a"b\n'}
    legacy = (
        b'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{"function_call":{"name":"f","arguments":"{}"}}}]}\n\n'
        b'data: {"id":"x","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"function_call"}]}\n\n'
    )
    assert decode(legacy)[1:] == [
        BlockStart(index=0, kind="tool_call", tool_id="call_0", tool_name="f"),
        BlockDelta(index=0, text="{}"),
        BlockStop(index=0),
        StreamEnd(stop_reason=StopReason.TOOL_USE),
    ]


# ---- encoding ------------------------------------------------------------------------------

EVENTS: list[Event] = [
    StreamStart(id="msg_01", model="claude-x", created=1761000500),
    BlockStart(index=0, kind="thinking"),
    BlockDelta(index=0, text="Hmm"),
    BlockDelta(index=0, signature="sig"),
    BlockStop(index=0),
    BlockStart(index=1, kind="text"),
    BlockDelta(index=1, text="Hi"),
    BlockStop(index=1),
    BlockStart(index=2, kind="tool_call", tool_id="toolu_1", tool_name="Read"),
    BlockDelta(index=2, text='{"a":'),
    BlockDelta(index=2, text="1}"),
    BlockStop(index=2),
    BlockStart(index=3, kind="tool_call", tool_id="toolu_2", tool_name="Grep"),
    BlockDelta(index=3, text="{}"),
    BlockStop(index=3),
    UsageUpdate(usage=Usage(input=10, output=5)),
    StreamEnd(stop_reason=StopReason.TOOL_USE, usage=Usage(input=10, output=7, cached=2)),
]
HEAD = {
    "id": "chatcmpl-msg_01",
    "object": "chat.completion.chunk",
    "created": 1761000500,
    "model": "my-model",
}


def chunk(delta: dict[str, Any], finish: str | None = None, usage: bool = True) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {**HEAD, "choices": [choice], **({"usage": None} if usage else {})}


def call(index: int, call_id: str, name: str) -> dict[str, Any]:
    first = {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": ""},
    }
    return {"tool_calls": [first]}


def args(index: int, text: str) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, "function": {"arguments": text}}]}


def test_encode_gives_the_exact_chunks_with_the_usage_chunk_when_asked() -> None:
    request = Request(model="my-model", stream=True, include_usage=True)
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 7,
        "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    assert payloads(encode(EVENTS, request)) == [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Hmm"}),
        chunk({"content": "Hi"}),
        chunk(call(0, "toolu_1", "Read")),
        chunk(args(0, '{"a":')),
        chunk(args(0, "1}")),
        chunk(call(1, "toolu_2", "Grep")),
        chunk(args(1, "{}")),
        chunk({}, "tool_calls"),
        {**HEAD, "choices": [], "usage": usage},
        "[DONE]",
    ]


def test_without_include_usage_there_is_no_usage_at_all() -> None:
    out = payloads(encode(EVENTS[:1] + EVENTS[5:8] + [StreamEnd()]))
    assert out == [
        chunk({"role": "assistant", "content": ""}, usage=False),
        chunk({"content": "Hi"}, usage=False),
        chunk({}, "stop", usage=False),
        "[DONE]",
    ]


def test_the_bytes_are_data_lines_and_done_ends_them() -> None:
    raw = encode([StreamStart(id="chatcmpl-1", model="x", created=1), StreamEnd()], model="m")
    first = b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    assert raw.startswith(first)
    assert raw.endswith(b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    assert raw.count(b"\n\n") == 3


def test_a_stream_error_becomes_the_error_event_and_nothing_follows() -> None:
    encoder = CODEC.stream_encoder(Request(model="m"), "m")
    encoder.feed(StreamStart(id="x", model="m", created=1))
    error = encoder.feed(StreamError(message="boom", kind="overloaded_error", status=529))
    assert error == (
        b'data: {"error":{"message":"boom","type":"overloaded_error","param":null,"code":null}}\n\n'
    )
    assert encoder.feed(StreamEnd()) == b""
    assert encoder.close() == b""


def test_a_stream_without_a_start_event_still_opens_with_the_role_chunk() -> None:
    out = payloads(encode([BlockStart(index=0, kind="text"), BlockDelta(index=0, text="x")]))
    assert out[0]["id"].startswith("chatcmpl-")
    assert out[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [o["id"] for o in out] == [out[0]["id"]] * 2


def test_a_custom_tool_call_goes_out_whole_when_it_closes() -> None:
    request = Request(
        model="m", tools=[Tool(name="patch", extras={"openai": {"_chat": {"custom": True}}})]
    )
    events: list[Event] = [
        StreamStart(id="chatcmpl-1", model="m", created=1),
        BlockStart(index=0, kind="tool_call", tool_id="c", tool_name="patch"),
        BlockDelta(index=0, text='{"input":"a'),
        BlockDelta(index=0, text='\\nb"}'),
        BlockStop(index=0),
        StreamEnd(stop_reason=StopReason.TOOL_USE),
    ]
    out = payloads(encode(events, request, "m"))
    custom = {"index": 0, "id": "c", "type": "custom", "custom": {"name": "patch", "input": "a\nb"}}
    assert [o["choices"][0]["delta"] for o in out[1:-1]] == [{"tool_calls": [custom]}, {}]


@pytest.mark.parametrize("name", ["stream_reasoning.sse", "stream_parallel_tools.sse"])
def test_decode_encode_decode_is_a_fixed_point(name: str) -> None:
    events = decode((DATA / name).read_bytes())
    request = Request(model="client-name", include_usage=True)
    again = decode(encode(events, request, "client-name"))
    start = events[0]
    assert isinstance(start, StreamStart)
    start.model = "client-name"
    assert again == events


def test_an_anonymous_prompt_filter_chunk_does_not_open_the_answer() -> None:
    raw = (
        b'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}\n\n'
        b'data: {"id":"chatcmpl-az","created":3,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    assert decode(raw)[0] == StreamStart(id="chatcmpl-az", model="gpt-4o", created=3)


def test_a_custom_call_left_open_goes_out_before_the_finish() -> None:
    request = Request(
        model="m", tools=[Tool(name="patch", extras={"openai": {"_chat": {"custom": True}}})]
    )
    events: list[Event] = [
        BlockStart(index=0, kind="tool_call", tool_id="c", tool_name="patch"),
        BlockDelta(index=0, text='{"input":"x"}'),
        StreamEnd(stop_reason=StopReason.TOOL_USE),
    ]
    deltas = [
        (o["choices"][0]["delta"], o["choices"][0]["finish_reason"])
        for o in payloads(encode(events, request, "m"))[1:-1]
    ]
    custom = {"index": 0, "id": "c", "type": "custom", "custom": {"name": "patch", "input": "x"}}
    assert deltas == [({"tool_calls": [custom]}, None), ({}, "tool_calls")]


# ---- signatures (wire-formats §9.4): Chat has none, and writes nobody else's --------------


def test_the_decoder_issues_no_signatures() -> None:
    events = decode((DATA / "stream_reasoning.sse").read_bytes())
    deltas = [e for e in events if isinstance(e, BlockDelta)]
    assert [d.text for d in deltas][:2] == ["Let me", " think."]
    assert all(not (d.signature or d.redacted or d.signature_source) for d in deltas)


def test_a_chat_stream_to_a_chat_client_keeps_its_reasoning() -> None:
    translator = StreamTranslator(CODEC, CODEC, Request(model="m"), "m")
    raw = (DATA / "stream_reasoning.sse").read_bytes()
    out = b"".join(translator.feed(f) for f in frames(raw)) + translator.close()
    assert translator.completed
    deltas = [p["choices"][0]["delta"] for p in payloads(out) if p != "[DONE]" and p["choices"]]
    assert deltas[1:3] == [{"reasoning_content": "Let me"}, {"reasoning_content": " think."}]


@pytest.mark.parametrize("source", ["openai", "claude", "gemini", "openai-responses", ""])
def test_the_encoder_writes_no_signature_or_redacted_thinking(source: str) -> None:
    events: list[Event] = [
        StreamStart(id="x", model="m", created=1),
        BlockStart(index=0, kind="thinking"),
        BlockDelta(index=0, text="Hmm", signature="c2ln", signature_source=source),
        BlockDelta(index=0, signature="bW9yZQ==", signature_source=source),
        BlockStop(index=0),
        BlockStart(index=1, kind="thinking"),
        BlockDelta(index=1, redacted="cmVk", signature_source=source),
        BlockStop(index=1),
        BlockStart(index=2, kind="tool_call", tool_id="c1", tool_name="f"),
        BlockDelta(index=2, text="{}"),
        BlockDelta(index=2, signature="Y2FsbA==", signature_source=source),
        BlockStop(index=2),
        StreamEnd(stop_reason=StopReason.TOOL_USE),
    ]
    out = encode(events, model="m")
    assert [p["choices"][0]["delta"] for p in payloads(out)[1:-1]] == [
        {"reasoning_content": "Hmm"},
        call(0, "c1", "f"),
        args(0, "{}"),
        {},
    ]
    for secret in (b"c2ln", b"bW9yZQ==", b"cmVk", b"Y2FsbA=="):
        assert secret not in out


CLAUDE_SIGNED = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_c","model":"c"}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Pondering."}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"Q0xBVURF"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"UkVEQUNU"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":1}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)  # fmt: skip
GEMINI_SIGNED = (
    b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Pondering.","thought":true,"thoughtSignature":"R0VNSU5J"}]},"finishReason":"STOP"}],"responseId":"g"}\n\n'
)  # fmt: skip


@pytest.mark.parametrize(
    ("upstream", "raw"),
    [(CLAUDE, CLAUDE_SIGNED), (GEMINI, GEMINI_SIGNED)],
    ids=["claude", "gemini"],
)
def test_another_vendors_stream_reaches_a_chat_client_as_reasoning_without_signatures(
    upstream: Codec, raw: bytes
) -> None:
    translator = StreamTranslator(upstream, CODEC, Request(model="m"), "m")
    out = b"".join(translator.feed(f) for f in frames(raw)) + translator.close()
    assert translator.completed
    deltas = [p["choices"][0]["delta"] for p in payloads(out)[1:-1]]
    assert deltas == [{"reasoning_content": "Pondering."}, {}]
    for secret in (b"Q0xBVURF", b"UkVEQUNU", b"R0VNSU5J"):
        assert secret not in out


def test_a_chat_stream_to_a_responses_client_makes_no_encrypted_content() -> None:
    translator = StreamTranslator(CODEC, RESPONSES, Request(model="m"), "m")
    raw = (DATA / "stream_reasoning.sse").read_bytes()
    out = b"".join(translator.feed(f) for f in frames(raw)) + translator.close()
    final = [json.loads(f.data) for f in frames(out)][-1]["response"]
    assert final["output"][0]["summary"] == [{"type": "summary_text", "text": "Let me think."}]
    assert "encrypted_content" not in final["output"][0]
