"""An Anthropic Messages SSE stream → canonical events.

Copes with upstreams that leave events out: a missing message_start or content_block_start is
synthesised, blocks left open are closed at the end, and a stream without message_delta ends
with a natural stop. Blocks the hub has no kind for (server tool use and results) are skipped,
deltas and all; canonical block indices count only the blocks that are kept. A redacted_thinking
block becomes a thinking block whose one delta carries the opaque `data` as `redacted`.

Every signature and redacted payload is marked `signature_source="claude"`: encoders replay it
only to Anthropic (wire-formats §9.4).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from aiproxyapi.canonical import (
    BlockDelta,
    BlockStart,
    BlockStop,
    Event,
    StopReason,
    StreamEnd,
    StreamError,
    StreamStart,
    Usage,
    UsageUpdate,
)
from aiproxyapi.formats.claude._blocks import SOURCE
from aiproxyapi.formats.claude._errors import status_for
from aiproxyapi.formats.claude._mapping import input_to_arguments, stop_from_claude
from aiproxyapi.formats.sse import SSEEvent

__all__ = ["ClaudeStreamDecoder"]

_json = msgspec.json.Decoder()
_Kind = Literal["text", "thinking", "tool_call"]
_KINDS: dict[str, _Kind] = {
    "text": "text",
    "thinking": "thinking",
    "redacted_thinking": "thinking",
    "tool_use": "tool_call",
}
_DELTA_KINDS: dict[str, _Kind] = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "signature_delta": "thinking",
    "input_json_delta": "tool_call",
}
_DELTA_FIELDS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "signature_delta": "signature",
    "input_json_delta": "partial_json",
}
_COUNT_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


class _Block:
    __slots__ = ("arguments", "index", "kind", "open")

    def __init__(self, index: int, kind: _Kind) -> None:
        self.index = index
        self.kind = kind
        self.arguments = False
        self.open = True


class ClaudeStreamDecoder:
    """Canonical events from one upstream Anthropic stream."""

    __slots__ = ("_blocks", "_counts", "_done", "_next", "_started", "_stop", "_tools")

    def __init__(self) -> None:
        self._started = False
        self._done = False
        self._blocks: dict[int, _Block | None] = {}
        self._next = 0
        self._counts: dict[str, int] | None = None
        self._stop: tuple[Any, str] = (None, "")
        self._tools = False

    @property
    def usage(self) -> Usage | None:
        """Usage seen so far: input from message_start, cumulative output from message_delta."""
        if self._counts is None:
            return None
        c = self._counts
        write, read = c["cache_creation_input_tokens"], c["cache_read_input_tokens"]
        return Usage(
            input=c["input_tokens"] + write + read,
            output=c["output_tokens"],
            reasoning=c["thinking_tokens"],
            cached=read,
            cache_write=write,
        )

    def feed(self, event: SSEEvent) -> list[Event]:
        """Canonical events for one SSE event (pings, keep-alives and unknown events: none)."""
        if self._done or not event.data:
            return []
        try:
            payload = _json.decode(event.data)
        except (msgspec.DecodeError, UnicodeError, RecursionError):
            payload = None
        if not isinstance(payload, dict):
            self._done = True
            return [StreamError(message="unreadable event from the upstream", status=502)]
        kind = payload.get("type") or event.event
        if kind == "message_start":
            message = payload.get("message")
            message = message if isinstance(message, dict) else {}
            self._count(message.get("usage"))
            return self._start(message)
        if kind == "error":
            return self._error(payload.get("error"))
        if kind not in ("content_block_start", "content_block_delta", "content_block_stop"):
            return self._message_event(kind, payload)
        out = self._start({})
        index = payload.get("index")
        if not isinstance(index, int):
            return out
        if kind == "content_block_start":
            block = payload.get("content_block")
            out += self._open(index, block if isinstance(block, dict) else {})
        elif kind == "content_block_delta":
            delta = payload.get("delta")
            out += self._delta(index, delta if isinstance(delta, dict) else {})
        else:
            out += self._close(index)
        return out

    def close(self) -> list[Event]:
        """A StreamError when the upstream stopped before message_stop; else nothing."""
        if self._done:
            return []
        self._done = True
        return [
            StreamError(
                message="the upstream stream ended before message_stop",
                kind="upstream_error",
                status=502,
            )
        ]

    def _message_event(self, kind: Any, payload: dict[str, Any]) -> list[Event]:
        if kind == "message_delta":
            delta = payload.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason") is not None:
                sequence = delta.get("stop_sequence")
                self._stop = (delta["stop_reason"], sequence if isinstance(sequence, str) else "")
            out = self._start({})
            if isinstance(payload.get("usage"), dict):
                self._count(payload["usage"])
                if (usage := self.usage) is not None:
                    out.append(UsageUpdate(usage=usage))
            return out
        if kind == "message_stop":
            out = self._start({})
            for index, block in self._blocks.items():
                if block is not None and block.open:
                    out += self._close(index)
            reason = stop_from_claude(self._stop[0])
            if reason is StopReason.END and self._tools:
                reason = StopReason.TOOL_USE
            self._done = True
            out.append(StreamEnd(stop_reason=reason, stop_sequence=self._stop[1], usage=self.usage))
            return out
        return []

    def _start(self, message: dict[str, Any]) -> list[Event]:
        if self._started:
            return []
        self._started = True
        identity, model = message.get("id"), message.get("model")
        return [
            StreamStart(
                id=identity if isinstance(identity, str) else "",
                model=model if isinstance(model, str) else "",
                usage=self.usage,
            )
        ]

    def _error(self, error: Any) -> list[Event]:
        self._done = True
        error = error if isinstance(error, dict) else {}
        kind = error.get("type") if isinstance(error.get("type"), str) else "api_error"
        message = error.get("message") if isinstance(error.get("message"), str) else ""
        return [
            StreamError(
                message=message or "the upstream reported an error",
                kind=kind,
                status=status_for(kind),
            )
        ]

    def _count(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        if self._counts is None:
            self._counts = dict.fromkeys((*_COUNT_KEYS, "output_tokens", "thinking_tokens"), 0)
        # message_delta may repeat the input counts, as null when unknown: only numbers count.
        for key in (*_COUNT_KEYS, "output_tokens"):
            if isinstance(value := usage.get(key), int):
                self._counts[key] = value
        details = usage.get("output_tokens_details")
        if isinstance(details, dict) and isinstance(details.get("thinking_tokens"), int):
            self._counts["thinking_tokens"] = details["thinking_tokens"]

    def _open(self, index: int, block: dict[str, Any]) -> list[Event]:
        if index in self._blocks:
            return []
        kind = _KINDS.get(str(block.get("type")))
        if kind is None:
            self._blocks[index] = None
            return []
        return self._begin(index, kind, block)

    def _begin(self, index: int, kind: _Kind, block: dict[str, Any]) -> list[Event]:
        state = self._blocks[index] = _Block(self._next, kind)
        self._next += 1
        tool_id, name = block.get("id"), block.get("name")
        out: list[Event] = [
            BlockStart(
                index=state.index,
                kind=kind,
                tool_id=tool_id if isinstance(tool_id, str) else "",
                tool_name=name if isinstance(name, str) else "",
            )
        ]
        if kind == "tool_call":
            self._tools = True
            if isinstance(block.get("input"), dict) and block["input"]:
                # Some upstreams send the whole input at the start and no deltas.
                state.arguments = True
                out.append(BlockDelta(index=state.index, text=input_to_arguments(block["input"])))
        text = block.get("text" if kind == "text" else "thinking")
        if kind != "tool_call" and isinstance(text, str) and text:
            out.append(BlockDelta(index=state.index, text=text))
        signature = block.get("signature")
        if kind == "thinking" and isinstance(signature, str) and signature:
            out.append(BlockDelta(index=state.index, signature=signature, signature_source=SOURCE))
        data = block.get("data")
        if block.get("type") == "redacted_thinking" and isinstance(data, str) and data:
            out.append(BlockDelta(index=state.index, redacted=data, signature_source=SOURCE))
        return out

    def _delta(self, index: int, delta: dict[str, Any]) -> list[Event]:
        kind = delta.get("type")
        out: list[Event] = []
        if index not in self._blocks:
            # A delta without its content_block_start: open the block it implies.
            implied = _DELTA_KINDS.get(str(kind))
            if implied is None:
                return []
            out += self._begin(index, implied, {})
        block = self._blocks[index]
        if block is None or not block.open:
            return out
        field = _DELTA_FIELDS.get(str(kind))
        value = delta.get(field) if field is not None else None
        if not isinstance(value, str) or not value:
            return out
        if kind == "signature_delta":
            out.append(BlockDelta(index=block.index, signature=value, signature_source=SOURCE))
            return out
        if kind == "input_json_delta":
            block.arguments = block.arguments or bool(value.strip())
        out.append(BlockDelta(index=block.index, text=value))
        return out

    def _close(self, index: int) -> list[Event]:
        block = self._blocks.get(index)
        if block is None or not block.open:
            return []
        block.open = False
        out: list[Event] = []
        if block.kind == "tool_call" and not block.arguments:
            # A tool without arguments may send no delta at all: its input is {}.
            out.append(BlockDelta(index=block.index, text="{}"))
        out.append(BlockStop(index=block.index))
        return out
