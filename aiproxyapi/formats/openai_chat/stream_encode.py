"""Canonical events → a Chat Completions stream, with the §9.7 obligations.

One id for every chunk; the first chunk carries `role: "assistant"`; each tool call keeps one
`index`, its first fragment carrying id, type and name with empty arguments; exactly one chunk
has a `finish_reason`; the usage chunk (``choices: []``) follows only when the client asked for
it; then `data: [DONE]`. A StreamError becomes ``data: {"error": ...}`` and no `[DONE]`.
"""

from __future__ import annotations

from typing import Any

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
from aiproxyapi.formats.openai_chat._common import chat_extras, now, sse, with_prefix
from aiproxyapi.formats.openai_chat._usage import finish_reason, usage_to_wire
from aiproxyapi.formats.openai_chat.content import custom_input
from aiproxyapi.formats.openai_chat.errors import encode_stream_error_info

__all__ = ["ChatStreamEncoder"]

_DONE = b"data: [DONE]\n\n"


class _OutCall:
    """A tool call being streamed: its Chat index, and the input of a custom call (sent whole)."""

    __slots__ = ("buffer", "custom", "id", "index", "name", "sent")

    def __init__(self, index: int, call_id: str, name: str, custom: bool) -> None:
        self.index = index
        self.id = call_id
        self.name = name
        self.custom = custom
        self.buffer: list[str] = []
        self.sent = False


class ChatStreamEncoder:
    """The client's Chat stream for canonical events; one instance per stream."""

    def __init__(self, request: Request, model: str) -> None:
        self._model = model
        self._include_usage = request.include_usage
        self._custom = {t.name for t in request.tools if chat_extras(t.extras)[1].get("custom")}
        self._id = ""
        self._created = 0
        self._started = False
        self._done = False
        self._kinds: dict[int, str] = {}
        self._calls: dict[int, _OutCall] = {}
        self._usage: Usage | None = None

    def feed(self, event: Event) -> bytes:
        """The bytes for one canonical event."""
        if self._done:
            return b""
        if isinstance(event, StreamError):
            self._done = True
            return encode_stream_error_info(ErrorInfo(event.status, event.message, event.kind))
        out: list[bytes] = []
        if not self._started:
            self._start(event if isinstance(event, StreamStart) else None, out)
        if isinstance(event, BlockStart):
            self._block_start(event, out)
        elif isinstance(event, BlockDelta):
            self._block_delta(event, out)
        elif isinstance(event, BlockStop):
            self._block_stop(event, out)
        elif isinstance(event, UsageUpdate):
            self._usage = event.usage
        elif isinstance(event, StreamEnd):
            self._end(event, out)
        return b"".join(out)

    def close(self) -> bytes:
        """Nothing: an unfinished stream is ended by the relay with an error event."""
        return b""

    def _start(self, event: StreamStart | None, out: list[bytes]) -> None:
        self._started = True
        self._id = with_prefix(event.id if event else "", "chatcmpl-")
        self._created = (event.created if event else 0) or now()
        if event is not None and event.usage is not None:
            self._usage = event.usage
        out.append(self._chunk({"role": "assistant", "content": ""}))

    def _block_start(self, event: BlockStart, out: list[bytes]) -> None:
        self._kinds[event.index] = event.kind
        if event.kind != "tool_call":
            return
        index = len(self._calls)
        call = _OutCall(
            index,
            event.tool_id or f"call_{index}",
            event.tool_name,
            event.tool_name in self._custom,
        )
        self._calls[event.index] = call
        if not call.custom:
            function = {"name": call.name, "arguments": ""}
            first = {"index": index, "id": call.id, "type": "function", "function": function}
            out.append(self._chunk({"tool_calls": [first]}))

    def _block_delta(self, event: BlockDelta, out: list[bytes]) -> None:
        if not event.text:
            return  # signature-only deltas have no Chat form
        kind = self._kinds.get(event.index, "text")
        if kind == "thinking":
            out.append(self._chunk({"reasoning_content": event.text}))
        elif kind == "tool_call":
            call = self._calls[event.index]
            if call.custom:
                call.buffer.append(event.text)
            else:
                fragment = {"index": call.index, "function": {"arguments": event.text}}
                out.append(self._chunk({"tool_calls": [fragment]}))
        else:
            out.append(self._chunk({"content": event.text}))

    def _block_stop(self, event: BlockStop, out: list[bytes]) -> None:
        call = self._calls.get(event.index)
        if call is not None and call.custom and not call.sent:
            # Custom calls have no streamed-fragment form: the whole call goes out at once.
            call.sent = True
            custom = {"name": call.name, "input": custom_input("".join(call.buffer))}
            whole = {"index": call.index, "id": call.id, "type": "custom", "custom": custom}
            out.append(self._chunk({"tool_calls": [whole]}))

    def _end(self, event: StreamEnd, out: list[bytes]) -> None:
        self._done = True
        for block in list(self._calls):
            self._block_stop(BlockStop(index=block), out)  # custom calls left open
        reason = finish_reason(event.stop_reason, bool(self._calls))
        out.append(self._chunk({}, reason))
        if self._include_usage:
            usage = event.usage or self._usage or Usage()
            out.append(sse({**self._head(), "choices": [], "usage": usage_to_wire(usage)}))
        out.append(_DONE)

    def _head(self) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
        }

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        payload = {**self._head(), "choices": [choice]}
        if self._include_usage:
            payload["usage"] = None  # as OpenAI does on every chunk when usage was asked for
        return sse(payload)
