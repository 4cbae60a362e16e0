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
    Tool,
    Usage,
    UsageUpdate,
)
from aiproxyapi.formats.claude import CODEC as CLAUDE
from aiproxyapi.formats.codec import Codec
from aiproxyapi.formats.gemini import CODEC, json_array_stream_encoder
from aiproxyapi.formats.openai_chat import CODEC as CHAT
from aiproxyapi.formats.openai_responses import CODEC as RESPONSES
from aiproxyapi.formats.sse import SSEDecoder, SSEEvent
from aiproxyapi.formats.translate import StreamTranslator
from tests.formats.claude_cases import parse_stream
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
        BlockDelta(index=0, signature="c2ln", signature_source="gemini"),
    ]
    assert decoder.feed(parts({"text": "A"}, {"text": "", "thoughtSignature": "c2lnLTI="})) == [
        BlockStop(index=0),
        BlockStart(index=1, kind="text"),
        BlockDelta(index=1, text="A"),
        BlockDelta(index=1, signature="c2lnLTI=", signature_source="gemini"),
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


# ---- thought signatures carry their issuer (wire-formats §9.4) ------------------------------

SIGNED_CHUNKS: list[dict[str, object]] = [
    {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "Thinking it over.", "thought": True, "thoughtSignature": "R0VNLVRIT1VHSFQ="},
        ]}}],
        "responseId": "rs",
        "modelVersion": "gemini-3-pro-preview",
    },
    {
        "candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "R0VNLUNBTEw="},
        ]}}],
        "responseId": "rs",
    },
    {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "Done.", "thoughtSignature": "R0VNLVRFWFQ="},
        ]}, "finishReason": "STOP"}],
        "responseId": "rs",
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3},
    },
]  # fmt: skip
SIGNATURES = (b"R0VNLVRIT1VHSFQ=", b"R0VNLUNBTEw=", b"R0VNLVRFWFQ=")
TOOLS_REQUEST = Request(model="m", tools=[Tool(name="get_weather")])


def translate(client: Codec, model: str = "client-model") -> bytes:
    translator = StreamTranslator(CODEC, client, TOOLS_REQUEST, model)
    out = b"".join(translator.feed(data(chunk)) for chunk in SIGNED_CHUNKS) + translator.close()
    assert translator.completed
    assert not translator.errored
    return out


def test_the_decoder_marks_every_thought_signature_as_geminis() -> None:
    decoder = CODEC.stream_decoder(TOOLS_REQUEST)
    out = [event for chunk in SIGNED_CHUNKS for event in decoder.feed(data(chunk))]
    signed = [e for e in out if isinstance(e, BlockDelta) and e.signature]
    assert signed == [
        BlockDelta(
            index=0,
            text="Thinking it over.",
            signature="R0VNLVRIT1VHSFQ=",
            signature_source="gemini",
        ),
        BlockDelta(index=1, signature="R0VNLUNBTEw=", signature_source="gemini"),
        BlockDelta(index=2, text="Done.", signature="R0VNLVRFWFQ=", signature_source="gemini"),
    ]
    assert [
        e for e in out if isinstance(e, BlockDelta) and e.signature_source and not e.signature
    ] == []


def test_a_gemini_stream_to_a_gemini_client_keeps_every_signature() -> None:
    parts = [
        part
        for payload in sse_payloads(translate(CODEC, "gemini-3-pro-preview"))
        for part in payload["candidates"][0]["content"]["parts"]
    ]
    assert parts == [
        {"text": "Thinking it over.", "thought": True, "thoughtSignature": "R0VNLVRIT1VHSFQ="},
        {"functionCall": {"id": "call_get_weather_1", "name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "R0VNLUNBTEw="},
        {"text": "Done.", "thoughtSignature": "R0VNLVRFWFQ="},
        {"text": ""},
    ]  # fmt: skip


def test_a_gemini_stream_to_a_claude_client_keeps_the_thinking_but_not_the_signatures() -> None:
    wire = translate(CLAUDE)
    blocks = [
        (name, data.get("content_block") or data.get("delta"))
        for name, data in parse_stream(wire)
        if name.startswith("content_block_") and name != "content_block_stop"
    ]
    assert blocks == [
        ("content_block_start", {"type": "thinking", "thinking": "", "signature": ""}),
        ("content_block_delta", {"type": "thinking_delta", "thinking": "Thinking it over."}),
        # Closed with an empty signature: Gemini's own never reaches an Anthropic client.
        ("content_block_delta", {"type": "signature_delta", "signature": ""}),
        ("content_block_start", {"type": "tool_use", "id": "call_get_weather_1", "name": "get_weather", "input": {}}),
        ("content_block_delta", {"type": "input_json_delta", "partial_json": '{"city":"Paris"}'}),
        ("content_block_start", {"type": "text", "text": ""}),
        ("content_block_delta", {"type": "text_delta", "text": "Done."}),
    ]  # fmt: skip


def test_a_gemini_stream_to_a_responses_client_has_no_encrypted_content() -> None:
    wire = translate(RESPONSES)
    final = [msgspec.json.decode(event.data) for event in SSEDecoder().feed(wire)][-1]
    output = final["response"]["output"]
    assert [item["type"] for item in output] == ["reasoning", "function_call", "message"]
    assert output[0]["summary"] == [{"type": "summary_text", "text": "Thinking it over."}]
    assert all("encrypted_content" not in item for item in output)


@pytest.mark.parametrize("client", [CLAUDE, RESPONSES, CHAT], ids=lambda c: c.format.value)
def test_geminis_signatures_never_reach_another_dialect(client: Codec) -> None:
    wire = translate(client)
    assert b"Thinking it over." in wire
    assert not any(signature in wire for signature in SIGNATURES)


@pytest.mark.parametrize("source", ["claude", "openai-responses", ""])
def test_the_encoder_writes_no_signature_gemini_did_not_issue(source: str) -> None:
    encoder = CODEC.stream_encoder(Request(model="m"), "gemini-3-pro-preview")
    stream: list[Event] = [
        StreamStart(id="r", model="x"),
        BlockStart(index=0, kind="thinking"),
        BlockDelta(index=0, text="Hmm", signature="Zm9yZWlnbg==", signature_source=source),
        BlockDelta(index=0, signature="b25seQ==", signature_source=source),
        BlockDelta(index=0, redacted="cmVk", signature_source=source),
        BlockStop(index=0),
        BlockStart(index=1, kind="tool_call", tool_id="t1", tool_name="f"),
        BlockDelta(index=1, text="{}"),
        BlockDelta(index=1, signature="Y2FsbA==", signature_source=source),
        BlockStop(index=1),
        StreamEnd(),
    ]
    out = b"".join(encoder.feed(event) for event in stream)
    parts = [
        p for payload in sse_payloads(out) for p in payload["candidates"][0]["content"]["parts"]
    ]
    assert parts == [
        {"text": "Hmm", "thought": True},
        {"functionCall": {"id": "t1", "name": "f", "args": {}}},
        {"text": ""},
    ]
