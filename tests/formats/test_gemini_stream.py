"""Gemini codec, streams: recorded `alt=sse` transcripts to exact canonical events, and canonical
events to the exact bytes of both framings (wire-formats §5.4, §9.7)."""

from __future__ import annotations

import json

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
    Usage,
    UsageUpdate,
)
from aiproxyapi.formats.gemini import CODEC, json_array_stream_encoder
from aiproxyapi.formats.sse import SSEEvent
from aiproxyapi.formats.translate import StreamTranslator
from tests.formats.gemini_cases import (
    DATA,
    check_answer,
    decode_stream,
    events,
    request,
    sse_payloads,
)

RECORDED = json.loads((DATA / "stream_events.json").read_text("utf-8"))


def data(payload: object) -> SSEEvent:
    raw = msgspec.json.encode(payload)
    return SSEEvent("", raw, b"data: " + raw + b"\n\n")


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_streams_decode_to_the_exact_events(name: str) -> None:
    case = RECORDED[name]
    decoder = CODEC.stream_decoder(request(case["request"]) if case["request"] else None)
    assert decode_stream((DATA / f"{name}.sse").read_bytes(), decoder) == events(case["events"])
    assert decoder.usage == msgspec.convert(case["usage"], Usage)


def test_a_stream_cut_before_its_finish_reason_ends_in_an_error() -> None:
    raw = (DATA / "stream_text.sse").read_bytes().split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    decoder = CODEC.stream_decoder()
    out = decode_stream(raw, decoder)
    assert out[-1] == StreamError(
        message="the upstream stream ended before the answer was complete",
        kind="upstream_error",
        status=502,
    )
    assert not any(isinstance(event, StreamEnd) for event in out)
    assert decoder.usage == Usage(input=58)
    assert CODEC.stream_decoder().close() == [out[-1]]  # nothing at all is cut short too


