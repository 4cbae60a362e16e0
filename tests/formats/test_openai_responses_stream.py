"""OpenAI Responses codec, streams: recorded transcripts to exact canonical events, canonical
events to the exact Responses lifecycle, and the openai SDK's own stream accumulator as judge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from openai._models import construct_type
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent

from aiproxyapi.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    Event,
    Request,
    Response,
    StopReason,
    StreamEnd,
    StreamError,
    StreamStart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
    UsageUpdate,
)
from aiproxyapi.formats.claude import CODEC as CLAUDE
from aiproxyapi.formats.codec import Codec, ErrorInfo
from aiproxyapi.formats.gemini import CODEC as GEMINI
from aiproxyapi.formats.openai_chat import CODEC as CHAT
from aiproxyapi.formats.openai_responses import CODEC, StreamFailed, assemble_from_stream
from aiproxyapi.formats.sse import SSEDecoder, SSEEvent
from aiproxyapi.formats.translate import StreamTranslator

DATA = Path(__file__).parent / "data" / "openai_responses"
USAGE = Usage(input=100, output=40, reasoning=10, cached=20)


def sse_events(raw: bytes, chunk: int = 0) -> list[SSEEvent]:
    decoder = SSEDecoder()
    pieces = [raw[i : i + chunk] for i in range(0, len(raw), chunk)] if chunk else [raw]
    events: list[SSEEvent] = []
    for piece in pieces:
        events += decoder.feed(piece)
    return events + decoder.close()


def decode(raw: bytes, chunk: int = 0) -> list[Event]:
    decoder = CODEC.stream_decoder()
    events: list[Event] = []
    for event in sse_events(raw, chunk):
        events += decoder.feed(event)
    return events + decoder.close()


def frame(kind: str, **payload: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()


def encode(events: list[Event], model: str = "my-model") -> bytes:
    encoder = CODEC.stream_encoder(Request(model="x"), model)
    return b"".join(encoder.feed(event) for event in events) + encoder.close()


def parsed(raw: bytes) -> list[list[Any]]:
    return [[e.event, json.loads(e.data)] for e in sse_events(raw)]


# ---- decoding ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stream_openai", "stream_codex"])
@pytest.mark.parametrize("chunk", [0, 1, 7, 100])
def test_recorded_streams_decode_to_the_exact_events(name: str, chunk: int) -> None:
    raw = (DATA / f"{name}.sse").read_bytes()
    expected = msgspec.convert(json.loads((DATA / f"{name}.events.json").read_text()), list[Event])
    assert decode(raw, chunk) == expected


def test_the_decoder_reports_the_terminal_usage() -> None:
    decoder = CODEC.stream_decoder()
    events = sse_events((DATA / "stream_openai.sse").read_bytes())
    for event in events[:-1]:
        decoder.feed(event)
    assert decoder.usage is None  # usage only ever comes with the terminal event
    decoder.feed(events[-1])
    assert decoder.usage == Usage(input=120, output=58, reasoning=32, cached=64)


def test_the_codex_stream_assembles_into_one_answer() -> None:
    events = decode((DATA / "stream_codex.sse").read_bytes())
    assert assemble_from_stream(events) == Response(
        id="resp_c1",
        model="gpt-5.1-codex",
        created=1761000500,
        parts=[
            ThinkingPart(signature="gAAAAABcodex", signature_source="openai-responses"),
            TextPart(text="Done. All tests pass."),
            ToolCallPart(id="call_c1", name="shell", arguments="{}"),
        ],
        stop_reason=StopReason.TOOL_USE,
        usage=Usage(input=5000, output=300, reasoning=200, cached=4096),
    )


START = frame("response.created", response={"id": "resp_1", "model": "m", "created_at": 5})


@pytest.mark.parametrize(
    ("reason", "stop"),
    [("max_output_tokens", StopReason.MAX_TOKENS), ("content_filter", StopReason.CONTENT_FILTER)],
)
def test_an_incomplete_response_ends_with_its_reason(reason: str, stop: StopReason) -> None:
    raw = (
        START
        + frame("response.output_text.delta", output_index=0, content_index=0, delta="Hi")
        + frame(
            "response.incomplete",
            response={
                "status": "incomplete",
                "incomplete_details": {"reason": reason},
                "usage": {"input_tokens": 3, "output_tokens": 9},
            },
        )
    )
    assert decode(raw) == [
        StreamStart(id="resp_1", model="m", created=5),
        BlockStart(index=0, kind="text"),
        BlockDelta(index=0, text="Hi"),
        BlockStop(index=0),
        StreamEnd(stop_reason=stop, usage=Usage(input=3, output=9)),
    ]


def test_a_failed_response_becomes_a_stream_error() -> None:
    raw = START + frame(
        "response.failed",
        response={
            "status": "failed",
            "error": {"code": "rate_limit_exceeded", "message": "Slow down"},
        },
    )
    assert decode(raw) == [
        StreamStart(id="resp_1", model="m", created=5),
        StreamError(message="Slow down", kind="rate_limit_exceeded", status=429),
    ]


def test_an_error_event_ends_the_stream_and_nothing_after_it_counts() -> None:
    raw = (
        START
        + frame("error", code="server_error", message="The server had an error", param=None)
        + frame("response.failed", response={"status": "failed"})
        + frame("response.completed", response={"status": "completed"})
    )
    assert decode(raw) == [
        StreamStart(id="resp_1", model="m", created=5),
        StreamError(message="The server had an error", kind="server_error", status=500),
    ]


@pytest.mark.parametrize(
    "payload",
    [
        {"code": None, "message": "Overloaded"},
        {"error": {"type": "server_is_overloaded", "message": "Overloaded"}},
    ],
)
def test_an_error_event_without_a_code_or_with_a_nested_error(payload: dict[str, Any]) -> None:
    events = decode(START + frame("error", **payload))
    status = 503 if "error" in payload else 500
    kind = "server_is_overloaded" if "error" in payload else "server_error"
    assert events[-1] == StreamError(message="Overloaded", kind=kind, status=status)


def test_a_stream_cut_before_its_terminal_event_ends_in_an_error() -> None:
    raw = START + frame("response.output_text.delta", output_index=0, content_index=0, delta="Hi")
    events = decode(raw)
    assert events[-1] == StreamError(
        message="the upstream stream ended before response.completed",
        kind="upstream_error",
        status=502,
    )
    with pytest.raises(StreamFailed) as caught:
        assemble_from_stream(events)
    assert caught.value.status == 502


def test_assembling_without_an_end_fails() -> None:
    with pytest.raises(StreamFailed, match="before its terminal event"):
        assemble_from_stream([StreamStart(id="r", model="m")])


def test_close_after_the_terminal_event_owes_nothing() -> None:
    decoder = CODEC.stream_decoder()
    for event in sse_events(START + frame("response.completed", response={"status": "completed"})):
        decoder.feed(event)
    assert decoder.close() == []


def test_items_only_in_the_final_response_are_replayed_from_it() -> None:
    output = [
        {
            "type": "reasoning",
            "summary": [
                {"type": "summary_text", "text": "a"},
                {"type": "summary_text", "text": "b"},
            ],
        },
        {
            "type": "message",
            "content": [
                {"type": "output_text", "text": "Hello"},
                {"type": "refusal", "refusal": "No"},
            ],
        },
    ]
    raw = START + frame("response.completed", response={"status": "completed", "output": output})
    assert decode(raw) == [
        StreamStart(id="resp_1", model="m", created=5),
        BlockStart(index=0, kind="thinking"),
        BlockDelta(index=0, text="a\n\nb"),
        BlockStop(index=0),
        BlockStart(index=1, kind="text"),
        BlockDelta(index=1, text="Hello"),
        BlockStop(index=1),
        BlockStart(index=2, kind="text"),
        BlockDelta(index=2, text="No"),
        BlockStop(index=2),
        StreamEnd(stop_reason=StopReason.CONTENT_FILTER),
    ]


def test_done_events_fill_in_text_whose_deltas_never_came() -> None:
    raw = (
        START
        + frame("response.output_text.done", output_index=0, content_index=0, text="Whole")
        + frame(
            "response.function_call_arguments.done",
            output_index=1,
            item_id="fc_9",
            arguments='{"a":1}',
        )
        + frame("response.reasoning_summary_text.done", output_index=2, summary_index=0, text="why")
        + frame("response.completed", response={"status": "completed"})
    )
    assert decode(raw) == [
        StreamStart(id="resp_1", model="m", created=5),
        BlockStart(index=0, kind="text"),
        BlockDelta(index=0, text="Whole"),
        BlockStart(index=1, kind="tool_call", tool_id="fc_9"),
        BlockDelta(index=1, text='{"a":1}'),
        BlockStart(index=2, kind="thinking"),
        BlockDelta(index=2, text="why"),
        BlockStop(index=0),
        BlockStop(index=1),
        BlockStop(index=2),
        StreamEnd(stop_reason=StopReason.TOOL_USE),
    ]


@pytest.mark.parametrize("data", [b"{not json", b"[1]"])
def test_an_unreadable_event_is_an_upstream_error(data: bytes) -> None:
    decoder = CODEC.stream_decoder()
    [error] = decoder.feed(SSEEvent("response.output_text.delta", data, b""))
    assert isinstance(error, StreamError)
    assert error.status == 502
    assert decoder.close() == []


def test_events_before_response_created_do_not_start_the_stream() -> None:
    decoder = CODEC.stream_decoder()
    rate = frame("codex.rate_limits", primary={"used_percent": 1})
    assert [decoder.feed(e) for e in sse_events(rate + START)] == [
        [],
        [StreamStart(id="resp_1", model="m", created=5)],
    ]


# ---- encoding ------------------------------------------------------------------------------


def test_canonical_events_encode_to_the_exact_lifecycle() -> None:
    case = json.loads((DATA / "encode_stream.json").read_text())
    events = msgspec.convert(case["events"], list[Event])
    assert parsed(encode(events, case["model"])) == case["sse"]


def test_each_event_is_framed_with_its_type_and_a_rising_sequence_number() -> None:
    case = json.loads((DATA / "encode_stream.json").read_text())
    raw = encode(msgspec.convert(case["events"], list[Event]))
    assert raw.startswith(b'event: response.created\ndata: {"type":"response.created","response":{')
    assert raw.endswith(b',"sequence_number":21}\n\n')
    frames = parsed(raw)
    assert all(name == data["type"] for name, data in frames)
    assert [data["sequence_number"] for _, data in frames] == list(range(len(frames)))


def text_turn(stop: StopReason) -> list[Event]:
    return [
        StreamStart(id="chatcmpl-9", model="gpt-4o", created=7),
        BlockStart(index=0, kind="text"),
        BlockDelta(index=0, text="Hi"),
        StreamEnd(stop_reason=stop, usage=USAGE),
    ]


def test_a_token_cap_ends_with_response_incomplete_after_closing_open_items() -> None:
    frames = parsed(encode(text_turn(StopReason.MAX_TOKENS)))
    assert [name for name, _ in frames] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    final = frames[-1][1]["response"]
    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["id"] == "resp_chatcmpl9"
    assert final["output"][0]["content"][0]["text"] == "Hi"


def test_a_stream_error_ends_with_error_and_response_failed_and_nothing_after() -> None:
    encoder = CODEC.stream_encoder(Request(model="x"), "m")
    raw = b"".join(encoder.feed(e) for e in text_turn(StopReason.END)[:3])
    raw += encoder.feed(StreamError(message="upstream broke", kind="upstream_error", status=502))
    assert encoder.feed(StreamEnd()) == b""
    frames = parsed(raw)
    assert [name for name, _ in frames][-2:] == ["error", "response.failed"]
    assert "response.completed" not in [name for name, _ in frames]
    assert frames[-2][1] == {
        "type": "error",
        "code": "upstream_error",
        "message": "upstream broke",
        "param": None,
        "sequence_number": 5,
    }
    failed = frames[-1][1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "upstream_error", "message": "upstream broke"}
    assert failed["output"] == []  # the open message never finished


@pytest.mark.parametrize("source", ["claude", "gemini", "openai", ""])
def test_another_vendors_signature_never_becomes_encrypted_content(source: str) -> None:
    # Even one that looks like OpenAI's Fernet token: only signature_source decides.
    events: list[Event] = [
        StreamStart(id="msg_1", model="claude"),
        BlockStart(index=0, kind="thinking"),
        BlockDelta(index=0, text="hmm"),
        BlockDelta(index=0, signature="gAAAAABforeign", signature_source=source),
        BlockStop(index=0),
        BlockStart(index=1, kind="thinking"),
        BlockDelta(index=1, signature="gAAAAABonly", signature_source=source),
        BlockDelta(index=1, redacted="cmVk", signature_source=source),
        BlockStop(index=1),
        BlockStart(index=2, kind="text"),
        BlockDelta(index=2, text="ok"),
        StreamEnd(),
    ]
    raw = encode(events)
    final = parsed(raw)[-1][1]["response"]
    # Thinking with nothing to show here (a foreign signature, a redacted payload) is no item.
    assert [item["id"] for item in final["output"]] == ["rs_msg1_0", "msg_msg1_1"]
    assert final["output"][0] == {
        "id": "rs_msg1_0",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "hmm"}],
    }
    assert b"gAAAAAB" not in raw
    assert b"cmVk" not in raw
    assert sdk_replay(raw) is not None


def test_an_empty_argument_tool_call_sends_an_empty_object() -> None:
    events: list[Event] = [
        StreamStart(id="r", model="m"),
        BlockStart(index=0, kind="tool_call", tool_id="call_1", tool_name="now"),
        BlockStop(index=0),
        StreamEnd(stop_reason=StopReason.TOOL_USE),
    ]
    frames = parsed(encode(events))
    assert frames[3][1]["arguments"] == "{}"
    assert frames[4][1]["item"]["arguments"] == "{}"


def sdk_replay(raw: bytes) -> Any:
    """The final response as the openai SDK's stream accumulator builds it (it raises on misuse)."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit, text_format=omit)
    final = None
    for event in sse_events(raw):
        typed = construct_type(type_=ResponseStreamEvent, value=json.loads(event.data))
        for out in state.handle_event(typed):  # type: ignore[arg-type]
            if out.type == "response.completed":
                final = out.response
    return final


