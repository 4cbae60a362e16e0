"""How the fake upstream writes its replies on the wire: JSON, streams, errors, resets.

One flow serves every dialect: route, auth, body, scripted reply, strictness checks, answer.
What differs per dialect lives in a :class:`~._dialects.Codec`.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import struct
from collections.abc import Callable
from typing import Any

from ._answer import resolve
from ._dialects import CODECS, Codec, EventStream, JsonBody
from ._http11 import LAST_CHUNK, HttpRequest, encode_chunk, encode_head
from ._routes import match
from ._tokens import exchange_token
from .openai_wire import dumps, error_body
from .replies import Endpoint, Headers, RecordedRequest, Reply

__all__ = ["ResetError", "Responder"]

_ECHO_MESSAGES = {
    "openai": "Incorrect API key provided: {key}",
    "openai-responses": "Incorrect API key provided: {key}",
    "codex": "Could not parse your authentication token: {key}",
    "claude": "invalid x-api-key: {key}",
    "gemini": "API key not valid: {key}. Please pass a valid API key.",
}
_BAD_JSON = "We could not parse the JSON body of your request."


class ResetError(Exception):
    """The reply asked for a TCP reset; the connection is already aborted."""


class Responder:
    """Answers every route; replies come from next_reply(key, endpoint)."""

    def __init__(
        self,
        next_reply: Callable[[str | None, Endpoint], Reply],
        models: Callable[[], list[str]],
    ) -> None:
        self._next_reply = next_reply
        self._models = models
        self._ids = itertools.count(1)

    async def respond(
        self, request: HttpRequest, record: RecordedRequest, writer: asyncio.StreamWriter
    ) -> bool:
        """Write the reply for one request; returns False when the connection must close."""
        route = match(request)
        if route is None:
            return await self.write_simple(writer, 404, error_body(404, "Unknown URL."))
        codec = CODECS[route.dialect]
        if request.method != route.method:
            return await self._write_error(writer, codec, 405, "Method not allowed.")
        if route.endpoint == "token":
            status, body = exchange_token(route.action, request, next(self._ids))
            return await self.write_simple(writer, status, body)
        if route.endpoint == "models":
            return await self._write_json(writer, codec, 200, codec.models(self._models()), ())
        if route.endpoint == "other":
            return await self._write_error(writer, codec, 404, f"Unknown method {route.action}.")
        refused = codec.refuse(request, record.key)
        if refused is not None:
            return await self._write_error(writer, codec, *refused)
        if not isinstance(record.json, dict):
            return await self._write_error(writer, codec, 400, _BAD_JSON)
        if route.endpoint == "setup":
            setup = codec.setup(route, record.json)  # type: ignore[attr-defined]
            return await self._write_json(writer, codec, 200, setup, ())
        reply = self._next_reply(record.key, route.endpoint)
        record.reply = reply
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.kind == "hang":
            await asyncio.Future()  # ends only by cancellation: client gone or server stopping
        if reply.kind in ("error", "raw") or reply.status != 200:
            return await self._write_fixed(writer, codec, reply, record)
        problem = codec.check(route, record.json)
        if problem is not None:
            record.rejected = problem
            return await self._write_error(writer, codec, 400, problem)
        if route.endpoint == "generate":
            serial = next(self._ids)
            answer = resolve(reply, record, serial, default_model=codec.default_model)
            rendered = codec.answer(route, record, answer)
        else:
            rendered = JsonBody(codec.measure(route, record.json))
        if reply.reset_after == 0:
            await self._reset(writer)
        if isinstance(rendered, EventStream):
            return await self._write_stream(writer, codec, reply, rendered)
        return await self._write_ok_json(writer, codec, reply, rendered)

    def _headers(self, codec: Codec, extra: Headers, content_type: str) -> list[tuple[str, str]]:
        given = {k.lower() for k, _ in extra}
        headers = codec.headers(next(self._ids))
        if "content-type" not in given:
            headers.append(("Content-Type", content_type))
        return headers + list(extra)

    async def write_simple(
        self, writer: asyncio.StreamWriter, status: int, body: Any, *, close: bool = False
    ) -> bool:
        """An OpenAI-style JSON response; returns whether the connection stays open."""
        return await self._write_json(writer, CODECS["openai"], status, body, (), close=close)

    async def _write_json(
        self,
        writer: asyncio.StreamWriter,
        codec: Codec,
        status: int,
        body: Any,
        extra: Headers,
        *,
        close: bool = False,
    ) -> bool:
        data = dumps(body)
        headers = self._headers(codec, extra, "application/json")
        headers.append(("Content-Length", str(len(data))))
        if close:
            headers.append(("Connection", "close"))
        writer.write(encode_head(status, headers) + data)
        await writer.drain()
        return not close

    async def _write_error(
        self, writer: asyncio.StreamWriter, codec: Codec, status: int, message: str
    ) -> bool:
        return await self._write_json(
            writer, codec, status, codec.error_body(status, message, None), ()
        )

    async def _write_fixed(
        self, writer: asyncio.StreamWriter, codec: Codec, reply: Reply, record: RecordedRequest
    ) -> bool:
        data = reply.body
        if reply.echoes_key or data is None:
            message = None
            if reply.echoes_key:
                message = _ECHO_MESSAGES[record.dialect].format(key=record.key)
            data = dumps(codec.error_body(reply.status, message, reply.retry_after))
        extra = list(reply.headers)
        given = {k.lower() for k, _ in extra}
        if reply.retry_after is not None and codec.retry_header and "retry-after" not in given:
            extra.append(("retry-after", f"{reply.retry_after:g}"))
        headers = self._headers(codec, tuple(extra), "application/json")
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

    async def _write_ok_json(
        self, writer: asyncio.StreamWriter, codec: Codec, reply: Reply, rendered: JsonBody
    ) -> bool:
        """A 200 JSON answer; a scripted reset sends the headers and half the body first."""
        data = dumps(rendered.body)
        headers = self._headers(codec, reply.headers, "application/json")
        headers.append(("Content-Length", str(len(data))))
        if reply.reset_after is not None:
            writer.write(encode_head(200, headers) + data[: len(data) // 2])
            await self._reset(writer)
        writer.write(encode_head(200, headers) + data)
        await writer.drain()
        return True

    async def _write_stream(
        self, writer: asyncio.StreamWriter, codec: Codec, reply: Reply, stream: EventStream
    ) -> bool:
        """Send each frame in its own HTTP chunk, resetting where scripted."""
        headers = self._headers(codec, reply.headers, stream.content_type)
        headers += [("Cache-Control", "no-cache"), ("Transfer-Encoding", "chunked")]
        writer.write(encode_head(200, headers))
        await writer.drain()
        for index, frame in enumerate(stream.frames):
            if index == reply.reset_after:
                await self._reset(writer)
            if index and reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
            writer.write(encode_chunk(frame))
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
