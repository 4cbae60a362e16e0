"""Golden translation fixtures: every (client dialect, upstream dialect) pair, walked as data.

Each file `fixtures/<client>__<upstream>/<case>.json` holds a client request, the upstream body
expected for it, an upstream answer and stream, and what the client must get back. One test per
(pair, case, phase) runs the translators of `formats.translate` on the inputs and compares:

- request:  `translate_request(client, upstream, client_request, upstream_model)`
- response: `translate_response(upstream, client, upstream_response, client_model, request)`
- stream:   the raw `upstream_stream` framed by `SSEDecoder` in 7-byte chunks, fed to a
  `StreamTranslator` (events without data skipped, as the relay does), the client bytes framed
  again and listed as `{"event": name or null, "data": parsed JSON or "[DONE]"}`.

The client's model is `client_request["model"]` (for Gemini clients the relay injects it from
the URL, so the fixtures carry it in the body too).

Volatile values. Expectations may hold two placeholders, and nothing else is normalised:
- ``"<now>"`` stands for a Unix timestamp taken while the test ran (the `created` /
  `created_at` a dialect must invent when the upstream gave none);
- ``"<re:PATTERN>"`` stands for a string that fully matches PATTERN (an id made at random, or
  a value the reference leaves to the gateway, such as a synthesised signature).
Every upstream answer in the fixtures carries its own id, so no id is random today and none is
normalised: ids that must agree with each other (a call and its result, an item and its
deltas, every chunk of a Chat stream) are compared literally. Placeholders only stand in for
the expected side; the stream's §9.7 obligations are also checked on the raw actual events, so
a placeholder cannot hide e.g. two different `created` values in one Chat stream.

Regenerating. ``GOLDEN_REGENERATE=1 uv run pytest tests/formats/test_golden_pairs.py`` rewrites
the `expected_*` fields from the current translators before the tests run. It puts the
placeholders in by itself: timestamps of the run become "<now>", and strings that differ
between two translations of the same input become a hex-run pattern. Fields named in a
fixture's `hand_corrected` map are left alone: they hold the correct value (wire-formats) where
the translator is wrong, the map says why, and those tests fail until the translator is fixed.
Regenerated output must be reviewed against wire-formats §9 before it is kept.

Stream obligations. Besides the comparison, every stream (expected and actual) is checked
against wire-formats §9.7 for the client's dialect: see `_check_chat`, `_check_responses`,
`_check_claude`, `_check_gemini`.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from aiproxyapi.formats import Format, codec_for
from aiproxyapi.formats.codec import Codec
from aiproxyapi.formats.sse import SSEDecoder, SSEEvent
from aiproxyapi.formats.translate import StreamTranslator, translate_request, translate_response

FIXTURES = Path(__file__).parent / "fixtures"
PHASES = {
    "request": "expected_upstream_request",
    "response": "expected_client_response",
    "stream": "expected_client_stream",
}
CHUNK = 7
NOW = "<now>"
PATTERN = "<re:"
_STARTED = int(time.time())


def _load(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text())
    return value


def _pair(path: Path) -> tuple[Codec, Codec]:
    client, upstream = path.parent.name.split("__")
    return codec_for(Format(client)), codec_for(Format(upstream))


# ---- running the translators ------------------------------------------------------------------


def _frame(wire: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for start in range(0, len(wire), CHUNK):
        events += decoder.feed(wire[start : start + CHUNK])
    return events + decoder.close()


def _client_events(wire: bytes) -> list[dict[str, Any]]:
    out = []
    for event in _frame(wire):
        data: Any = None
        if event.data == b"[DONE]":
            data = "[DONE]"
        elif event.data:
            data = json.loads(event.data)
        out.append({"event": event.event or None, "data": data})
    return out


def _run(path: Path, fixture: dict[str, Any], phase: str) -> Any:
    client, upstream = _pair(path)
    body = fixture["client_request"]
    client_model = body["model"]
    request, upstream_body = translate_request(client, upstream, body, fixture["upstream_model"])
    if phase == "request":
        return upstream_body
    if phase == "response":
        # As the relay does: the upstream decoder sees the request that was sent.
        return translate_response(
            upstream, client, fixture["upstream_response"], client_model, request
        )
    translator = StreamTranslator(upstream, client, request, client_model)
    wire = b""
    for event in _frame(fixture["upstream_stream"].encode()):
        if event.data:  # keep-alive comments are relayed raw, never translated (relay/stream.py)
            wire += translator.feed(event)
    wire += translator.close()
    assert translator.completed, "the upstream stream is complete, the translator must say so"
    assert not translator.errored
    return _client_events(wire)


# ---- placeholders -----------------------------------------------------------------------------


def _now_like(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and _STARTED - 2 <= value <= int(time.time()) + 2
    )


def _settle(expected: Any, actual: Any) -> Any:
    """`actual` with every leaf that satisfies a placeholder of `expected` replaced by it."""
    if isinstance(expected, str) and expected == NOW:
        return expected if _now_like(actual) else actual
    if isinstance(expected, str) and expected.startswith(PATTERN) and expected.endswith(">"):
        ok = isinstance(actual, str) and re.fullmatch(expected[len(PATTERN) : -1], actual)
        return expected if ok else actual
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {
            key: _settle(expected[key], value) if key in expected else value
            for key, value in actual.items()
        }
    if isinstance(expected, list) and isinstance(actual, list):
        return [
            _settle(expected[i], value) if i < len(expected) else value
            for i, value in enumerate(actual)
        ]
    return actual


def _mark_volatile(first: Any, second: Any) -> Any:
    """Placeholders for what changes between two runs of the same translation, or is 'now'."""
    if isinstance(first, dict) and isinstance(second, dict):
        return {key: _mark_volatile(value, second.get(key)) for key, value in first.items()}
    if isinstance(first, list) and isinstance(second, list) and len(first) == len(second):
        return [_mark_volatile(a, b) for a, b in zip(first, second, strict=True)]
    if _now_like(first):
        return NOW
    if isinstance(first, str) and isinstance(second, str) and first != second:
        pattern = "".join(
            f"[0-9a-f]{{{len(piece)}}}"
            if re.fullmatch(r"[0-9a-f]{8,}", piece)
            else re.escape(piece)
            for piece in re.split(r"([0-9a-f]{8,})", first)
        )
        return f"{PATTERN}{pattern}>"
    return first


# ---- stream obligations (wire-formats §9.7), checked on every expected client stream -------------


def _check_chat(events: list[dict[str, Any]], model: str, include_usage: bool) -> None:
    assert events[-1]["data"] == "[DONE]", "a Chat stream ends with [DONE]"
    chunks = [event["data"] for event in events[:-1]]
    assert all(event["event"] is None for event in events), "Chat events carry no event: line"
    assert len({(c["id"], str(c["created"]), c["model"]) for c in chunks}) == 1, "one id/created"
    assert chunks[0]["model"] == model
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant", "role on the first chunk"
    finishes = [
        i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["finish_reason"]
    ]
    assert len(finishes) == 1, "exactly one chunk with a finish_reason"
    usage = [i for i, c in enumerate(chunks) if not c["choices"]]
    assert usage == ([len(chunks) - 1] if include_usage else []), "the usage chunk iff asked, last"
    assert finishes[0] == len(chunks) - 1 - len(usage), "nothing after the finish but usage"
    calls: dict[int, str] = {}
    for chunk in chunks:
        for call in chunk["choices"][0]["delta"].get("tool_calls", []) if chunk["choices"] else []:
            if call["index"] not in calls:
                assert call["id"], "the first fragment of a call carries its id"
                assert call["type"] == "function"
                assert call["function"]["name"], "the first fragment of a call carries its name"
                calls[call["index"]] = call["id"]
            else:
                assert set(call) == {"index", "function"}, "later fragments: index + arguments"
    assert sorted(calls) == list(range(len(calls))), "tool-call indexes 0, 1, ..."
    assert len(set(calls.values())) == len(calls), "distinct tool-call ids"


def _check_responses(events: list[dict[str, Any]], model: str) -> None:
    data = [event["data"] for event in events]
    assert [event["event"] for event in events] == [d["type"] for d in data]
    assert [d["sequence_number"] for d in data] == list(range(len(data)))
    assert [d["type"] for d in data[:2]] == ["response.created", "response.in_progress"]
    final = data[-1]
    assert final["type"] in ("response.completed", "response.incomplete")
    assert final["response"]["status"] == final["type"].removeprefix("response.")
    assert all(d["response"]["id"] == final["response"]["id"] for d in data if "response" in d)
    assert final["response"]["model"] == model
    assert final["response"]["usage"], "the terminal event carries the usage"
    terminals = ("response.completed", "response.incomplete", "response.failed")
    assert not any(d["type"] in terminals for d in data[:-1]), "one terminal event, last"
    added = [d for d in data if d["type"] == "response.output_item.added"]
    done = [d for d in data if d["type"] == "response.output_item.done"]
    assert [d["output_index"] for d in added] == list(range(len(added))), "opening order"
    assert [d["output_index"] for d in done] == list(range(len(done))), "items close in order"
    assert final["response"]["output"] == [d["item"] for d in done], "completed repeats items"
    # §9.7 asks for bracketing and opening order, not for one item at a time: items may overlap
    # (a Chat upstream interleaves parallel calls), but every event belongs to an open item.
    open_items: dict[int, int] = {}
    for d in data[2:-1]:
        if d["type"] == "response.output_item.added":
            open_items[d["output_index"]] = 0
        elif d["type"] == "response.output_item.done":
            parts = open_items.pop(d["output_index"])
            assert d["item"]["type"] != "message" or parts == 2, "text in content_part events"
        else:
            assert d["output_index"] in open_items, f"{d['type']} outside its item"
            if d["type"] in ("response.content_part.added", "response.content_part.done"):
                open_items[d["output_index"]] += 1
    assert not open_items
    for d in done:
        item, index = d["item"], d["output_index"]
        pieces = [x for x in data if x.get("output_index") == index]
        if item["type"] == "message":
            text = "".join(x["delta"] for x in pieces if x["type"] == "response.output_text.delta")
            assert [c["text"] for c in item["content"]] == [text]
        elif item["type"] == "function_call":
            args = "".join(
                x["delta"] for x in pieces if x["type"] == "response.function_call_arguments.delta"
            )
            assert item["arguments"] == args
            assert item["call_id"]


def _check_claude(events: list[dict[str, Any]], model: str) -> None:
    data = [event["data"] for event in events]
    assert [event["event"] for event in events] == [d["type"] for d in data]
    names = [d["type"] for d in data if d["type"] != "ping"]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("message_stop") == 1
    start = data[0]["message"]
    assert start["model"] == model
    assert "input_tokens" in start["usage"]
    open_block: int | None = None
    opened = 0
    kinds: dict[int, str] = {}
    signed: set[int] = set()
    for d in data[1:]:
        if d["type"] == "content_block_start":
            assert open_block is None, "blocks never interleave"
            assert d["index"] == opened, "blocks are numbered 0, 1, ... as they open"
            open_block, opened = d["index"], opened + 1
            kinds[d["index"]] = d["content_block"]["type"]
        elif d["type"] == "content_block_delta":
            assert d["index"] == open_block
            if d["delta"]["type"] == "signature_delta":
                signed.add(d["index"])
        elif d["type"] == "content_block_stop":
            assert d["index"] == open_block
            if kinds[d["index"]] == "thinking":
                assert d["index"] in signed, "a thinking block needs a signature_delta"
            open_block = None
    assert open_block is None
    delta = next(d for d in data if d["type"] == "message_delta")
    assert delta["delta"]["stop_reason"]
    assert "output_tokens" in delta["usage"]


def _check_gemini(events: list[dict[str, Any]], model: str) -> None:
    data = [event["data"] for event in events]
    assert all(event["event"] is None for event in events), "Gemini events carry no event: line"
    finishes = [i for i, d in enumerate(data) if d["candidates"][0].get("finishReason")]
    assert finishes == [len(data) - 1], "finishReason on the last chunk only"
    assert data[-1]["usageMetadata"]["totalTokenCount"] > 0
    assert all(d["modelVersion"] == model for d in data)
    for d in data:
        for part in d["candidates"][0]["content"]["parts"]:
            if "functionCall" in part:
                assert isinstance(part["functionCall"]["args"], dict), "calls go whole"


def _check_stream(client: str, fixture: dict[str, Any], events: list[dict[str, Any]]) -> None:
    body = fixture["client_request"]
    if client == "openai":
        asked = bool(body.get("stream") and (body.get("stream_options") or {}).get("include_usage"))
        _check_chat(events, body["model"], asked)
    elif client == "openai-responses":
        _check_responses(events, body["model"])
    elif client == "claude":
        _check_claude(events, body["model"])
    else:
        _check_gemini(events, body["model"])


# ---- the walk ---------------------------------------------------------------------------------


def _regenerate() -> None:
    for path in sorted(FIXTURES.glob("*__*/*.json")):
        fixture = _load(path)
        kept = fixture.get("hand_corrected") or {}
        for phase, key in PHASES.items():
            if key not in kept:
                fixture[key] = _mark_volatile(
                    _run(path, fixture, phase), _run(path, fixture, phase)
                )
        path.write_text(json.dumps(fixture, indent=2, ensure_ascii=False) + "\n")


if os.environ.get("GOLDEN_REGENERATE") == "1":
    _regenerate()


def _params() -> list[Any]:
    return [
        pytest.param(path, phase, id=f"{path.parent.name}/{path.stem}/{phase}")
        for path in sorted(FIXTURES.glob("*__*/*.json"))
        for phase in PHASES
    ]


def test_every_pair_and_case_is_present() -> None:
    """16 ordered pairs (same-dialect ones included), five cases each."""
    dialects = [dialect.value for dialect in Format]
    pairs = {f"{client}__{upstream}" for client in dialects for upstream in dialects}
    assert {path.name for path in FIXTURES.iterdir() if path.is_dir()} == pairs
    for pair in pairs:
        cases = {path.stem for path in (FIXTURES / pair).glob("*.json")}
        assert cases == {"text", "tools", "image", "thinking", "tool_stream"}, pair


@pytest.mark.parametrize(("path", "phase"), _params())
def test_golden(path: Path, phase: str) -> None:
    """The translators reproduce the fixture's expectation for one phase."""
    fixture = _load(path)
    expected = fixture[PHASES[phase]]
    assert expected is not None, f"{path}: no {PHASES[phase]} yet (GOLDEN_REGENERATE=1)"
    client = path.parent.name.split("__")[0]
    if phase == "stream":
        _check_stream(client, fixture, expected)  # the fixture itself keeps §9.7
    actual = _run(path, fixture, phase)
    assert _settle(expected, actual) == expected
    if phase == "stream":
        _check_stream(client, fixture, actual)  # what placeholders stand for keeps it too