def test_the_openai_sdk_accepts_the_stream_and_reads_the_answer() -> None:
    case = json.loads((DATA / "encode_stream.json").read_text())
    final = sdk_replay(encode(msgspec.convert(case["events"], list[Event])))
    assert final is not None
    assert final.output_text == "Hello"
    assert [item.type for item in final.output] == ["reasoning", "message", "function_call"]
    assert final.output[2].arguments == '{"city":"Paris"}'
    assert final.usage.total_tokens == 140


def test_a_stream_written_here_decodes_back_to_the_same_events() -> None:
    events: list[Event] = [
        StreamStart(id="resp_rt", model="m", created=3),
        BlockStart(index=0, kind="thinking"),
        BlockDelta(index=0, text="plan"),
        BlockDelta(index=0, signature="gAAAAABxyz", signature_source="openai-responses"),
        BlockStop(index=0),
        BlockStart(index=1, kind="text"),
        BlockDelta(index=1, text="Hi"),
        BlockStop(index=1),
        BlockStart(index=2, kind="tool_call", tool_id="call_9", tool_name="f"),
        BlockDelta(index=2, text="{}"),
        BlockStop(index=2),
        UsageUpdate(usage=USAGE),
        StreamEnd(stop_reason=StopReason.TOOL_USE, usage=USAGE),
    ]
    back = decode(encode(events, "m"))
    assert back == [e for e in events if not isinstance(e, UsageUpdate)]


