"""Canonical events → an Anthropic Messages SSE stream, with its obligations (wire-formats §9.7).

message_start comes first (synthesised if the upstream's start is missing), every block opens,
fills and closes before the next one opens, a thinking block gets its signature_delta just
before its stop, and the stream ends with message_delta (stop_reason, cumulative usage) and
message_stop; or with `event: error` and nothing after it.

Signatures and redacted thinking go out only when Anthropic issued them (`signature_source`
"claude", wire-formats §9.4); another vendor's thinking text is shown unsigned. A thinking block
opens on the wire with its first content, since only then is it known whether it is plain
thinking or a `redacted_thinking` block; a thinking block left with nothing to show (no text, no
signature or payload of Anthropic's) is not sent at all.

Anthropic never interleaves blocks, but the hub may (OpenAI streams parallel tool calls with
fragments of several calls mixed). Blocks that open while another is on the wire are buffered
and go out whole, in the order they opened, as soon as the block ahead of them stops.
"""

from __future__ import annotations

from typing import Any

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
from aiproxyapi.formats.claude._errors import encode_stream_error
from aiproxyapi.formats.claude._mapping import ToolIds, stop_to_claude, usage_to_claude
from aiproxyapi.formats.claude._response import message_id
from aiproxyapi.formats.codec import ErrorInfo

__all__ = ["PING", "ClaudeStreamEncoder", "sse"]

PING = b'event: ping\ndata: {"type":"ping"}\n\n'
"""Anthropic's own keep-alive event."""

_DELTA = {"text": ("text_delta", "text"), "thinking": ("thinking_delta", "thinking")}
_DELTA_OPENING = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'


def sse(payload: dict[str, Any]) -> bytes:
    """One Anthropic SSE event: the `event:` line repeats the payload's `type`."""
    name: str = payload["type"]
    return b"event: " + name.encode() + b"\ndata: " + msgspec.json.encode(payload) + b"\n\n"


class _Block:
    __slots__ = (
        "delta_head",
        "index",
        "kind",
        "name",
        "opened",
        "redacted",
        "signature",
        "stopped",
        "text",
        "tool_id",
        "wire",
    )

    def __init__(self, start: BlockStart) -> None:
        self.index = start.index
        self.kind = start.kind
        self.tool_id = start.tool_id
        self.name = start.tool_name
        self.text: list[str] = []
        self.signature: list[str] = []
        self.redacted: list[str] = []
        self.opened = False
        self.stopped = False
        self.wire = -1
        self.delta_head = b""
        """The bytes of this block's delta events before the JSON of their text."""

    def keep(self, delta: BlockDelta) -> None:
        """Keep a thinking delta's signature or redacted payload, if Anthropic issued it."""
        if self.kind != "thinking" or delta.signature_source != SOURCE:
            return
        if delta.signature:
            self.signature.append(delta.signature)
        if delta.redacted and not self.opened:
            # Once plain thinking is on the wire, a redacted payload has no place left.
            self.redacted.append(delta.redacted)

    def shown(self) -> bool:
        """Whether the block has anything to put on the wire yet."""
        return self.kind != "thinking" or bool(self.redacted or any(self.text))


