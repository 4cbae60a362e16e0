"""Chat Completions streams (`chat.completion.chunk` events) → canonical events.

Text and reasoning deltas become text and thinking blocks (a change of kind closes the open one);
tool-call fragments, keyed by `index`, become one tool_call block each, several open at once when
the upstream interleaves them. `finish_reason` closes every open block; the answer ends at
`[DONE]` (or at the end of the stream when a finish was seen), so the usage chunk that follows
the finish still makes it into StreamEnd.
"""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    Event,
    StreamEnd,
    StreamError,
    StreamStart,
    Usage,
    UsageUpdate,
)
from aiproxyapi.formats.openai_chat._usage import WireUsage, stop_reason, usage_from_wire
from aiproxyapi.formats.sse import SSEEvent

__all__ = ["ChatStreamDecoder"]

_CUT = "the upstream stream ended before the answer was complete"


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _Custom(msgspec.Struct):
    name: str | None = None
    input: str | None = None


class _ToolDelta(msgspec.Struct):
    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: _Function | None = None
    custom: _Custom | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    reasoning: Any = None
    tool_calls: list[_ToolDelta] | None = None
    function_call: _Function | None = None


class _Choice(msgspec.Struct):
    index: int = 0
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    id: str = ""
    model: str = ""
    created: int = 0
    choices: list[_Choice] | None = None
    usage: WireUsage | None = None
    error: Any = None


_chunk_decoder = msgspec.json.Decoder(_Chunk)


class _Call:
    """An open tool-call block; custom calls are wrapped as ``{"input": "..."}`` on the fly."""

    __slots__ = ("block", "custom", "id")

    def __init__(self, block: int, call_id: str, custom: bool) -> None:
        self.block = block
        self.id = call_id
        self.custom = custom


