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
from aiproxyapi.formats.codec import Codec
from aiproxyapi.formats.gemini import CODEC as GEMINI
from aiproxyapi.formats.openai_chat import CODEC as CHAT
from aiproxyapi.formats.openai_responses import CODEC as RESPONSES
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
            BlockDelta(index=0, signature="sig-", signature_source="claude"),
            BlockDelta(index=0, text=", yes."),
            BlockDelta(index=0, signature="part2", signature_source="claude"),
            BlockStop(index=0),
            BlockStart(index=1, kind="thinking"),
            BlockDelta(index=1, text="unsigned"),
            BlockStop(index=1),
            BlockStart(index=2, kind="text"),
            BlockDelta(
                index=2, text="ok", signature="gemini-thought-signature", signature_source="gemini"
            ),
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
        ("delta", 1, ""),  # every thinking block closes with a signature_delta (§9.7)
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
        "signature_delta",
        "text_delta",
    ]


def test_a_buffered_thinking_block_keeps_its_signature() -> None:
    wire = encode_all(
        [
            start(),
            BlockStart(index=0, kind="text"),
            BlockStart(index=1, kind="thinking"),
            BlockDelta(index=1, text="t"),
            BlockDelta(index=1, signature="s", signature_source="claude"),
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
        "content_block_start",  # the redacted thinking, replayed to Anthropic
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


# ---- signatures carry their issuer (wire-formats §9.4) --------------------------------------


def claude_sse(*payloads: dict[str, Any]) -> bytes:
    """An Anthropic stream written by hand: each payload framed with its `event:` line."""
    return b"".join(
        b"event: " + p["type"].encode() + b"\ndata: " + msgspec.json.encode(p) + b"\n\n"
        for p in payloads
    )


SIGNED = claude_sse(
    {
        "type": "message_start",
        "message": {"id": "msg_s", "model": "claude-x", "usage": {"input_tokens": 9}},
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "Let me think."},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "Q0xBVURFLVNJRw=="},
    },
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "redacted_thinking", "data": "UkVEQUNURUQ="},
    },
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "Yes."}},
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 7},
    },
    {"type": "message_stop"},
)


def translate(wire: bytes, client: Codec, model: str = "client-model") -> bytes:
    translator = StreamTranslator(CODEC, client, REQUEST, model)
    out = b"".join(translator.feed(e) for e in sse_events(wire)) + translator.close()
    assert translator.completed
    assert not translator.errored
    return out


def test_the_decoder_marks_signatures_and_redacted_thinking_as_claudes() -> None:
    decoded, _ = decode_all(SIGNED)
    assert decoded[1:9] == [
        BlockStart(index=0, kind="thinking"),
        BlockDelta(index=0, text="Let me think."),
        BlockDelta(index=0, signature="Q0xBVURFLVNJRw==", signature_source="claude"),
        BlockStop(index=0),
        BlockStart(index=1, kind="thinking"),
        BlockDelta(index=1, redacted="UkVEQUNURUQ=", signature_source="claude"),
        BlockStop(index=1),
        BlockStart(index=2, kind="text"),
    ]
    # A signature given whole in content_block_start is Anthropic's too.
    decoded, _ = decode_all(transcript("omissions"))
    signed = [e for e in decoded if isinstance(e, BlockDelta) and e.signature]
    assert signed == [BlockDelta(index=3, signature="sig-in-start", signature_source="claude")]


def test_a_claude_stream_to_a_claude_client_keeps_signatures_and_redacted_thinking() -> None:
    wire = translate(SIGNED, CODEC)
    assert block_events(wire) == [
        ("message_start",),
        ("start", 0, {"type": "thinking", "thinking": "", "signature": ""}),
        ("delta", 0, "Let me think."),
        ("delta", 0, "Q0xBVURFLVNJRw=="),
        ("stop", 0),
        ("start", 1, {"type": "redacted_thinking", "data": "UkVEQUNURUQ="}),
        ("stop", 1),
        ("start", 2, {"type": "text", "text": ""}),
        ("delta", 2, "Yes."),
        ("stop", 2),
        ("message_delta",),
        ("message_stop",),
    ]
    deltas = [d["delta"]["type"] for n, d in parse_stream(wire) if n == "content_block_delta"]
    assert deltas == ["thinking_delta", "signature_delta", "text_delta"]