def test_encode_stream_error_stands_alone() -> None:
    frames = parsed(CODEC.encode_stream_error(ErrorInfo(502, "upstream gone", "upstream_error")))
    assert [name for name, _ in frames] == ["error", "response.failed"]
    assert [data["sequence_number"] for _, data in frames] == [0, 1]
    assert frames[1][1]["response"]["status"] == "failed"
    assert frames[1][1]["response"]["error"] == {
        "code": "upstream_error",
        "message": "upstream gone",
    }


# ---- encrypted reasoning carries its issuer (wire-formats §9.4) -----------------------------


def translate(name: str, client: Codec, model: str = "client-model") -> bytes:
    translator = StreamTranslator(CODEC, client, Request(model="x"), model)
    raw = (DATA / f"{name}.sse").read_bytes()
    out = b"".join(translator.feed(e) for e in sse_events(raw)) + translator.close()
    assert translator.completed
    assert not translator.errored
    return out


def test_the_decoder_marks_encrypted_content_as_this_dialects() -> None:
    for name, encrypted in [("stream_openai", "gAAAAABenc"), ("stream_codex", "gAAAAABcodex")]:
        signed = [
            e
            for e in decode((DATA / f"{name}.sse").read_bytes())
            if isinstance(e, BlockDelta) and e.signature
        ]
        assert signed == [
            BlockDelta(index=0, signature=encrypted, signature_source="openai-responses")
        ]