class ChatStreamDecoder:
    """Canonical events from one upstream Chat stream (only choice 0 is read)."""

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self._next_block = 0
        self._prose: tuple[str, int] | None = None
        self._calls: dict[int, _Call] = {}
        self._saw_calls = False
        self._finish: str | None = None
        self._usage: Usage | None = None

    @property
    def usage(self) -> Usage | None:
        """Usage reported so far (the usage chunk, or usage riding on a choice chunk)."""
        return self._usage

    def _checked(self, data: bytes) -> _Chunk | list[Event]:
        """The chunk read as JSON first: an error event, or a chunk that is not one, ends it."""
        try:
            payload = msgspec.json.decode(data)
        except (msgspec.DecodeError, UnicodeError, RecursionError):
            if data.startswith((b"{", b"[")):
                # A chunk that was meant as JSON and cannot be read: its content is lost, so
                # the stream must not end as if it were complete.
                return self._fail(StreamError(message="unreadable upstream chunk", status=502))
            return []  # not an event of this dialect (a stray keep-alive line)
        if isinstance(payload, dict) and payload.get("error") is not None:
            return self._fail(_stream_error(payload["error"]))
        try:
            return msgspec.convert(payload, _Chunk)
        except msgspec.ValidationError as exc:
            return self._fail(StreamError(message=f"unreadable upstream chunk: {exc}", status=502))

    def feed(self, event: SSEEvent) -> list[Event]:
        """Canonical events for one SSE event."""
        data = event.data.strip()
        if self._ended or not data:
            return []
        if data == b"[DONE]":
            return self._end()
        # A well-formed chunk decodes straight into its struct; anything else (an error event, a
        # chunk of the wrong shape) is read the slow way, which tells those cases apart.
        try:
            chunk: _Chunk | list[Event] = _chunk_decoder.decode(data)
        except (msgspec.DecodeError, UnicodeError, RecursionError):
            # Not JSON, not UTF-8 or not a chunk: a stray keep-alive line is skipped, a chunk
            # meant as JSON that cannot be read ends the stream as failed.
            chunk = self._checked(data)
        if isinstance(chunk, _Chunk) and chunk.error is not None:
            chunk = self._checked(data)
        if isinstance(chunk, list):
            return chunk
        out: list[Event] = []
        if not self._started:
            if not (chunk.id or chunk.choices or chunk.usage):
                return out  # Azure opens with an anonymous prompt-filter chunk
            self._started = True
            out.append(StreamStart(id=chunk.id, model=chunk.model, created=chunk.created))
        for choice in chunk.choices or ():
            if choice.index != 0:
                continue
            if choice.delta is not None:
                self._delta(choice.delta, out)
            if choice.finish_reason and self._finish is None:
                self._close_all(out)
                self._finish = choice.finish_reason
        if chunk.usage is not None:
            self._usage = usage_from_wire(chunk.usage)
            out.append(UsageUpdate(usage=self._usage))
        return out

    def close(self) -> list[Event]:
        """At the end of the upstream stream: the end owed, or a StreamError if it was cut."""
        if self._ended:
            return []
        if self._finish is not None:
            return self._end()  # finished, only `[DONE]` missing: some servers never send it
        return self._fail(StreamError(message=_CUT, kind="upstream_error", status=502))

    def _delta(self, delta: _Delta, out: list[Event]) -> None:
        reasoning = delta.reasoning_content
        if reasoning is None and isinstance(delta.reasoning, str):
            reasoning = delta.reasoning
        if reasoning:
            self._prose_delta("thinking", reasoning, out)
        for text in (delta.content, delta.refusal):
            if text:
                self._prose_delta("text", text, out)
        for position, call in enumerate(delta.tool_calls or ()):
            index = position if call.index is None else call.index
            if call.type == "custom" or call.custom is not None:
                custom = call.custom or _Custom()
                self._call_delta(index, call.id, custom.name, custom.input, out, custom=True)
            else:
                function = call.function or _Function()
                self._call_delta(
                    index, call.id, function.name, function.arguments, out, custom=False
                )
        if delta.function_call is not None:
            legacy = delta.function_call
            self._call_delta(0, None, legacy.name, legacy.arguments, out, custom=False)

    def _prose_delta(self, kind: str, text: str, out: list[Event]) -> None:
        if self._prose is None or self._prose[0] != kind:
            self._close_prose(out)
            self._prose = (kind, self._open(kind, out))
        out.append(BlockDelta(index=self._prose[1], text=text))

    def _call_delta(
        self,
        index: int,
        call_id: str | None,
        name: str | None,
        fragment: str | None,
        out: list[Event],
        *,
        custom: bool,
    ) -> None:
        call = self._calls.get(index)
        if call is None or (call_id and call_id != call.id):
            # A new call; a new id on a known index means the server reuses indexes.
            self._close_prose(out)
            if call is not None:
                self._stop_call(call, out)
            block = self._open("tool_call", out, call_id or f"call_{index}", name or "")
            call = self._calls[index] = _Call(block, call_id or f"call_{index}", custom)
            self._saw_calls = True
            if custom:
                out.append(BlockDelta(index=block, text='{"input":"'))
        if fragment:
            text = msgspec.json.encode(fragment).decode()[1:-1] if call.custom else fragment
            out.append(BlockDelta(index=call.block, text=text))

    def _open(self, kind: Any, out: list[Event], tool_id: str = "", tool_name: str = "") -> int:
        block = self._next_block
        self._next_block += 1
        out.append(BlockStart(index=block, kind=kind, tool_id=tool_id, tool_name=tool_name))
        return block

    def _close_prose(self, out: list[Event]) -> None:
        if self._prose is not None:
            out.append(BlockStop(index=self._prose[1]))
            self._prose = None

    def _stop_call(self, call: _Call, out: list[Event]) -> None:
        if call.custom:
            out.append(BlockDelta(index=call.block, text='"}'))
        out.append(BlockStop(index=call.block))

    def _close_all(self, out: list[Event]) -> None:
        self._close_prose(out)
        for call in sorted(self._calls.values(), key=lambda c: c.block):
            self._stop_call(call, out)
        self._calls.clear()

    def _end(self) -> list[Event]:
        if not self._started:
            return self._fail(StreamError(message=_CUT, kind="upstream_error", status=502))
        out: list[Event] = []
        self._close_all(out)
        reason = stop_reason(self._finish, self._saw_calls)
        out.append(StreamEnd(stop_reason=reason, usage=self._usage))
        self._ended = True
        return out

    def _fail(self, error: StreamError) -> list[Event]:
        self._ended = True
        return [error]


def _stream_error(error: Any) -> StreamError:
    if not isinstance(error, dict):
        return StreamError(message=str(error) or "upstream error", status=502)
    message = error.get("message")
    kind = error.get("type")
    code = error.get("code")
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    if "rate_limit" in f"{kind}{code}":
        status = 429
    elif kind == "invalid_request_error":
        status = 400
    return StreamError(
        message=message if isinstance(message, str) and message else "upstream error",
        kind=kind if isinstance(kind, str) and kind else "server_error",
        status=status,
    )