def test_the_recorded_redacted_thinking_survives_claude_to_claude() -> None:
    wire = translate(transcript("server_tools"), CODEC)
    assert block_events(wire)[1:3] == [
        ("start", 0, {"type": "redacted_thinking", "data": "EmwKAhgB"}),
        ("stop", 0),
    ]


def test_a_claude_stream_to_a_gemini_client_keeps_the_thinking_text_only() -> None:
    wire = translate(SIGNED, GEMINI)
    parts = [
        part
        for data in (msgspec.json.decode(e.data) for e in sse_events(wire))
        for part in data["candidates"][0]["content"]["parts"]
    ]
    assert parts == [{"text": "Let me think.", "thought": True}, {"text": "Yes."}, {"text": ""}]


def test_a_claude_stream_to_a_responses_client_has_no_encrypted_content() -> None:
    wire = translate(SIGNED, RESPONSES)
    final = [msgspec.json.decode(e.data) for e in sse_events(wire)][-1]
    assert final["type"] == "response.completed"
    # The redacted block has nothing to show a Responses client: it makes no item at all.
    assert [
        (item["type"], item.get("summary"), "encrypted_content" in item)
        for item in final["response"]["output"]
    ] == [
        ("reasoning", [{"type": "summary_text", "text": "Let me think."}], False),
        ("message", None, False),
    ]


def test_a_claude_stream_to_a_chat_client_keeps_the_reasoning_text() -> None:
    wire = translate(SIGNED, CHAT)
    chunks = [msgspec.json.decode(e.data) for e in sse_events(wire) if e.data != b"[DONE]"]
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    assert deltas[1:3] == [{"reasoning_content": "Let me think."}, {"content": "Yes."}]


@pytest.mark.parametrize("client", [GEMINI, RESPONSES, CHAT], ids=lambda c: c.format.value)
def test_claudes_signature_and_redacted_thinking_never_reach_another_dialect(
    client: Codec,
) -> None:
    wire = translate(SIGNED, client)
    assert b"Let me think." in wire
    assert b"Q0xBVURFLVNJRw==" not in wire
    assert b"UkVEQUNURUQ=" not in wire
    assert b"redacted" not in wire


@pytest.mark.parametrize("source", ["gemini", "openai-responses", ""])
def test_the_encoder_drops_signatures_anthropic_did_not_issue(source: str) -> None:
    wire = encode_all(
        [
            start(),
            BlockStart(index=0, kind="thinking"),
            BlockDelta(index=0, text="Hmm", signature="c2ln", signature_source=source),
            BlockStop(index=0),
            BlockStart(index=1, kind="thinking"),
            BlockDelta(index=1, signature="b25seS1zaWc=", signature_source=source),
            BlockStop(index=1),
            BlockStart(index=2, kind="thinking"),
            BlockDelta(index=2, redacted="cmVk", signature_source=source),
            BlockStop(index=2),
            BlockStart(index=3, kind="text"),
            BlockDelta(index=3, text="ok"),
            BlockStop(index=3),
            StreamEnd(),
        ]
    )
    # Foreign thinking text is shown with an empty signature; thinking with nothing else is not
    # sent at all.
    assert block_events(wire) == [
        ("message_start",),
        ("start", 0, {"type": "thinking", "thinking": "", "signature": ""}),
        ("delta", 0, "Hmm"),
        ("delta", 0, ""),
        ("stop", 0),
        ("start", 1, {"type": "text", "text": ""}),
        ("delta", 1, "ok"),
        ("stop", 1),
        ("message_delta",),
        ("message_stop",),
    ]


def test_signed_thinking_without_text_and_buffered_redacted_thinking_go_out() -> None:
    wire = encode_all(
        [
            start(),
            BlockStart(index=0, kind="thinking"),
            BlockDelta(index=0, signature="b25seQ==", signature_source="claude"),
            BlockStart(index=1, kind="thinking"),
            BlockDelta(index=1, redacted="cmVk", signature_source="claude"),
            BlockDelta(index=1, text="ignored beside a redacted payload"),
            BlockStop(index=1),
            BlockStop(index=0),
            StreamEnd(),
        ]
    )
    assert block_events(wire)[1:-2] == [
        ("start", 0, {"type": "thinking", "thinking": "", "signature": ""}),
        ("delta", 0, "b25seQ=="),
        ("stop", 0),
        ("start", 1, {"type": "redacted_thinking", "data": "cmVk"}),
        ("stop", 1),
    ]
