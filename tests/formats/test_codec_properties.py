"""Property tests of every codec: arbitrary JSON raises only declared errors, round trips keep text.

The relay turns a `TranslationError` from `decode_request` into a 400 and a `ValueError`,
`TypeError` or `KeyError` from `decode_response` into a 502; stream decoders and
`decode_error` take anything an upstream sends. Any other exception would be a 500 with a
stack trace, so these tests feed each codec JSON built from its own vocabulary (to reach deep
paths), from random text and with bytes that are not UTF-8. The example count follows
AIPROXYAPI_TEST_PROFILE (tests/support/hardening.py).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiproxyapi.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    Message,
    Request,
    Response,
    Role,
    StopReason,
    StreamEnd,
    StreamError,
    StreamStart,
    TextPart,
    UsageUpdate,
)
from aiproxyapi.formats import Format, codec_for
from aiproxyapi.formats.codec import ErrorInfo, TranslationError
from aiproxyapi.formats.sse import SSEEvent
from tests.support.hardening import examples

DIALECTS = list(Format)
EVENT_TYPES = (BlockDelta, BlockStart, BlockStop, StreamEnd, StreamError, StreamStart, UsageUpdate)

# Field names and values the four dialects use, so generated bodies reach past the first check.
_WORDS = """
model messages role content type text system user assistant tool tools tool_calls
tool_call_id function name arguments id parameters input output instructions contents parts
functionCall functionResponse inlineData mimeType data image_url url image source tool_use
tool_result thinking signature choices delta message index candidates finishReason usage
usageMetadata stop_reason max_tokens temperature stream stop reasoning effort
response_format json_schema schema generationConfig systemInstruction thinkingConfig
output_text function_call function_call_output call_id cache_control metadata content_block
content_block_delta message_start message_delta response response.output_text.delta
response.completed prompt_tokens input_tokens
"""
VOCABULARY = _WORDS.split()

keys = st.sampled_from(VOCABULARY) | st.text(max_size=6)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(VOCABULARY)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=30,
)
json_objects = st.dictionaries(keys, json_values, max_size=6)
# JSON whose strings hold bytes that are not UTF-8 (msgspec raises UnicodeDecodeError for them).
not_utf8 = st.builds(
    lambda key, junk: b'{"' + key.encode() + b'": "' + junk + b'", "type": "x"}',
    st.sampled_from(VOCABULARY),
    st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"a\xfe"]),
)
wire_bytes = json_values.map(msgspec.json.encode) | st.binary(max_size=40) | not_utf8


def messages_shaped(dialect: Format) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies with the dialect's outer shape and arbitrary insides (reach the message loops)."""
    outer = {
        Format.OPENAI_CHAT: "messages",
        Format.OPENAI_RESPONSES: "input",
        Format.CLAUDE: "messages",
        Format.GEMINI: "contents",
    }[dialect]
    item = st.dictionaries(keys, json_values, max_size=5)
    return st.fixed_dictionaries(
        {"model": st.just("m1"), outer: st.lists(item, max_size=4)},
        optional={"system": json_values, "tools": json_values, "max_tokens": json_values},
    )


def bodies(dialect: Format) -> st.SearchStrategy[dict[str, Any]]:
    return json_objects | messages_shaped(dialect)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.value)
@settings(max_examples=examples(25))
@given(data=st.data())
def test_decode_request_raises_only_translation_errors(
    dialect: Format, data: st.DataObject
) -> None:
    body = data.draw(bodies(dialect))
    try:
        request = codec_for(dialect).decode_request(body)
    except TranslationError as exc:
        refusal: TranslationError | None = exc
    else:
        assert isinstance(request, Request)
        refusal = None
    assert refusal is None or refusal.message  # a refusal always says what is wrong


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.value)
@settings(max_examples=examples(25))
@given(body=json_objects)
def test_decode_response_raises_only_what_the_relay_turns_into_a_502(
    dialect: Format, body: dict[str, Any]
) -> None:
    try:
        response = codec_for(dialect).decode_response(body)
    except (ValueError, TypeError, KeyError):
        return
    assert isinstance(response, Response)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.value)
@settings(max_examples=examples(25))
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["", "message", "error", "ping", *VOCABULARY[-12:]]),
            wire_bytes,
        ),
        max_size=8,
    )
)
def test_stream_decoders_take_any_upstream_events(
    dialect: Format, events: list[tuple[str, bytes]]
) -> None:
    decoder = codec_for(dialect).stream_decoder()
    out: list[object] = []
    for name, data in events:
        out += decoder.feed(SSEEvent(name, data, b"data: " + data + b"\n\n"))
    out += decoder.close()
    assert all(isinstance(event, EVENT_TYPES) for event in out), out
    # What came out can be written in every client dialect without raising.
    request = Request(model="m1", stream=True)
    for client in DIALECTS:
        encoder = codec_for(client).stream_encoder(request, "m1")
        for event in out:
            assert isinstance(encoder.feed(event), bytes)  # type: ignore[arg-type]
        assert isinstance(encoder.close(), bytes)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.value)
