"""Responses SSE events (wire-formats §2.4) into canonical stream events.

Upstreams may leave out any optional event: blocks open on the first event that shows them,
`.done` events and `output_item.done` fill in text whose deltas never came, and items that only
appear in the terminal response are replayed from it. Usage comes from the terminal event.
A reasoning item's `encrypted_content` becomes its block's signature, marked
`signature_source="openai-responses"` so that only this dialect gets it back (wire-formats §9.4).
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

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
)
from aiproxyapi.formats.openai_responses._common import (
    FMT,
    rest,
    stop_reason_for,
    usage_from_wire,
)
from aiproxyapi.formats.openai_responses.errors import error_from_failure
from aiproxyapi.formats.sse import SSEEvent

__all__ = ["ResponsesStreamDecoder"]

_json = msgspec.json.Decoder()
_Kind: TypeAlias = Literal["text", "thinking", "tool_call"]
_LIFECYCLE = frozenset({"response.created", "response.in_progress", "response.queued"})
_ITEM = -1
"""The sub-key of a block that is a whole item (a function call or a reasoning item)."""


class _Block:
    __slots__ = ("index", "kind", "open", "part_text", "summary", "text")

    def __init__(self, index: int, kind: _Kind) -> None:
        self.index = index
        self.kind = kind
        self.text = ""
        self.open = True
        self.summary = 0
        self.part_text = ""


class ResponsesStreamDecoder:
    """One upstream Responses stream into canonical events."""

    def __init__(self) -> None:
        self._started = False
        self._finished = False
        self._usage: Usage | None = None
        self._blocks: dict[tuple[int, int], _Block] = {}
        self._seen: set[int] = set()
        self._tool_call = False
        self._refusal = False

    @property
    def usage(self) -> Usage | None:
        """Usage reported by the terminal event, once it came."""
        return self._usage

    def feed(self, event: SSEEvent) -> list[Event]:
        """Canonical events for one upstream SSE event."""
        if self._finished or not event.data:
            return []
        try:
            data = _json.decode(event.data)
        except (msgspec.DecodeError, UnicodeError, RecursionError):
            data = None
        if not isinstance(data, dict):
            self._finished = True
            return [
                StreamError(
                    message="unreadable upstream stream event", kind="upstream_error", status=502
                )
            ]
        kind = str(data.get("type") or event.event)
        if kind == "error":
            # §2.4 puts code and message at the top level; some servers nest them in `error`.
            self._finished = True
            nested = data.get("error")
            body = nested if isinstance(nested, dict) else rest(data, frozenset({"type"}))
            error = error_from_failure(body, "the upstream reported an error")
            return [StreamError(message=error.message, kind=error.kind, status=error.status)]
        handler = _HANDLERS.get(kind)
        if handler is None and kind not in _LIFECYCLE:
            return []  # hosted-tool progress, codex.rate_limits, …: nothing the hub carries
        out: list[Event] = []
        response = data.get("response")
        self._start(response if isinstance(response, dict) else {}, out)
        if isinstance(data.get("output_index"), int):
            self._seen.add(data["output_index"])
        if handler is not None:
            handler(self, data, out)
        return out

    def close(self) -> list[Event]:
        """A StreamError when the upstream stopped before its terminal event."""
        if self._finished:
            return []
        self._finished = True
        return [
            StreamError(
                message="the upstream stream ended before response.completed",
                kind="upstream_error",
                status=502,
            )
        ]

    # ---- blocks ------------------------------------------------------------------------------

    def _start(self, response: dict[str, Any], out: list[Event]) -> None:
        if self._started:
            return
        self._started = True
        created = response.get("created_at")
        out.append(
            StreamStart(
                id=str(response.get("id") or ""),
                model=str(response.get("model") or ""),
                created=int(created) if isinstance(created, int | float) else 0,
            )
        )

    def _block(
        self, key: tuple[int, int], kind: _Kind, out: list[Event], tool_id: str = "", name: str = ""
    ) -> _Block:
        block = self._blocks.get(key)
        if block is None:
            block = self._blocks[key] = _Block(len(self._blocks), kind)
            out.append(BlockStart(index=block.index, kind=kind, tool_id=tool_id, tool_name=name))
        return block

    def _delta(self, block: _Block, text: str, out: list[Event]) -> None:
        if text and block.open:
            block.text += text
            block.part_text += text
            out.append(BlockDelta(index=block.index, text=text))

    def _catch_up(
        self, block: _Block, full: str, out: list[Event], done: str | None = None
    ) -> None:
        """Emit what `full` has beyond what the deltas gave (the block's text, or `done`)."""
        done = block.text if done is None else done
        if full.startswith(done):
            self._delta(block, full[len(done) :], out)

    def _stop(self, block: _Block, out: list[Event]) -> None:
        if block.open:
            block.open = False
            out.append(BlockStop(index=block.index))

    # ---- events ------------------------------------------------------------------------------

    def _item_added(self, data: dict[str, Any], out: list[Event]) -> None:
        item = data.get("item")
        if isinstance(item, dict) and item.get("type") == "function_call":
            self._call_block(_index(data), item, out)

    def _call_block(self, index: int, item: dict[str, Any], out: list[Event]) -> _Block:
        self._tool_call = True
        call_id = str(item.get("call_id") or item.get("id") or "")
        return self._block((index, _ITEM), "tool_call", out, call_id, str(item.get("name") or ""))

    def _text_delta(self, data: dict[str, Any], out: list[Event]) -> None:
        block = self._block((_index(data), _int(data.get("content_index"))), "text", out)
        self._delta(block, _str(data.get("delta")), out)

    def _text_done(self, data: dict[str, Any], out: list[Event]) -> None:
        block = self._block((_index(data), _int(data.get("content_index"))), "text", out)
        self._catch_up(block, _str(data.get("text", data.get("refusal"))), out)

    def _part_added(self, data: dict[str, Any], out: list[Event]) -> None:
        part = data.get("part")
        if isinstance(part, dict) and part.get("type") in ("output_text", "refusal"):
            self._refusal |= part.get("type") == "refusal"
            self._block((_index(data), _int(data.get("content_index"))), "text", out)

    def _part_done(self, data: dict[str, Any], out: list[Event]) -> None:
        part = data.get("part")
        if isinstance(part, dict) and part.get("type") in ("output_text", "refusal"):
            block = self._block((_index(data), _int(data.get("content_index"))), "text", out)
            self._catch_up(block, _part_text(part), out)
            self._stop(block, out)

    def _refusal_delta(self, data: dict[str, Any], out: list[Event]) -> None:
        self._refusal = True
        self._text_delta(data, out)

    def _args_delta(self, data: dict[str, Any], out: list[Event]) -> None:
        block = self._call_block(_index(data), {"id": data.get("item_id")}, out)
        self._delta(block, _str(data.get("delta")), out)

    def _args_done(self, data: dict[str, Any], out: list[Event]) -> None:
        block = self._call_block(_index(data), {"id": data.get("item_id")}, out)
        self._catch_up(block, _str(data.get("arguments")), out)

    def _summary_delta(self, data: dict[str, Any], out: list[Event]) -> None:
        block = self._block((_index(data), _ITEM), "thinking", out)
        summary = _int(data.get("summary_index"))
        if summary != block.summary:
            block.summary = summary
            if block.text:
                self._delta(block, "\n\n", out)
            block.part_text = ""
        self._delta(block, _str(data.get("delta")), out)

    def _summary_done(self, data: dict[str, Any], out: list[Event]) -> None:
        part = data.get("part")
        text = part.get("text") if isinstance(part, dict) else data.get("text")
        self._summary_delta({**data, "delta": ""}, out)
        block = self._blocks[(_index(data), _ITEM)]
        self._catch_up(block, _str(text), out, block.part_text)

    def _reasoning_text(self, data: dict[str, Any], out: list[Event]) -> None:
        self._delta(
            self._block((_index(data), _ITEM), "thinking", out), _str(data.get("delta")), out
        )

    def _item_done(self, data: dict[str, Any], out: list[Event]) -> None:
        item = data.get("item")
        if isinstance(item, dict):
            self._finish_item(_index(data), item, out)

    def _finish_item(self, index: int, item: dict[str, Any], out: list[Event]) -> None:
        kind = item.get("type")
        if kind == "message":
            for position, part in enumerate(item.get("content") or []):
                if not isinstance(part, dict) or part.get("type") not in ("output_text", "refusal"):
                    continue
                self._refusal |= part.get("type") == "refusal"
                block = self._block((index, position), "text", out)
                self._catch_up(block, _part_text(part), out)
                self._stop(block, out)
        elif kind == "function_call":
            block = self._call_block(index, item, out)
            self._catch_up(block, _str(item.get("arguments")), out)
            self._stop(block, out)
        elif kind == "reasoning":
            self._finish_reasoning(index, item, out)

    def _finish_reasoning(self, index: int, item: dict[str, Any], out: list[Event]) -> None:
        summary = item.get("summary") or []
        text = "\n\n".join(_str(s.get("text")) for s in summary if isinstance(s, dict))
        encrypted = _str(item.get("encrypted_content"))
        block = self._blocks.get((index, _ITEM))
        if block is None and not (text or encrypted):
            return
        block = self._block((index, _ITEM), "thinking", out)
        self._catch_up(block, text, out)
        if encrypted and block.open:
            out.append(BlockDelta(index=block.index, signature=encrypted, signature_source=FMT))
        self._stop(block, out)

    def _terminal(self, data: dict[str, Any], out: list[Event]) -> None:
        response = data.get("response")
        response = response if isinstance(response, dict) else {}
        self._finished = True
        output = response.get("output")
        for index, item in enumerate(output if isinstance(output, list) else []):
            # Items the stream never showed (a terse upstream) are replayed from the final object.
            if index not in self._seen and isinstance(item, dict):
                self._finish_item(index, item, out)
        for block in sorted(self._blocks.values(), key=lambda b: b.index):
            self._stop(block, out)
        self._usage = usage_from_wire(response.get("usage")) or self._usage
        if data.get("type") == "response.failed" or response.get("status") == "failed":
            error = error_from_failure(response.get("error"), "the upstream response failed")
            out.append(StreamError(message=error.message, kind=error.kind, status=error.status))
            return
        status = (
            "incomplete" if data.get("type") == "response.incomplete" else response.get("status")
        )
        stop = stop_reason_for(
            status or "completed",
            response.get("incomplete_details"),
            tool_call=self._tool_call,
            refusal=self._refusal,
        )
        if stop is StopReason.ERROR:
            out.append(
                StreamError(message="the upstream response was cancelled", kind="server_error")
            )
            return
        out.append(StreamEnd(stop_reason=stop, usage=self._usage))


def _index(data: dict[str, Any]) -> int:
    return _int(data.get("output_index"))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _part_text(part: dict[str, Any]) -> str:
    return _str(part.get("refusal") if part.get("type") == "refusal" else part.get("text"))


_D = ResponsesStreamDecoder
_HANDLERS = {
    "response.output_item.added": _D._item_added,
    "response.content_part.added": _D._part_added,
    "response.output_text.delta": _D._text_delta,
    "response.output_text.done": _D._text_done,
    "response.refusal.delta": _D._refusal_delta,
    "response.refusal.done": _D._text_done,
    "response.content_part.done": _D._part_done,
    "response.function_call_arguments.delta": _D._args_delta,
    "response.function_call_arguments.done": _D._args_done,
    "response.reasoning_summary_part.added": _D._summary_delta,
    "response.reasoning_summary_text.delta": _D._summary_delta,
    "response.reasoning_summary_text.done": _D._summary_done,
    "response.reasoning_summary_part.done": _D._summary_done,
    "response.reasoning_text.delta": _D._reasoning_text,
    "response.output_item.done": _D._item_done,
    "response.completed": _D._terminal,
    "response.incomplete": _D._terminal,
    "response.failed": _D._terminal,
}
