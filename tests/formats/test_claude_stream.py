"""Anthropic streams: recorded transcripts → canonical events, and canonical events → SSE bytes."""

from __future__ import annotations

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
    Usage,
    UsageUpdate,
)
from aiproxyapi.formats.claude import CODEC, PING
from aiproxyapi.formats.translate import StreamTranslator
from tests.formats.claude_cases import DATA, cases, events, load, parse_stream, sse_events

REQUEST = Request(model="claude-x")


def transcript(name: str) -> bytes:
    return (DATA / "streams" / f"{name}.sse").read_bytes()


def decode_all(wire: bytes) -> tuple[list[Event], Usage | None]:
    decoder = CODEC.stream_decoder()
    out: list[Event] = []
    for event in sse_events(wire):
        out += decoder.feed(event)
    out += decoder.close()
    return out, decoder.usage


def encode_all(stream: list[Event], model: str = "claude-client") -> bytes:
    encoder = CODEC.stream_encoder(REQUEST, model)
    return b"".join(encoder.feed(event) for event in stream) + encoder.close()


def start(usage: Usage | None = None) -> StreamStart:
    return StreamStart(id="msg_1", model="upstream", usage=usage)


# ---- decoding ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", cases("streams"), ids=lambda p: Path(p).stem)
def test_transcripts_decode_to_the_exact_canonical_events(path: Path) -> None:
    case = load(path)
    decoded, usage = decode_all(path.with_suffix(".sse").read_bytes())
    assert decoded == events(case["events"])
    expected_usage = case["usage"]
    assert usage == (None if expected_usage is None else msgspec.convert(expected_usage, Usage))


def test_usage_is_known_from_message_start_on() -> None:
    decoder = CODEC.stream_decoder()
    assert decoder.usage is None
    for event in sse_events(transcript("tool_use"))[:1]:
        decoder.feed(event)
    assert decoder.usage == Usage(input=2460, output=1, cached=2048)


def test_unreadable_data_is_a_stream_error() -> None:
    decoder = CODEC.stream_decoder()
    [event] = sse_events(b"event: message_start\ndata: [not json\n\n")
    assert decoder.feed(event) == [
        StreamError(message="unreadable event from the upstream", status=502)
    ]
    assert decoder.close() == []


# ---- encoding ------------------------------------------------------------------------------


def test_a_text_answer_encodes_to_the_exact_bytes() -> None:
    wire = encode_all(
        [
            start(Usage(input=30, output=1, cached=20)),
            BlockStart(index=0, kind="text"),
            BlockDelta(index=0, text="Hel"),
            BlockDelta(index=0, text=""),
            BlockDelta(index=0, text="lo"),
            BlockStop(index=0),
            UsageUpdate(usage=Usage(input=30, output=5, cached=20)),
            StreamEnd(stop_reason=StopReason.END),
        ]
    )
    assert wire == (
        b"event: message_start\n"
        b'data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
        b'"model":"claude-client","content":[],"stop_reason":null,"stop_sequence":null,"usage":'
        b'{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":20,'
        b'"output_tokens":1}}}\n\n'
        b"event: content_block_start\n"
        b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n'
        b"event: content_block_delta\n"
        b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}\n\n'
        b"event: content_block_stop\n"
        b'data: {"type":"content_block_stop","index":0}\n\n'
        b"event: message_delta\n"
        b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},'
        b'"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":20,'
        b'"output_tokens":5}}\n\n'
        b"event: message_stop\n"
        b'data: {"type":"message_stop"}\n\n'
    )


def test_the_reference_transcript_survives_decoding_and_encoding() -> None:
    decoded, _ = decode_all(transcript("tool_use"))
    parsed = parse_stream(encode_all(decoded, "claude-sonnet-4-5-20250929"))
    original = [
        (name, data) for name, data in parse_stream(transcript("tool_use")) if name != "ping"
    ]
    # Only the empty first fragment goes, and message_delta repeats the input counts.
    original = [e for e in original if e[1].get("delta", {}).get("partial_json") != ""]
    original[-2][1]["usage"] = {
        "input_tokens": 412,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 2048,
        "output_tokens": 96,
    }
    assert parsed == original


