"""Canonical stream events into the Responses event lifecycle (wire-formats §2.4, §9.7).

`response.created` and `response.in_progress` open the stream; every block becomes one output
item bracketed by `output_item.added` / `.done` (text also by `content_part.added` / `.done`,
reasoning summaries by `reasoning_summary_part.added` / `.done`); `sequence_number` counts every
event; the terminal `response.completed` / `.incomplete` repeats every item and the usage, and a
failure ends with `error` and `response.failed` instead.

A reasoning item carries `encrypted_content` only when this dialect issued it (`signature_source`
"openai-responses", wire-formats §9.4); other vendors' signatures and redacted thinking are
dropped. A reasoning item is announced with its first summary text or its own encrypted content,
so thinking with nothing to show here makes no item at all.
"""

from __future__ import annotations

import time
from typing import Any

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
    UsageUpdate,
)
from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.formats.openai_responses._common import (
    FMT,
    item_id,
    response_id,
    response_object,
    sse_event,
    status_for,
)
from aiproxyapi.formats.openai_responses.errors import failure_events

__all__ = ["ResponsesStreamEncoder"]

_PREFIX = {"text": "msg", "thinking": "rs", "tool_call": "fc"}


class _Item:
    __slots__ = (
        "added",
        "call_id",
        "done",
        "ident",
        "kind",
        "name",
        "output_index",
        "signature",
        "summary",
        "text",
    )

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.ident = ""
        self.output_index = -1
        self.added = False
        self.text = ""
        self.call_id = ""
        self.name = ""
        self.signature = ""
        self.summary = False
        self.done = False

    def wire(self, status: str) -> dict[str, Any]:
        """The item as `output_item.added` (in_progress) or `.done` (completed) shows it."""
        final = status == "completed"
        if self.kind == "text":
            content = [_text_part(self.text)] if final else []
            return {
                "id": self.ident,
                "type": "message",
                "status": status,
                "role": "assistant",
                "content": content,
            }
        if self.kind == "tool_call":
            arguments = (self.text or "{}") if final else ""
            return {
                "id": self.ident,
                "type": "function_call",
                "status": status,
                "call_id": self.call_id,
                "name": self.name,
                "arguments": arguments,
            }
        item: dict[str, Any] = {"id": self.ident, "type": "reasoning", "summary": []}
        if final and self.text:
            item["summary"] = [{"type": "summary_text", "text": self.text}]
        if final and self.signature:
            item["encrypted_content"] = self.signature
        return item


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