def test_an_error_object_in_the_stream_is_a_stream_error() -> None:
    decoder = CODEC.stream_decoder()
    first = decoder.feed(data({"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}))
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    assert decoder.feed(data([error])) == [
        StreamError(message="The model is overloaded.", kind="UNAVAILABLE", status=503)
    ]
    assert [type(e) for e in first] == [StreamStart, BlockStart, BlockDelta]
    assert decoder.feed(data({"candidates": []})) == []
    assert decoder.close() == []


def test_a_blocked_prompt_ends_the_stream_with_a_content_filter() -> None:
    decoder = CODEC.stream_decoder()
    chunk = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "responseId": "rb",
    }
    assert decoder.feed(data(chunk)) == [
        StreamStart(id="rb", model="", usage=Usage(input=9)),
        StreamEnd(stop_reason=StopReason.CONTENT_FILTER, usage=Usage(input=9)),
    ]
    assert decoder.close() == []


def test_usage_after_the_finish_updates_the_count_without_events() -> None:
    decoder = CODEC.stream_decoder()
    decoder.feed(
        data({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}]})
    )
    late = {"candidates": [], "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1}}
    assert decoder.feed(data(late)) == []
    assert decoder.usage == Usage(input=4, output=1)


def test_a_lone_signature_joins_the_open_block_or_opens_reasoning_at_the_start() -> None:
    def parts(*items: dict[str, object]) -> SSEEvent:
        return data({"candidates": [{"content": {"parts": list(items)}}], "responseId": "r"})

    decoder = CODEC.stream_decoder()
    assert decoder.feed(parts({"text": "", "thoughtSignature": "c2ln"})) == [
        StreamStart(id="r", model=""),
        BlockStart(index=0, kind="thinking"),
        BlockDelta(index=0, signature="c2ln"),
    ]
    assert decoder.feed(parts({"text": "A"}, {"text": "", "thoughtSignature": "c2lnLTI="})) == [
        BlockStop(index=0),
        BlockStart(index=1, kind="text"),
        BlockDelta(index=1, text="A"),
        BlockDelta(index=1, signature="c2lnLTI="),
    ]
    call = {"functionCall": {"name": "f"}}
    assert decoder.feed(parts(call, {"text": "", "thoughtSignature": "c2lnLTM="})) == [
        BlockStop(index=1),
        BlockStart(index=2, kind="tool_call", tool_id="call_f_r_1", tool_name="f"),
        BlockDelta(index=2, text="{}"),
        BlockStop(index=2),
    ]


def test_an_unreadable_chunk_fails_the_stream() -> None:
    decoder = CODEC.stream_decoder()
    assert decoder.feed(SSEEvent("", b"{oops", b"data: {oops\n\n")) == [
        StreamError(message="the upstream sent an unreadable stream chunk", kind="upstream_error", status=502)
    ]  # fmt: skip
    assert decoder.close() == []


FOREIGN: list[Event] = [
    StreamStart(id="msg_01", model="claude-sonnet-4-5", usage=Usage(input=10)),
    BlockStart(index=0, kind="thinking"),
    BlockDelta(index=0, text="Hmm"),
    BlockStop(index=0),
    BlockStart(index=1, kind="text"),
    BlockDelta(index=1, text="Calling."),
    BlockStop(index=1),
    BlockStart(index=2, kind="tool_call", tool_id="toolu_1", tool_name="get_weather"),
    BlockDelta(index=2, text='{"ci'),
    BlockDelta(index=2, text='ty": "Paris"}'),
    BlockStop(index=2),
    UsageUpdate(usage=Usage(input=10, output=20)),
    StreamEnd(stop_reason=StopReason.TOOL_USE, usage=Usage(input=10, output=25, reasoning=5)),
]
CHUNKS = [
    '{"candidates":[{"content":{"role":"model","parts":[{"text":"Hmm","thought":true}]},"index":0}],"modelVersion":"gemini-2.5-pro","responseId":"msg_01"}',
    '{"candidates":[{"content":{"role":"model","parts":[{"text":"Calling."}]},"index":0}],"modelVersion":"gemini-2.5-pro","responseId":"msg_01"}',
    '{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"id":"toolu_1","name":"get_weather","args":{"city":"Paris"}}}]},"index":0}],"modelVersion":"gemini-2.5-pro","responseId":"msg_01"}',
    '{"candidates":[{"content":{"role":"model","parts":[{"text":""}]},"finishReason":"STOP","index":0}],"modelVersion":"gemini-2.5-pro","responseId":"msg_01","usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":20,"totalTokenCount":35,"thoughtsTokenCount":5}}',
]  # fmt: skip


def test_events_encode_to_the_exact_sse_bytes() -> None:
    encoder = CODEC.stream_encoder(Request(model="m"), "gemini-2.5-pro")
    out = b"".join(encoder.feed(event) for event in FOREIGN)
    assert out == "".join(f"data: {chunk}\n\n" for chunk in CHUNKS).encode()
    for payload in sse_payloads(out):
        check_answer(payload)
    # Nothing follows the last chunk: no terminator, and later events are ignored.
    assert encoder.feed(BlockStart(index=3, kind="text")) == b""
    assert encoder.close() == b""


def test_events_encode_to_the_exact_json_array_bytes() -> None:
    encoder = json_array_stream_encoder(Request(model="m"), "gemini-2.5-pro")
    pieces = [encoder.feed(event) for event in FOREIGN]
    assert b"".join(pieces) == ("[" + ",\n".join(CHUNKS) + "]").encode()
    assert pieces[2].startswith(b"[{")  # the array opens with the first chunk, not before
    for chunk in json.loads(b"".join(pieces)):
        check_answer(chunk)


@pytest.mark.parametrize("sse", [True, False])
def test_a_stream_error_is_an_error_object_and_no_finish(sse: bool) -> None:
    encoder = CODEC.stream_encoder(Request(model="m"), "gemini-2.5-pro", sse=sse)
    started = encoder.feed(StreamStart(id="r", model="x"))
    text = encoder.feed(BlockStart(index=0, kind="text")) + encoder.feed(
        BlockDelta(index=0, text="Hi")
    )
    failed = encoder.feed(StreamError(message="upstream broke", kind="upstream_error", status=502))
    error = b'{"error":{"code":502,"message":"upstream broke","status":"UNAVAILABLE"}}'
    chunk = b'{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},"index":0}],"modelVersion":"gemini-2.5-pro","responseId":"r"}'  # fmt: skip
    if sse:
        assert started + text + failed == b"data: " + chunk + b"\n\n" + b"data: " + error + b"\n\n"
    else:
        assert started + text + failed == b"[" + chunk + b",\n" + error + b"]"
    assert encoder.feed(StreamEnd()) == b""


def test_a_gemini_stream_translated_to_gemini_keeps_its_signatures() -> None:
    # The relay translates Gemini to Gemini when a thinking suffix rewrites the request. The
    # translator hands the request to the decoder, so call ids continue the request's numbering.
    translator = StreamTranslator(CODEC, CODEC, Request(model="m"), "gemini-3-pro-preview")
    raw = (DATA / "stream_tools.sse").read_bytes()
    from aiproxyapi.formats.sse import SSEDecoder

    out = b"".join(translator.feed(event) for event in SSEDecoder().feed(raw))
    out += translator.close()
    parts = [
        p for payload in sse_payloads(out) for p in payload["candidates"][0]["content"]["parts"]
    ]
    assert parts == [
        {"text": "**Checking two cities**", "thought": True},
        {"functionCall": {"id": "call_get_weather_1", "name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2lnLWNhbGw="},
        {"functionCall": {"id": "call_get_weather_2", "name": "get_weather", "args": {"city": "Rome", "units": ["c"]}}},
        {"text": ""},
    ]  # fmt: skip
    assert translator.completed
    last = sse_payloads(out)[-1]
    assert last["candidates"][0]["finishReason"] == "STOP"
    assert last["usageMetadata"] == {
        "promptTokenCount": 300,
        "candidatesTokenCount": 40,
        "thoughtsTokenCount": 64,
        "totalTokenCount": 404,
    }


def test_only_the_first_candidate_is_read_when_several_were_asked_for() -> None:
    decoder = CODEC.stream_decoder()
    other = {"candidates": [{"index": 1, "content": {"parts": [{"text": "B"}]}}], "responseId": "r"}
    mine = {
        "candidates": [{"index": 0, "content": {"parts": [{"text": "A"}]}, "finishReason": "STOP"}]
    }
    assert decoder.feed(data(other)) == [StreamStart(id="r", model="")]
    assert decoder.feed(data(mine)) == [
        BlockStart(index=0, kind="text"),
        BlockDelta(index=0, text="A"),
        BlockStop(index=0),
        StreamEnd(),
    ]