@settings(max_examples=examples(25))
@given(
    status=st.integers(min_value=100, max_value=599),
    body=wire_bytes,
)
def test_decode_error_reads_anything(dialect: Format, status: int, body: bytes) -> None:
    info = codec_for(dialect).decode_error(status, body)
    assert isinstance(info, ErrorInfo)
    assert isinstance(info.message, str)
    # And what it read can be written back in the dialect as JSON.
    msgspec.json.decode(codec_for(dialect).encode_error(info))


# -- round trips keep content ------------------------------------------------------------------

plain_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40
).filter(lambda t: t.strip() == t and t != "")
turns = st.lists(
    st.tuples(st.sampled_from([Role.USER, Role.ASSISTANT]), plain_text), min_size=1, max_size=7
)


def conversation(system: str, pairs: list[tuple[Role, str]]) -> Request:
    # Dialects merge or refuse consecutive turns of one role differently: alternate, start and
    # end as the user (Gemini drops a trailing assistant prefill by design).
    if len(pairs) % 2 == 0:
        pairs = pairs[:-1]
    messages = [
        Message(role=Role.USER if i % 2 == 0 else Role.ASSISTANT, parts=[TextPart(text=text)])
        for i, (_role, text) in enumerate(pairs)
    ]
    return Request(
        model="m1",
        messages=messages,
        system=[TextPart(text=system)] if system else [],
        max_tokens=64,
    )


def texts(request: Request) -> tuple[list[str], list[tuple[str, str]]]:
    system = [p.text for p in request.system]
    said = [
        (m.role.value, p.text) for m in request.messages for p in m.parts if isinstance(p, TextPart)
    ]
    return system, said


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.value)
@settings(max_examples=examples(25))
@given(system=st.one_of(st.just(""), plain_text), pairs=turns)
def test_a_request_round_trip_keeps_roles_and_text(
    dialect: Format, system: str, pairs: list[tuple[Role, str]]
) -> None:
    codec = codec_for(dialect)
    original = conversation(system, pairs)
    wire = msgspec.json.decode(msgspec.json.encode(codec.encode_request(original, "m1")))
    if dialect is Format.GEMINI:
        wire = {**wire, "model": "m1"}  # Gemini carries the model in the URL
    back = codec.decode_request(wire)
    assert texts(back) == texts(original)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.value)
@settings(max_examples=examples(25))
@given(text=plain_text, stop=st.sampled_from([StopReason.END, StopReason.MAX_TOKENS]))
def test_a_response_round_trip_keeps_text_and_stop_reason(
    dialect: Format, text: str, stop: StopReason
) -> None:
    codec = codec_for(dialect)
    original = Response(id="r1", model="m1", parts=[TextPart(text=text)], stop_reason=stop)
    wire = msgspec.json.decode(msgspec.json.encode(codec.encode_response(original, "m1")))
    back = codec.decode_response(wire)
    assert [p.text for p in back.parts if isinstance(p, TextPart)] == [text]
    assert back.stop_reason is stop


# -- findings kept as regression inputs ----------------------------------------------------------


@pytest.mark.parametrize("role", [[None], {"a": 1}, 7, True], ids=["list", "object", "int", "bool"])
def test_a_gemini_role_that_is_not_a_string_is_a_translation_error(role: object) -> None:
    # Found by the property above: an unhashable role was a TypeError (a 500), not a 400.
    body = {"model": "m1", "contents": [{"role": role, "parts": [{"text": "hi"}]}]}
    with pytest.raises(TranslationError, match="role"):
        codec_for(Format.GEMINI).decode_request(body)


@pytest.mark.invariant(11)
@pytest.mark.parametrize(
    "data", [b"{not json", b'{"choices": "\xff"}', b"[1, 2"], ids=["not-json", "not-utf8", "cut"]
)
def test_an_unreadable_openai_chunk_ends_the_stream_as_failed(data: bytes) -> None:
    # It was skipped as if it were a keep-alive, and the stream then ended as a success.
    decoder = codec_for(Format.OPENAI_CHAT).stream_decoder()
    start = b'{"id": "c1", "choices": [{"index": 0, "delta": {"content": "a"}}]}'
    decoder.feed(SSEEvent("", start, b""))
    events = decoder.feed(SSEEvent("", data, b""))
    assert [type(e) for e in events] == [StreamError]
    assert not any(isinstance(e, StreamEnd) for e in decoder.feed(SSEEvent("", b"[DONE]", b"")))


def test_a_stray_text_line_in_an_openai_stream_is_still_skipped() -> None:
    decoder = codec_for(Format.OPENAI_CHAT).stream_decoder()
    assert decoder.feed(SSEEvent("", b"keep-alive", b"")) == []