class ClaudeStreamEncoder:
    """The Anthropic stream bytes for one client, from canonical events."""

    __slots__ = (
        "_finished",
        "_id",
        "_ids",
        "_live",
        "_model",
        "_seen",
        "_start_usage",
        "_started",
        "_tools",
        "_usage",
        "_waiting",
        "_wire",
    )

    def __init__(self, model: str) -> None:
        self._model = model
        self._id = ""
        self._ids = ToolIds()
        self._started = False
        self._finished = False
        self._live: _Block | None = None
        self._waiting: dict[int, _Block] = {}
        self._seen: set[int] = set()
        self._wire = 0
        self._tools = False
        self._start_usage: Usage | None = None
        self._usage: Usage | None = None

    def feed(self, event: Event) -> bytes:
        """The bytes for one canonical event."""
        if type(event) is BlockDelta and self._started and not self._finished:
            return self._delta(event)  # nearly every event: no framing list, no type ladder
        if self._finished:
            return b""
        if isinstance(event, StreamError):
            self._finished = True
            return encode_stream_error(ErrorInfo(event.status, event.message, event.kind))
        out = [self._begin(event if isinstance(event, StreamStart) else None)]
        if isinstance(event, BlockStart):
            out.append(self._open(event))
        elif isinstance(event, BlockDelta):
            out.append(self._delta(event))
        elif isinstance(event, BlockStop):
            out.append(self._stop(event.index))
        elif isinstance(event, UsageUpdate):
            self._usage = event.usage
        elif isinstance(event, StreamEnd):
            out.append(self._end(event))
        return b"".join(out)

    def close(self) -> bytes:
        """An error event if the stream stops without an end; never a message_stop."""
        if self._finished:
            return b""
        return self.feed(StreamError(message="the stream ended unexpectedly", status=502))

    def _begin(self, start: StreamStart | None) -> bytes:
        if self._started:
            return b""
        self._started = True
        self._id = (start.id if start is not None else "") or message_id()
        self._ids = ToolIds(prefix=f"toolu_{ToolIds()(self._id)}_")
        self._start_usage = start.usage if start is not None else None
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_to_claude(self._start_usage or Usage()),
        }
        return sse({"type": "message_start", "message": message})

    def _open(self, start: BlockStart) -> bytes:
        if start.index in self._seen:
            return b""
        self._seen.add(start.index)
        block = _Block(start)
        if self._live is not None:
            self._waiting[block.index] = block
            return b""
        return self._put_on_wire(block)

    def _delta(self, delta: BlockDelta) -> bytes:
        live = self._live
        if live is not None and live.index == delta.index:
            live.keep(delta)
            if live.opened:
                return b"" if live.redacted else self._text(live, delta.text)
            if delta.text:
                live.text.append(delta.text)
            return self._opening(live) if live.shown() else b""
        block = self._waiting.get(delta.index)
        if block is not None:
            if delta.text:
                block.text.append(delta.text)
            block.keep(delta)
        return b""

    def _stop(self, index: int) -> bytes:
        if self._live is not None and self._live.index == index:
            return self._take_off_wire() + self._drain(force=False)
        if index in self._waiting:
            self._waiting[index].stopped = True
        return b""

    def _end(self, end: StreamEnd) -> bytes:
        out = [self._take_off_wire(), self._drain(force=True)]
        reason = stop_to_claude(end.stop_reason)
        if end.stop_reason is StopReason.END and self._tools:
            reason = "tool_use"
        delta = {"stop_reason": reason, "stop_sequence": end.stop_sequence or None}
        usage = usage_to_claude(self._final_usage(end.usage))
        out.append(sse({"type": "message_delta", "delta": delta, "usage": usage}))
        out.append(sse({"type": "message_stop"}))
        self._finished = True
        return b"".join(out)

    def _final_usage(self, reported: Usage | None) -> Usage:
        usage = reported or self._usage or self._start_usage or Usage()
        start = self._start_usage
        if usage.input == 0 and start is not None and start.input:
            # Input known only at the start (Anthropic upstreams): keep it in the final count.
            return Usage(
                input=start.input,
                output=usage.output,
                reasoning=usage.reasoning,
                cached=start.cached,
                cache_write=start.cache_write,
            )
        return usage

    def _put_on_wire(self, block: _Block) -> bytes:
        self._live = block
        return self._opening(block) if block.shown() else b""

    def _opening(self, block: _Block) -> bytes:
        block.opened = True
        block.wire = self._wire
        self._wire += 1
        if block.kind == "tool_call":
            self._tools = True
            tool_id = self._ids(block.tool_id) if block.tool_id else self._ids.fresh()
            content = {"type": "tool_use", "id": tool_id, "name": block.name, "input": {}}
        elif block.redacted:
            content = {"type": "redacted_thinking", "data": "".join(block.redacted)}
        elif block.kind == "thinking":
            content = {"type": "thinking", "thinking": "", "signature": ""}
        else:
            content = {"type": "text", "text": ""}
        opening = sse(
            {"type": "content_block_start", "index": block.wire, "content_block": content}
        )
        buffered, block.text = "".join(block.text), []
        return opening + (b"" if block.redacted else self._text(block, buffered))

    def _text(self, block: _Block, text: str) -> bytes:
        if not text:
            return b""
        head = block.delta_head
        if not head:
            if block.kind == "tool_call":
                kind, key = "input_json_delta", "partial_json"
            else:
                kind, key = _DELTA[block.kind]
            head = b"".join(
                (
                    _DELTA_OPENING,
                    str(block.wire).encode(),
                    b',"delta":{"type":"',
                    kind.encode(),
                    b'","',
                    key.encode(),
                    b'":',
                )
            )
            if block.wire >= 0:  # kept once the block has its place on the wire
                block.delta_head = head
        # The bytes `sse` makes of {"type", "index", "delta": {"type", key: text}}, without
        # building the dicts: this is the event of nearly every streamed token.
        return head + msgspec.json.encode(text) + b"}}\n\n"

    def _take_off_wire(self) -> bytes:
        block, self._live = self._live, None
        if block is None:
            return b""
        out = b""
        if not block.opened:
            if not block.signature:
                return b""  # thinking with nothing of its own to show: left out
            out = self._opening(block)  # signed thinking without text: Anthropic's own
        if block.kind == "thinking" and not block.redacted:
            # Every thinking block closes with a signature_delta (§9.7); thinking from another
            # vendor has no Anthropic signature, so it gets an empty one, which Anthropic's
            # request encoder never replays.
            signature = {"type": "signature_delta", "signature": "".join(block.signature)}
            out += sse({"type": "content_block_delta", "index": block.wire, "delta": signature})
        return out + sse({"type": "content_block_stop", "index": block.wire})

    def _drain(self, *, force: bool) -> bytes:
        out = []
        while self._waiting and self._live is None:
            block = self._waiting.pop(next(iter(self._waiting)))
            out.append(self._put_on_wire(block))
            if block.stopped or force:
                out.append(self._take_off_wire())
        return b"".join(out)
