"""How the fake upstream writes its replies on the wire: JSON, SSE streams, errors, resets."""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from ._http11 import LAST_CHUNK, HttpRequest, encode_chunk, encode_head
from .openai_wire import chunk_events, completion_body, dumps, error_body, models_body, split_text
from .replies import Headers, RecordedRequest, Reply

__all__ = ["ResetError", "Responder"]


class ResetError(Exception):
    """The reply asked for a TCP reset; the connection is already aborted."""


class Responder:
    """Answers requests of the OpenAI routes; replies for chat come from next_reply(key)."""

    def __init__(
        self, next_reply: Callable[[str | None], Reply], models: Callable[[], list[str]]
    ) -> None:
        self._next_reply = next_reply
        self._models = models
        self._ids = itertools.count(1)

    async def respond(
        self, request: HttpRequest, record: RecordedRequest, writer: asyncio.StreamWriter
    ) -> bool:
        """Write the reply for one request; returns False when the connection must close."""
        route = (request.method, request.path)
        if route == ("GET", "/v1/models"):
            return await self.write_simple(writer, 200, models_body(self._models()))
        if request.path not in ("/v1/models", "/v1/chat/completions"):
            return await self.write_simple(writer, 404, error_body(404, "Unknown URL."))
        if route != ("POST", "/v1/chat/completions"):
            return await self.write_simple(writer, 405, error_body(405, "Method not allowed."))
        if record.key is None:
            message = "You didn't provide an API key."
            return await self.write_simple(writer, 401, error_body(401, message))
        if not isinstance(record.json, dict):
            message = "We could not parse the JSON body of your request."
            return await self.write_simple(writer, 400, error_body(400, message))
        reply = self._next_reply(record.key)
        record.reply = reply
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.kind == "hang":
            await asyncio.Future()  # ends only by cancellation: client gone or server stopping
        if reply.kind in ("error", "raw") or reply.status != 200:
            return await self._write_fixed(writer, reply, record.key)
        return await self._write_completion(writer, reply, record)

    def _base_headers(self, extra: Headers, content_type: str) -> list[tuple[str, str]]:
        given = {k.lower() for k, _ in extra}
        headers = [
            ("x-request-id", f"req_fake_{next(self._ids)}"),
            ("openai-version", "2020-10-01"),
        ]
        if "content-type" not in given:
            headers.append(("Content-Type", content_type))
        return headers + list(extra)

    async def write_simple(
        self, writer: asyncio.StreamWriter, status: int, body: Any, *, close: bool = False
    ) -> bool:
        """A JSON response with Content-Length; returns whether the connection stays open."""
        data = dumps(body)
        headers = self._base_headers((), "application/json")
        headers.append(("Content-Length", str(len(data))))
        if close:
            headers.append(("Connection", "close"))
        writer.write(encode_head(status, headers) + data)
        await writer.drain()
        return not close

    async def _write_fixed(self, writer: asyncio.StreamWriter, reply: Reply, key: str) -> bool:
        data = reply.body or b""
        if reply.echoes_key:
            data = dumps(error_body(reply.status, f"Incorrect API key provided: {key}"))
        headers = self._base_headers(reply.headers, "application/json")
        if reply.chunked:
            headers.append(("Transfer-Encoding", "chunked"))
            payload = (encode_chunk(data) if data else b"") + (
                b"" if reply.truncate else LAST_CHUNK
            )
        else:
            headers.append(("Content-Length", str(len(data))))
            payload = data[: len(data) // 2] if reply.truncate else data
        if reply.truncate:
            headers.append(("Connection", "close"))
        writer.write(encode_head(reply.status, headers) + payload)
        await writer.drain()
        return not reply.truncate

    async def _write_completion(
        self, writer: asyncio.StreamWriter, reply: Reply, record: RecordedRequest
    ) -> bool:
        body: dict[str, Any] = record.json
        key = record.key or ""
        text = key if reply.echoes_key else reply.text
        common: dict[str, Any] = {
            "id": f"chatcmpl-fake{next(self._ids)}",
            "created": int(time.time()),
            "model": reply.model or str(body.get("model") or "gpt-4o"),
            "finish_reason": reply.finish_reason,
        }
        if text is None:
            text = f"hello from key {key[-6:]}"
        if reply.reset_after == 0:
            await self._reset(writer)
        if not record.stream:
            data = dumps(completion_body(text=text, usage=reply.usage, **common))
            headers = self._base_headers(reply.headers, "application/json")
            headers.append(("Content-Length", str(len(data))))
            if reply.reset_after is not None:
                writer.write(encode_head(200, headers) + data[: len(data) // 2])
                await self._reset(writer)
            writer.write(encode_head(200, headers) + data)
            await writer.drain()
            return True
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        pieces = split_text(text, reply.chunks)
        chunks = chunk_events(pieces=pieces, usage=reply.usage if include_usage else None, **common)
        return await self._write_stream(writer, reply, [*map(dumps, chunks), b"[DONE]"])

    async def _write_stream(
        self, writer: asyncio.StreamWriter, reply: Reply, events: list[bytes]
    ) -> bool:
        """Send each event as ``data: ...`` in its own HTTP chunk, resetting where scripted."""
        headers = self._base_headers(reply.headers, "text/event-stream")
        headers += [("Cache-Control", "no-cache"), ("Transfer-Encoding", "chunked")]
        writer.write(encode_head(200, headers))
        await writer.drain()
        for index, event in enumerate(events):
            if index == reply.reset_after:
                await self._reset(writer)
            if index and reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            writer.write(encode_chunk(b"data: " + event + b"\n\n"))
            await writer.drain()
        if reply.reset_after is not None:
            await self._reset(writer)
        writer.write(LAST_CHUNK)
        await writer.drain()
        return True

    async def _reset(self, writer: asyncio.StreamWriter) -> None:
        """Flush what was written, then abort the connection with a TCP RST."""
        transport = writer.transport
        async with asyncio.timeout(5.0):
            # asyncio has no "write buffer empty" event, and drain() only waits for the low mark.
            while transport.get_write_buffer_size():  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        raise ResetError