@pytest.mark.parametrize(
    ("name", "summary", "encrypted"),
    [
        ("stream_openai", ["**Plan**\n\nCall the tool."], "gAAAAABenc"),
        ("stream_codex", [], "gAAAAABcodex"),
    ],
)
def test_a_responses_stream_to_a_responses_client_keeps_its_encrypted_content(
    name: str, summary: list[str], encrypted: str
) -> None:
    frames = parsed(translate(name, CODEC))
    final = frames[-1][1]["response"]
    reasoning = final["output"][0]
    assert reasoning["type"] == "reasoning"
    assert [s["text"] for s in reasoning["summary"]] == summary
    assert reasoning["encrypted_content"] == encrypted
    done = [d["item"] for n, d in frames if n == "response.output_item.done"]
    assert done[0]["encrypted_content"] == encrypted


def test_a_responses_stream_to_a_claude_client_keeps_the_summary_but_not_the_signature() -> None:
    raw = translate("stream_openai", CLAUDE)
    frames = [json.loads(e.data) for e in sse_events(raw)]
    thinking = [
        f["delta"] for f in frames if f["type"] == "content_block_delta" and f["index"] == 0
    ]
    assert thinking == [
        {"type": "thinking_delta", "thinking": "**Plan**"},
        {"type": "thinking_delta", "thinking": "\n\n"},
        {"type": "thinking_delta", "thinking": "Call the "},
        {"type": "thinking_delta", "thinking": "tool."},
        {"type": "signature_delta", "signature": ""},  # never OpenAI's encrypted content
    ]
    assert b"gAAAAAB" not in raw


def test_encrypted_only_reasoning_leaves_no_empty_thinking_block_for_claude() -> None:
    frames = [json.loads(e.data) for e in sse_events(translate("stream_codex", CLAUDE))]
    starts = [f["content_block"]["type"] for f in frames if f["type"] == "content_block_start"]
    assert starts == ["text", "tool_use"]


@pytest.mark.parametrize("client", [CLAUDE, GEMINI, CHAT], ids=lambda c: c.format.value)
def test_encrypted_content_never_reaches_another_dialect(client: Codec) -> None:
    raw = translate("stream_openai", client)
    assert b"Call the " in raw
    assert b"gAAAAAB" not in raw
