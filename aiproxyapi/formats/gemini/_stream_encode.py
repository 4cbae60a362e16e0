"""Canonical events as a Gemini stream (wire-formats §5.4, §9.7 "Gemini").

Every text or thought delta is one `GenerateContentResponse` chunk. Tool-call arguments are
buffered until their block stops, because Gemini sends a functionCall whole. The last chunk
carries the finishReason and the final usageMetadata; nothing follows it (no terminator). An
error becomes a chunk `{"error": {...}}`.

Two framings: `data: <chunk>\n\n` events (`?alt=sse`), or one JSON array written as it grows
(`[`, chunks separated by `,`, `]` after the last), which is what `:streamGenerateContent`
answers without `alt=sse`.

A `thoughtSignature` goes out only when Gemini issued it (`signature_source` "gemini",
wire-formats §9.4); another vendor's signatures and redacted thinking are dropped, its thinking
text still sent as thought parts.
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
    StreamEnd,
    StreamError,
    StreamStart,
    Usage,
    UsageUpdate,
)
from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.formats.gemini._common import (
    FMT,
    args_object,
    finish_reason_for,
    usage_to_wire,
)
from aiproxyapi.formats.gemini._errors import error_object

__all__ = ["GeminiStreamEncoder"]


class _ToolCall:
    __slots__ = ("arguments", "id", "name", "signature")

    def __init__(self, ident: str, name: str) -> None:
        self.id = ident
        self.name = name
        self.arguments: list[str] = []
        self.signature = ""


class GeminiStreamEncoder:
    """One client stream; `sse=False` writes the JSON-array framing instead of SSE events."""

    __slots__ = ("_calls", "_done", "_id", "_kinds", "_model", "_sent", "_sse", "_usage")

    def __init__(self, request: Request, model: str, *, sse: bool = True) -> None:
        del request  # nothing in the request changes how a Gemini stream looks
        self._model = model
        self._sse = sse
        self._id = ""
        self._kinds: dict[int, str] = {}
        self._calls: dict[int, _ToolCall] = {}
        self._usage: Usage | None = None
        self._sent = 0
        self._done = False

    def feed(self, event: Event) -> bytes:
        """The bytes for one canonical event."""
        if self._done:
            return b""
        if isinstance(event, StreamStart):
            self._id = event.id or f"gemini-{secrets.token_hex(8)}"
            self._usage = event.usage
        elif isinstance(event, BlockStart):
            self._kinds[event.index] = event.kind
            if event.kind == "tool_call":
                self._calls[event.index] = _ToolCall(event.tool_id, event.tool_name)
        elif isinstance(event, BlockDelta):
            return self._delta(event)
        elif isinstance(event, BlockStop):
            call = self._calls.pop(event.index, None)
            return self._chunk([_call_part(call)]) if call is not None else b""
        elif isinstance(event, UsageUpdate):
            self._usage = event.usage
        elif isinstance(event, StreamEnd):
            return self._end(event)
        elif isinstance(event, StreamError):
            return self._error(ErrorInfo(event.status, event.message, event.kind))
        return b""

    def close(self) -> bytes:
        """Nothing: a stream that stops without an end must look cut, not complete."""
        return b""

    def _delta(self, event: BlockDelta) -> bytes:
        kind = self._kinds.get(event.index, "text")
        signature = event.signature if event.signature_source == FMT else ""
        if kind == "tool_call":
            call = self._calls.get(event.index)
            if call is not None:
                call.arguments.append(event.text)
                call.signature = signature or call.signature
            return b""
        if not event.text and not signature:
            return b""
        part: dict[str, Any] = {"text": event.text}
        if kind == "thinking" and event.text:
            part["thought"] = True
        if signature:
            part["thoughtSignature"] = signature
        return self._chunk([part])

    def _end(self, event: StreamEnd) -> bytes:
        # Calls whose block never stopped still go out whole, before the last chunk.
        out = b"".join(self._chunk([_call_part(call)]) for call in self._calls.values())
        self._calls.clear()
        usage = event.usage or self._usage or Usage()
        # The real API ends on a chunk with an empty text part; clients expect content there.
        final = self._answer([{"text": ""}], finish_reason_for(event.stop_reason))
        final["usageMetadata"] = usage_to_wire(usage)
        self._done = True
        return out + self._frame(final) + (b"" if self._sse else b"]")

    def _error(self, error: ErrorInfo) -> bytes:
        self._done = True
        return self._frame(error_object(error)) + (b"" if self._sse else b"]")

    def _answer(self, parts: list[dict[str, Any]], finish: str = "") -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if finish:
            candidate["finishReason"] = finish
        candidate["index"] = 0
        return {"candidates": [candidate], "modelVersion": self._model, "responseId": self._id}

    def _chunk(self, parts: list[dict[str, Any]]) -> bytes:
        return self._frame(self._answer(parts))

    def _frame(self, obj: dict[str, Any]) -> bytes:
        data = msgspec.json.encode(obj)
        self._sent += 1
        if self._sse:
            return b"data: " + data + b"\n\n"
        return (b"[" if self._sent == 1 else b",\n") + data


def _call_part(call: _ToolCall) -> dict[str, Any]:
    function = {
        "id": call.id,
        "name": call.name,
        "args": args_object("".join(call.arguments)),
    }
    part: dict[str, Any] = {"functionCall": function}
    if call.signature:
        part["thoughtSignature"] = call.signature
    return part
