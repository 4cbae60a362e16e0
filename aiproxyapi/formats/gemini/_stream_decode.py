"""Upstream `streamGenerateContent?alt=sse` chunks into canonical events (wire-formats §5.4).

Each chunk is a whole `GenerateContentResponse` with incremental parts: text and thought parts
extend the open block, a functionCall part is a complete block of its own. The chunk with a
`finishReason` (or a prompt block without candidates) ends the answer; usage in later chunks
still updates `usage`. Code Assist chunks (`{"response": {...}}`) are unwrapped, a JSON array of
chunks is read element by element, and `{"error": {...}}` is a StreamError.

Every `thoughtSignature` (on thought, text and functionCall parts) is marked
`signature_source="gemini"`: encoders replay it only to Gemini (wire-formats §9.4).
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

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
)
from aiproxyapi.formats.gemini._common import (
    FMT,
    args_text,
    first_candidate,
    pick,
    prompt_blocked,
    stop_reason_for,
    text_of,
    usage_from_wire,
)
from aiproxyapi.formats.gemini._errors import error_from_object
from aiproxyapi.formats.gemini._part_decode import CallBook, render_code
from aiproxyapi.formats.gemini._response import answer_book, created_from, unwrap_code_assist_chunk
from aiproxyapi.formats.sse import SSEEvent

__all__ = ["GeminiStreamDecoder"]

_json = msgspec.json.Decoder()


class GeminiStreamDecoder:
    """One upstream Gemini stream; `request` (when known) maps tool names and call ids back."""

    __slots__ = (
        "_book",
        "_ended",
        "_failed",
        "_kind",
        "_names",
        "_next",
        "_open",
        "_request",
        "_started",
        "_tool_call",
        "_usage",
    )

    def __init__(self, request: Request | None = None) -> None:
        self._request = request
        self._book: CallBook | None = None
        self._names: dict[str, str] = {}
        self._started = self._ended = self._failed = self._tool_call = False
        self._open: int | None = None
        self._kind = ""
        self._next = 0
        self._usage: Usage | None = None

    @property
    def usage(self) -> Usage | None:
        """The usage of the latest chunk that carried one."""
        return self._usage

    def feed(self, event: SSEEvent) -> list[Event]:
        """Canonical events for one SSE event."""
        data = event.data.strip()
        if not data or self._failed:
            return []
        try:
            payload = _json.decode(data)
        except (msgspec.DecodeError, UnicodeError, RecursionError):
            return self._fail(
                StreamError(
                    message="the upstream sent an unreadable stream chunk",
                    kind="upstream_error",
                    status=502,
                )
            )
        chunks = payload if isinstance(payload, list) else [payload]
        events: list[Event] = []
        for chunk in chunks:
            if not self._failed:
                events += self._chunk(chunk)
        return events

    def close(self) -> list[Event]:
        """A StreamError when the stream stopped before a finishReason."""
        if self._ended or self._failed:
            return []
        message = "the upstream stream ended before the answer was complete"
        return self._fail(StreamError(message=message, kind="upstream_error", status=502))

    def _fail(self, error: StreamError) -> list[Event]:
        self._failed = True
        return [error]

    def _chunk(self, chunk: Any) -> list[Event]:
        if isinstance(chunk, dict) and isinstance(chunk.get("error"), dict):
            info = error_from_object(chunk["error"], 500)
            return self._fail(StreamError(message=info.message, kind=info.kind, status=info.status))
        answer = unwrap_code_assist_chunk(chunk)
        if not isinstance(answer, dict):
            return []
        events: list[Event] = []
        if not self._started:
            events.append(self._start(answer))
        usage = usage_from_wire(answer.get("usageMetadata"))
        if usage is not None:
            self._usage = usage
        if self._ended:
            return events
        candidate = first_candidate(answer)
        if candidate is not None:
            content = candidate.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            for part in parts if isinstance(parts, list) else []:
                if isinstance(part, dict):
                    events += self._part(part)
            finish = text_of(candidate.get("finishReason"))
            if finish:
                events += self._end(stop_reason_for(finish, tool_call=self._tool_call))
        elif prompt_blocked(answer):
            events += self._end(StopReason.CONTENT_FILTER)
        return events

    def _start(self, answer: dict[str, Any]) -> StreamStart:
        self._started = True
        response_id = text_of(answer.get("responseId")) or f"gemini-{secrets.token_hex(8)}"
        self._book, self._names = answer_book(self._request, response_id)
        first = usage_from_wire(answer.get("usageMetadata"))
        return StreamStart(
            id=response_id,
            model=text_of(answer.get("modelVersion")),
            created=created_from(answer),
            # The prompt is counted from the first chunk; output so far is not final.
            usage=Usage(input=first.input, cached=first.cached) if first else None,
        )

    def _part(self, part: dict[str, Any]) -> list[Event]:
        signature = text_of(pick(part, "thoughtSignature"))
        call = pick(part, "functionCall")
        if isinstance(call, dict):
            return self._call(call, signature)
        if "text" in part:
            text = text_of(part["text"])
            if part.get("thought") is True:
                kind = "thinking"
            elif text:
                kind = "text"
            elif signature and self._open is not None:
                kind = self._kind  # a signature alone belongs to the block it follows
            elif signature and self._next == 0:
                kind = "thinking"  # opaque reasoning state before anything else
            else:
                # Empty, or a lone signature after closed blocks (function calls): no canonical
                # stream has a place for it that other dialects would accept.
                return []
        elif (
            pick(part, "executableCode") is not None
            or pick(part, "codeExecutionResult") is not None
        ):
            text, kind = f"\n{render_code(part)}\n", "text"
        else:
            return []  # media parts have no stream event; they are left out
        events = self._enter(kind)
        assert self._open is not None
        events.append(
            BlockDelta(
                index=self._open,
                text=text,
                signature=signature,
                signature_source=FMT if signature else "",
            )
        )
        return events

    def _call(self, call: dict[str, Any], signature: str) -> list[Event]:
        events = self._leave()
        assert self._book is not None
        name = text_of(call.get("name"))
        index = self._next
        self._next += 1
        self._tool_call = True
        events.append(
            BlockStart(
                index=index,
                kind="tool_call",
                tool_id=self._book.call(name, text_of(call.get("id"))),
                tool_name=self._names.get(name, name),
            )
        )
        events.append(BlockDelta(index=index, text=args_text(call.get("args"))))
        if signature:
            events.append(BlockDelta(index=index, signature=signature, signature_source=FMT))
        events.append(BlockStop(index=index))
        return events

    def _enter(self, kind: str) -> list[Event]:
        if self._open is not None and self._kind == kind:
            return []
        events = self._leave()
        self._open, self._kind = self._next, kind
        self._next += 1
        events.append(BlockStart(index=self._open, kind="text" if kind == "text" else "thinking"))
        return events

    def _leave(self) -> list[Event]:
        if self._open is None:
            return []
        index, self._open, self._kind = self._open, None, ""
        return [BlockStop(index=index)]

    def _end(self, stop: StopReason) -> list[Event]:
        self._ended = True
        return [*self._leave(), StreamEnd(stop_reason=stop, usage=self._usage)]