class ResponsesStreamEncoder:
    """Writes one client's Responses stream."""

    def __init__(self, request: Request, model: str) -> None:
        # The request echo fields of the Response object stay at neutral defaults: repeating a
        # coding agent's long instructions and tool list three times per turn helps no client.
        del request
        self._model = model
        self._sequence = 0
        self._id = ""
        self._created = 0
        self._items: list[_Item] = []
        self._blocks: dict[int, _Item] = {}
        self._usage: Usage | None = None
        self._finished = False

    def feed(self, event: Event) -> bytes:
        """The bytes for one canonical event."""
        if self._finished:
            return b""
        out: list[bytes] = []
        # Whatever comes first opens the stream: created and in_progress always lead.
        self._open(event if isinstance(event, StreamStart) else None, out)
        if isinstance(event, BlockStart):
            self._block_start(event, out)
        elif isinstance(event, BlockDelta):
            self._block_delta(event, out)
        elif isinstance(event, BlockStop):
            item = self._blocks.get(event.index)
            if item is not None:
                self._close_item(item, out)
        elif isinstance(event, UsageUpdate):
            self._usage = event.usage
        elif isinstance(event, StreamEnd):
            self._end(event, out)
        elif isinstance(event, StreamError):
            self._fail(ErrorInfo(event.status, event.message, event.kind, event.kind), out)
        return b"".join(out)

    def close(self) -> bytes:
        """Nothing: a stream that stops without an end gets its failure from the relay."""
        return b""

    def _emit(self, kind: str, payload: dict[str, Any], out: list[bytes]) -> None:
        out.append(sse_event(kind, payload, self._sequence))
        self._sequence += 1

    def _response(
        self, status: str, output: list[dict[str, Any]], usage: Usage | None
    ) -> dict[str, Any]:
        return response_object(
            self._id, self._model, created=self._created, status=status, output=output, usage=usage
        )

    def _open(self, start: StreamStart | None, out: list[bytes]) -> None:
        if self._id:
            return
        self._id = response_id(start.id if start is not None else "")
        self._created = (start.created if start is not None else 0) or int(time.time())
        if start is not None and start.usage is not None:
            self._usage = start.usage
        response = self._response("in_progress", [], None)
        self._emit("response.created", {"response": response}, out)
        self._emit("response.in_progress", {"response": response}, out)

    def _block_start(self, event: BlockStart, out: list[bytes]) -> None:
        item = _Item(event.kind)
        item.call_id, item.name = event.tool_id, event.tool_name
        self._blocks[event.index] = item
        if item.kind != "thinking":
            self._add(item, out)

    def _add(self, item: _Item, out: list[bytes]) -> None:
        index = len(self._items)
        item.added, item.output_index = True, index
        item.ident = item_id(_PREFIX[item.kind], self._id, index)
        self._items.append(item)
        self._emit(
            "response.output_item.added",
            {"output_index": index, "item": item.wire("in_progress")},
            out,
        )
        if item.kind == "text":
            self._emit(
                "response.content_part.added", self._part(item, {"part": _text_part("")}), out
            )

    def _part(self, item: _Item, payload: dict[str, Any]) -> dict[str, Any]:
        where: dict[str, Any] = {"item_id": item.ident, "output_index": item.output_index}
        return (
            where
            | ({"content_index": 0} if item.kind == "text" else {"summary_index": 0})
            | payload
        )

    def _block_delta(self, event: BlockDelta, out: list[bytes]) -> None:
        item = self._blocks.get(event.index)
        if item is None or item.done:
            return
        if event.signature and item.kind == "thinking" and event.signature_source == FMT:
            item.signature = event.signature
        if not (event.text or item.signature):
            return
        if not item.added:
            self._add(item, out)
        if not event.text:
            return
        item.text += event.text
        if item.kind == "text":
            self._emit(
                "response.output_text.delta",
                self._part(item, {"delta": event.text, "logprobs": []}),
                out,
            )
        elif item.kind == "tool_call":
            where = {"item_id": item.ident, "output_index": item.output_index}
            self._emit("response.function_call_arguments.delta", where | {"delta": event.text}, out)
        else:
            if not item.summary:
                item.summary = True
                part = {"part": {"type": "summary_text", "text": ""}}
                self._emit("response.reasoning_summary_part.added", self._part(item, part), out)
            self._emit(
                "response.reasoning_summary_text.delta",
                self._part(item, {"delta": event.text}),
                out,
            )

    def _close_item(self, item: _Item, out: list[bytes]) -> None:
        if item.done:
            return
        item.done = True
        if not item.added:
            return  # reasoning with nothing to show in this dialect
        if item.kind == "text":
            self._emit(
                "response.output_text.done",
                self._part(item, {"text": item.text, "logprobs": []}),
                out,
            )
            self._emit(
                "response.content_part.done", self._part(item, {"part": _text_part(item.text)}), out
            )
        elif item.kind == "tool_call":
            where = {"item_id": item.ident, "output_index": item.output_index}
            self._emit(
                "response.function_call_arguments.done",
                where | {"arguments": item.text or "{}"},
                out,
            )
        elif item.summary:
            self._emit(
                "response.reasoning_summary_text.done", self._part(item, {"text": item.text}), out
            )
            part = {"part": {"type": "summary_text", "text": item.text}}
            self._emit("response.reasoning_summary_part.done", self._part(item, part), out)
        done = {"output_index": item.output_index, "item": item.wire("completed")}
        self._emit("response.output_item.done", done, out)

    def _end(self, event: StreamEnd, out: list[bytes]) -> None:
        if event.stop_reason is StopReason.ERROR:
            self._fail(ErrorInfo(500, "the model stopped with an error", "server_error"), out)
            return
        for item in self._items:
            self._close_item(item, out)
        self._finished = True
        usage = event.usage or self._usage or Usage()
        status, incomplete = status_for(event.stop_reason, refusal=False)
        response = self._response(status, [item.wire("completed") for item in self._items], usage)
        if incomplete is not None:
            response["incomplete_details"] = incomplete
        self._emit(f"response.{status}", {"response": response}, out)

    def _fail(self, error: ErrorInfo, out: list[bytes]) -> None:
        # Items already finished stay in the failed response; open ones are left as they were.
        self._finished = True
        output = [item.wire("completed") for item in self._items if item.done]
        response = self._response("failed", output, self._usage)
        for kind, payload in failure_events(error, response):
            self._emit(kind, payload, out)
