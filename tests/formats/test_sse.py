"""SSEDecoder: framing by any line ending, keep-alives relayed, and chunking never matters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiproxyapi.formats.sse import SSEDecoder, SSEEvent

Parsed = tuple[str, bytes]


def parsed(events: list[SSEEvent]) -> list[Parsed]:
    return [(e.event, e.data) for e in events]


def decode(*chunks: bytes, limit: int = 8 * 1024 * 1024) -> list[SSEEvent]:
    decoder = SSEDecoder(limit)
    events: list[SSEEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.close()


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_every_line_ending_frames_the_same_events(eol: bytes) -> None:
    wire = eol.join([b"data: one", b"", b"event: delta", b"data: two", b"", b""])
    decoder = SSEDecoder()
    events = decoder.feed(wire)
    events += decoder.close()
    assert parsed(events) == [("", b"one"), ("delta", b"two")]
    assert events[1].raw == b"event: delta\ndata: two\n\n"


def test_events_complete_only_at_the_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: hel") == []
    assert decoder.feed(b"lo\n") == []
    assert parsed(decoder.feed(b"\ndata: next")) == [("", b"hello")]
    assert parsed(decoder.close()) == [("", b"next")]
    assert decoder.close() == []  # close empties the decoder


def test_multi_line_data_is_joined_with_newlines() -> None:
    events = decode(b'data: {"a":\ndata:1}\ndata:\n\n')
    assert parsed(events) == [("", b'{"a":\n1}\n')]


def test_only_one_leading_space_is_dropped_and_colons_in_values_kept() -> None:
    assert parsed(decode(b"data:  two spaces: yes\n\n")) == [("", b" two spaces: yes")]
    assert parsed(decode(b"data:no-space\n\n")) == [("", b"no-space")]


def test_event_names_are_kept_with_their_data() -> None:
    wire = b"event: message_start\ndata: {}\n\nevent: ping\n\n"
    assert parsed(decode(wire)) == [("message_start", b"{}"), ("ping", b"")]


def test_comments_and_keep_alives_are_relayed_as_data_less_events() -> None:
    events = decode(b": keep-alive\n\n:\n\ndata: x\n\n: OPENROUTER PROCESSING\r\n\r\n")
    assert parsed(events) == [("", b""), ("", b""), ("", b"x"), ("", b"")]
    assert [e.raw for e in events] == [
        b": keep-alive\n\n",
        b":\n\n",
        b"data: x\n\n",
        b": OPENROUTER PROCESSING\n\n",
    ]


def test_a_comment_inside_an_event_stays_in_its_raw_bytes() -> None:
    [event] = decode(b": note\ndata: x\n\n")
    assert (event.data, event.raw) == (b"x", b": note\ndata: x\n\n")


def test_extra_blank_lines_between_events_yield_nothing() -> None:
    assert parsed(decode(b"\n\n\ndata: a\n\n\n\n\n\ndata: b\n\n\n")) == [("", b"a"), ("", b"b")]


def test_an_unterminated_final_event_is_returned_at_close() -> None:
    for tail in (b"data: [DONE]", b"data: [DONE]\n", b"data: [DONE]\r", b"data: [DONE]\r\n"):
        assert parsed(decode(b"data: a\n\n" + tail)) == [("", b"a"), ("", b"[DONE]")]


def test_close_on_nothing_or_whitespace_yields_nothing() -> None:
    assert decode() == []
    assert decode(b"\n\n\r\n") == []


def test_a_crlf_split_between_chunks_is_one_line_ending() -> None:
    assert parsed(decode(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n")) == [("", b"a"), ("", b"b")]
    # ...but two CRs are two line endings, so they end the event.
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert parsed(decoder.feed(b"\r")) == []  # the second CR might still be half a CRLF
    assert parsed(decoder.feed(b"data: b\n\n")) == [("", b"a"), ("", b"b")]


def test_every_split_point_and_byte_by_byte_feeding_agree() -> None:
    wire = b"event: a\r\ndata: 1\r\ndata: 2\r\n\r\n: ping\r\rdata: 3\r\r\ndata: 4\n\n"
    expected = [("a", b"1\n2"), ("", b""), ("", b"3"), ("", b"4")]
    assert parsed(decode(wire)) == expected
    for cut in range(len(wire) + 1):
        assert parsed(decode(wire[:cut], wire[cut:])) == expected, cut
    assert parsed(decode(*(wire[i : i + 1] for i in range(len(wire))))) == expected


def test_an_event_growing_past_the_limit_is_refused() -> None:
    decoder = SSEDecoder(limit=64)
    decoder.feed(b"data: " + b"x" * 50)
    with pytest.raises(ValueError, match="size limit"):
        decoder.feed(b"x" * 20)


def test_events_under_the_limit_pass_and_free_the_buffer() -> None:
    decoder = SSEDecoder(limit=64)
    for _ in range(10):
        assert parsed(decoder.feed(b"data: " + b"y" * 40 + b"\n\n")) == [("", b"y" * 40)]


# -- property: chunking never changes the events -----------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12)
_name = st.text(
    st.characters(codec="utf-8", exclude_characters="\r\n"),
    min_size=1,
    max_size=8,
)
_event = st.tuples(
    st.one_of(st.just(""), _name),  # event name, "" for none
    st.lists(_text, max_size=3),  # data lines; none at all makes a keep-alive or a bare event
    st.booleans(),  # a comment line first
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)


def _serialize(events: list[tuple[str, list[str], bool, bytes]]) -> tuple[bytes, list[Parsed]]:
    wire = b""
    expected: list[Parsed] = []
    for name, lines, comment, eol in events:
        block = [b": comment"] if comment else []
        if name:
            block.append(b"event: " + name.encode())
        block += [b"data: " + line.encode() for line in lines]
        if not block:
            block = [b":"]
        wire += eol.join(block) + eol + eol
        # Every block is one event; comment-only blocks are data-less keep-alives.
        expected.append((name, b"\n".join(line.encode() for line in lines)))
    return wire, expected


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(_event, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
    terminated=st.booleans(),
)
def test_splitting_the_bytes_anywhere_gives_the_same_events(
    events: list[tuple[str, list[str], bool, bytes]], cuts: list[int], terminated: bool
) -> None:
    wire, expected = _serialize(events)
    if not terminated and wire:
        wire = wire.rstrip(b"\r\n")  # the last event ends at close(), not at a blank line
    whole = decode(wire)
    assert parsed(whole) == expected
    points = sorted({cut % (len(wire) + 1) for cut in cuts})
    chunks = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    pieces = decode(*chunks)
    assert parsed(pieces) == parsed(whole)
    assert [e.raw for e in pieces] == [e.raw for e in whole]


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_arbitrary_bytes_decode_the_same_whole_or_split(wire: bytes, cuts: list[int]) -> None:
    points = sorted({cut % (len(wire) + 1) for cut in cuts})
    chunks = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    split, whole = decode(*chunks), decode(wire)
    assert [(e.event, e.data, e.raw) for e in split] == [(e.event, e.data, e.raw) for e in whole]


_MARKERS = (b'"usage"', b"[DONE]")
_piece = st.sampled_from(
    [
        b'data: {"a":1}\n\n',
        b"data: [DONE]\n\n",
        b'data: {"usage":{"total_tokens":3}}\n\n',
        b"data: a\ndata: b\n\n",
        b": keep-alive\n\n",
        b"event: delta\n",
        b"id: 3\n\n",
        b"retry: 5\n",
        b"\n",
        b"\r\n",
        b"\r",
        b" ",
        b"\n\n",
    ]
)


def _relayed(decoder: SSEDecoder, chunks: list[bytes]) -> tuple[bytes, list[Parsed]]:
    """What a watching relay sends on (raw bytes) and the marked events it looks at."""
    sent, looked = b"", []
    for chunk in chunks:
        raw, events = decoder.feed_raw(chunk, _MARKERS)
        sent += raw + b"".join(e.raw for e in events)
        looked += [p for p in parsed(events) if any(m in p[1] for m in _MARKERS)]
    events = decoder.close()
    sent += b"".join(e.raw for e in events)
    return sent, looked + [p for p in parsed(events) if any(m in p[1] for m in _MARKERS)]


@settings(max_examples=500, deadline=None)
@given(
    pieces=st.lists(st.one_of(_piece, st.binary(max_size=6)), max_size=14),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=6),
)
def test_unparsed_relay_sends_the_bytes_and_sees_the_marked_events_that_parsing_does(
    pieces: list[bytes], cuts: list[int]
) -> None:
    wire = b"".join(pieces)
    points = sorted({cut % (len(wire) + 1) for cut in cuts})
    chunks = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    events = decode(*chunks)
    expected = b"".join(e.raw for e in events)
    marked = [p for p in parsed(events) if any(m in p[1] for m in _MARKERS)]
    assert _relayed(SSEDecoder(), chunks) == (expected, marked)


def test_events_before_a_marked_one_come_back_as_the_wire_bytes() -> None:
    wire = b'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n'
    raw, events = SSEDecoder().feed_raw(wire, _MARKERS)
    assert raw == b'data: {"a":1}\n\ndata: {"b":2}\n\n'
    assert parsed(events) == [("", b"[DONE]")]