def block_events(wire: bytes) -> list[tuple[str, Any]]:
    """The block events of a stream, with just the parts that say what happened."""
    out: list[tuple[str, Any]] = []
    for name, data in parse_stream(wire):
        if name == "content_block_start":
            out.append(("start", data["index"], data["content_block"]))
        elif name == "content_block_delta":
            delta = data["delta"]
            out.append(("delta", data["index"], next(v for k, v in delta.items() if k != "type")))
        elif name == "content_block_stop":
            out.append(("stop", data["index"]))
        else:
            out.append((name,))
    return out


def test_interleaved_parallel_tool_calls_go_out_one_block_at_a_time() -> None:
    wire = encode_all(
        [
            start(),
            BlockStart(index=0, kind="text"),
            BlockDelta(index=0, text="Checking both."),
            BlockStart(index=1, kind="tool_call", tool_id="call_a", tool_name="weather"),
            BlockDelta(index=1, text='{"city":'),
            BlockStart(index=2, kind="tool_call", tool_id="call_b", tool_name="weather"),
            BlockDelta(index=2, text='{"city":"Ro'),
            BlockDelta(index=0, text=" Wait."),
            BlockStop(index=0),
            BlockDelta(index=1, text='"Paris"}'),
            BlockDelta(index=2, text='me"}'),
            BlockStart(index=3, kind="tool_call", tool_id="call_c", tool_name="time"),
            BlockStop(index=2),
            BlockStop(index=1),
            StreamEnd(stop_reason=StopReason.TOOL_USE, usage=Usage(input=5, output=9)),
        ]
    )
    assert block_events(wire) == [
        ("message_start",),
        ("start", 0, {"type": "text", "text": ""}),
        ("delta", 0, "Checking both."),
        ("delta", 0, " Wait."),
        ("stop", 0),
        ("start", 1, {"type": "tool_use", "id": "call_a", "name": "weather", "input": {}}),
        ("delta", 1, '{"city":'),
        ("delta", 1, '"Paris"}'),
        ("stop", 1),
        ("start", 2, {"type": "tool_use", "id": "call_b", "name": "weather", "input": {}}),
        ("delta", 2, '{"city":"Rome"}'),
        ("stop", 2),
        ("start", 3, {"type": "tool_use", "id": "call_c", "name": "time", "input": {}}),
        ("stop", 3),
        ("message_delta",),
        ("message_stop",),
    ]


def test_thinking_gets_its_signature_just_before_it_stops() -> None:
    wire = encode_all(
        [
            start(),
            BlockStart(index=0, kind="thinking"),
            BlockDelta(index=0, text="Hmm"),
            BlockDelta(index=0, signature="sig-"),
            BlockDelta(index=0, text=", yes."),
            BlockDelta(index=0, signature="part2"),
            BlockStop(index=0),
            BlockStart(index=1, kind="thinking"),
            BlockDelta(index=1, text="unsigned"),
            BlockStop(index=1),
            BlockStart(index=2, kind="text"),
            BlockDelta(index=2, text="ok", signature="gemini-thought-signature"),
            StreamEnd(),
        ]
    )
    assert block_events(wire) == [
        ("message_start",),
        ("start", 0, {"type": "thinking", "thinking": "", "signature": ""}),
        ("delta", 0, "Hmm"),
        ("delta", 0, ", yes."),
        ("delta", 0, "sig-part2"),
        ("stop", 0),
        ("start", 1, {"type": "thinking", "thinking": "", "signature": ""}),
        ("delta", 1, "unsigned"),
        ("stop", 1),
        ("start", 2, {"type": "text", "text": ""}),
        ("delta", 2, "ok"),
        ("stop", 2),
        ("message_delta",),
        ("message_stop",),
    ]
    deltas = [
        data["delta"]["type"] for name, data in parse_stream(wire) if name == "content_block_delta"
    ]
    assert deltas == [
        "thinking_delta",
        "thinking_delta",
        "signature_delta",
        "thinking_delta",
        "text_delta",
    ]


def test_a_buffered_thinking_block_keeps_its_signature() -> None:
    wire = encode_all(
        [
            start(),
            BlockStart(index=0, kind="text"),
            BlockStart(index=1, kind="thinking"),
            BlockDelta(index=1, text="t"),
            BlockDelta(index=1, signature="s"),
            BlockStop(index=1),
            BlockDelta(index=0, text="x"),
            BlockStop(index=0),
            StreamEnd(),
        ]
    )
    assert block_events(wire)[1:-2] == [
        ("start", 0, {"type": "text", "text": ""}),
        ("delta", 0, "x"),
        ("stop", 0),
        ("start", 1, {"type": "thinking", "thinking": "", "signature": ""}),
        ("delta", 1, "t"),
        ("delta", 1, "s"),
        ("stop", 1),
    ]


def test_tool_ids_are_valid_for_anthropic_and_generated_when_missing() -> None:
    wire = encode_all(
        [
            StreamStart(id="resp-9", model="gemini"),
            BlockStart(index=0, kind="tool_call", tool_id="", tool_name="a"),
            BlockStop(index=0),
            BlockStart(index=1, kind="tool_call", tool_id="", tool_name="b"),
            BlockStop(index=1),
            BlockStart(index=2, kind="tool_call", tool_id="fc:1", tool_name="c"),
            BlockStop(index=2),
            StreamEnd(stop_reason=StopReason.END),
        ]
    )
    parsed = parse_stream(wire)
    ids = [d["content_block"]["id"] for n, d in parsed if n == "content_block_start"]
    assert ids == ["toolu_resp-9_1", "toolu_resp-9_2", "fc_1"]
    assert parsed[-2][1]["delta"]["stop_reason"] == "tool_use"  # a tool call decides


def test_a_missing_start_is_synthesised_and_final_usage_keeps_the_input() -> None:
    wire = encode_all(
        [BlockStart(index=0, kind="text"), StreamEnd(stop_reason=StopReason.MAX_TOKENS)]
    )
    parsed = parse_stream(wire)
    assert parsed[0][0] == "message_start"
    assert parsed[0][1]["message"]["id"].startswith("msg_")
    assert parsed[-2][1]["delta"] == {"stop_reason": "max_tokens", "stop_sequence": None}

    wire = encode_all(
        [
            start(Usage(input=100, cached=60, cache_write=10)),
            UsageUpdate(usage=Usage(output=42)),
            StreamEnd(stop_reason=StopReason.STOP_SEQUENCE, stop_sequence="##"),
        ]
    )
    message_delta = parse_stream(wire)[-2][1]
    assert message_delta == {
        "type": "message_delta",
        "delta": {"stop_reason": "stop_sequence", "stop_sequence": "##"},
        "usage": {
            "input_tokens": 30,
            "cache_creation_input_tokens": 10,
            "cache_read_input_tokens": 60,
            "output_tokens": 42,
        },
    }


@pytest.mark.parametrize("begun", [True, False])
def test_a_stream_error_is_an_error_event_and_the_end_of_the_stream(begun: bool) -> None:
    encoder = CODEC.stream_encoder(REQUEST, "m")
    head = (
        [start(), BlockStart(index=0, kind="text"), BlockDelta(index=0, text="par")]
        if begun
        else []
    )
    for event in head:
        encoder.feed(event)
    wire = encoder.feed(StreamError(message="Overloaded", kind="overloaded_error", status=529))
    assert wire == (
        b"event: error\n"
        b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    assert encoder.feed(StreamEnd()) == b""
    assert encoder.close() == b""


def test_a_foreign_error_kind_takes_the_type_of_its_status() -> None:
    wire = encode_all([start(), StreamError(message="boom", kind="server_error", status=500)])
    assert parse_stream(wire)[-1] == (
        "error",
        {"type": "error", "error": {"type": "api_error", "message": "boom"}},
    )


def test_close_without_an_end_never_claims_success() -> None:
    encoder = CODEC.stream_encoder(REQUEST, "m")
    encoder.feed(start())
    encoder.feed(BlockStart(index=0, kind="text"))
    tail = parse_stream(encoder.close())
    assert [name for name, _ in tail] == ["error"]
    assert tail[0][1]["error"]["type"] == "api_error"


def test_ping_is_anthropics_keep_alive() -> None:
    assert parse_stream(PING) == [("ping", {"type": "ping"})]


def test_a_claude_upstream_relays_to_a_claude_client_through_the_translator() -> None:
    translator = StreamTranslator(CODEC, CODEC, REQUEST, "claude-client")
    wire = b"".join(translator.feed(e) for e in sse_events(transcript("server_tools")))
    wire += translator.close()
    assert translator.completed
    assert not translator.errored
    assert [name for name, _ in parse_stream(wire)] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
