"""One HTTP/1.1 client connection: an asyncio protocol whose bytes go straight into httptools.

A `Connection` carries one exchange at a time (no pipelining): `start` arms a fresh response
parser, the caller writes the request, then `read_head` and `read_chunk` hand out what the
parser callbacks collected. The socket is read `_READ_SIZE` bytes at a time into a shared
buffer; body bytes are buffered between reads up to `_HIGH_WATER`, then the socket is paused
until the reader catches up. Every failure is stored as an httpx exception and raised by the
next read, so the transport's callers only ever see httpx errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import cast

import httptools
import httpx

__all__ = ["Connection", "check_head", "send_bytes", "send_request"]

_HIGH_WATER = 64 * 1024  # buffered body bytes at which reading from the socket pauses
_READ_SIZE = 16 * 1024  # bytes taken off the socket per read
_JOIN_LIMIT = 256 * 1024  # bodies up to this size go out in one write with the head
_HEAD_LIMIT = 256 * 1024  # an answer's status line and headers; past it the answer is refused


class _ReadBuffers(threading.local):
    """One read buffer per thread (so per event loop), shared by all its connections.

    The parser copies what it keeps, so the buffer is free again once `buffer_updated`
    returns; reading through it bounds each read to `_READ_SIZE` (a plain protocol gets
    whatever the loop read, 256 KiB at a time under uvloop, whatever the high-water mark).
    """

    def __init__(self) -> None:
        self.view = memoryview(bytearray(_READ_SIZE))


_buffers = _ReadBuffers()


class Connection(asyncio.BufferedProtocol):
    """An HTTP/1.1 client connection; pooled by the transport, one exchange at a time."""

    __slots__ = (
        "_body_size",
        "_buffered",
        "_chunks",
        "_drain",
        "_error",
        "_head_bytes",
        "_head_only",
        "_interim",
        "_last_rx",
        "_loop",
        "_parser",
        "_read_paused",
        "_read_view",
        "_timer",
        "_transport",
        "_waiter",
        "_write_paused",
        "busy",
        "closed",
        "complete",
        "head_done",
        "headers",
        "idle_since",
        "keep_alive",
        "reason",
        "status",
        "version",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._read_view = _buffers.view
        self._transport: asyncio.Transport | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._error: tuple[type[httpx.TransportError], str] | None = None
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._body_size = 0
        self._head_bytes = 0
        self._last_rx = 0.0
        self._read_paused = False
        self._write_paused = False
        self._head_only = False
        self._interim = False
        self.busy = False
        self.closed = False
        self.complete = False
        self.head_done = False
        self.keep_alive = False
        self.idle_since = 0.0
        self.status = 0
        self.reason = b""
        self.version = "1.1"
        self.headers: list[tuple[bytes, bytes]] = []

    # -- the exchange, driven by the transport ---------------------------------------------------

    def start(self, head_only: bool) -> None:
        """Arm a fresh parser for the next response (HEAD answers carry no body)."""
        self._parser = httptools.HttpResponseParser(self)
        self._head_only = head_only
        self._interim = False
        self._error = None
        self._chunks = []
        self._buffered = self._body_size = self._head_bytes = self.status = 0
        self.reason = b""
        self.headers = []
        self.busy = True
        self.complete = self.head_done = self.keep_alive = False

    def write(self, data: bytes) -> None:
        """Queue request bytes on the socket."""
        transport = self._transport
        if self.closed or transport is None or transport.is_closing():
            raise httpx.WriteError("connection closed before the request was sent")
        transport.write(data)

    async def drain(self, limit: float | None) -> None:
        """Wait until the socket accepts more bytes (only when the write buffer is full)."""
        if not self._write_paused or self.closed:
            return
        fut = self._drain = self._loop.create_future()
        timer = None if limit is None else self._loop.call_later(limit, _expire, fut)
        try:
            await fut
        finally:
            self._drain = None
            if timer is not None:
                timer.cancel()

    async def read_head(self, idle: float | None) -> None:
        """Wait for the response's status line and headers (each wait bounded by `idle`)."""
        while not self.head_done:
            self._raise_if_failed()
            await self._wait(idle)

    async def read_chunk(self, idle: float | None) -> bytes:
        """The body bytes received since the last call; b"" once the body is complete."""
        while True:
            chunks = self._chunks
            if chunks:
                data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self._buffered = 0
                if self._read_paused and self._transport is not None and not self.closed:
                    self._read_paused = False
                    self._transport.resume_reading()
                return data
            if self.complete:
                return b""
            self._raise_if_failed()
            await self._wait(idle)

    def remaining(self) -> int | None:
        """Body bytes still to come when the answer has a Content-Length, else None."""
        for name, value in self.headers:
            if name.lower() == b"content-length" and value.strip().isdigit():
                return int(value) - self._body_size
        return None

    def close(self) -> None:
        """Close the socket; any exchange in progress fails."""
        if not self.closed:
            self._fail(httpx.ReadError, "connection closed")
            self.closed = True
            if self._transport is not None:
                self._transport.close()

    async def _wait(self, idle: float | None) -> None:
        fut = self._waiter = self._loop.create_future()
        if idle is not None:
            self._last_rx = self._loop.time()
            self._timer = self._loop.call_later(idle, self._check_idle, fut, idle)
        try:
            await fut
        finally:
            self._waiter = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _check_idle(self, fut: asyncio.Future[None], timeout: float) -> None:
        # The read timeout is an idle timeout: bytes that arrived since the wait began (even
        # framing only) push the deadline out.
        idle = self._loop.time() - self._last_rx
        if idle < timeout:
            self._timer = self._loop.call_later(timeout - idle, self._check_idle, fut, timeout)
        elif not fut.done():
            fut.set_exception(httpx.ReadTimeout(f"no data from the upstream for {timeout:g} s"))

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            kind, message = self._error
            raise kind(message)

    def _fail(self, kind: type[httpx.TransportError], message: str) -> None:
        if self.busy and not self.complete and self._error is None:
            self._error = (kind, message)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _finish(self, keep_alive: bool) -> None:
        self.complete = True
        self.keep_alive = keep_alive and not self._error
        self._parser = None
        if self._read_paused and self._transport is not None and not self.closed:
            # Nothing more belongs to this answer: keep watching the socket (for EOF) while
            # the rest of the body is still buffered or the connection idles.
            self._read_paused = False
            self._transport.resume_reading()

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._read_view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._read_view[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        self._last_rx = self._loop.time()
        parser = self._parser
        if parser is None:
            # Bytes nobody asked for (after a complete answer, or while idle): unusable.
            self.keep_alive = False
            self.close()
            return
        if not self.head_done:
            self._head_bytes += len(data)
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._protocol_error("unexpected protocol upgrade")
        except httptools.HttpParserError as exc:
            self._protocol_error(f"malformed response: {exc}")
        else:
            if not self.head_done and self._head_bytes > _HEAD_LIMIT:
                # httptools buffers a header until it ends: a hostile upstream could grow it
                # without bound.
                self._protocol_error("the answer's headers exceed 256 KiB")
        self._wake()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._parser = None
        if (
            exc is None
            and self.busy
            and self.head_done
            and not self.complete
            and self.remaining() is None
            and not self._chunked()
        ):
            self._finish(False)  # a body delimited by the end of the connection
        if exc is None:
            self._fail(httpx.RemoteProtocolError, "server disconnected before the answer ended")
        else:
            self._fail(httpx.ReadError, str(exc) or type(exc).__name__)
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(httpx.WriteError(str(exc or "connection closed")))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _protocol_error(self, message: str) -> None:
        self._fail(httpx.RemoteProtocolError, message)
        self.close()

    def _chunked(self) -> bool:
        return any(
            name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
            for name, value in self.headers
        )

    # -- httptools callbacks ---------------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        if parser is None:
            return
        status = parser.get_status_code()
        if status < 200:
            if status == 101:
                return  # feed_data raises HttpParserUpgrade next: a protocol error here
            self._interim = True  # 1xx informational: the real answer follows
            self.headers = []
            self.reason = b""
            return
        self.status = status
        self.version = parser.get_http_version()
        self.head_done = True
        if self._head_only:
            self._finish(parser.should_keep_alive())

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self._chunks.append(body)
        self._body_size += len(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._read_paused and self._transport is not None:
            self._read_paused = True
            self._transport.pause_reading()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
        elif not self.complete and self._parser is not None:
            self._finish(self._parser.should_keep_alive())


async def send_request(conn: Connection, request: httpx.Request, write: float | None) -> None:
    """Write the request line, httpx's headers and the body (chunked when httpx asks)."""
    raw = request.headers.raw
    head = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    if not any(name.lower() == b"host" for name, _ in raw):
        head += (b"Host: ", request.url.netloc, b"\r\n")
    for name, value in raw:
        head += (name, b": ", value, b"\r\n")
    head.append(b"\r\n")
    data = b"".join(head)
    check_head(data, len(head) // 4 + 1)
    try:
        body = request.content
    except httpx.RequestNotRead:
        await _send_stream(conn, data, request, write)
        return
    await send_bytes(conn, data, body, write)


async def send_bytes(conn: Connection, head: bytes, body: bytes, write: float | None) -> None:
    """Write a checked request head (request line, header lines, blank line) and its body."""
    if len(body) > _JOIN_LIMIT:
        conn.write(head)
        conn.write(body)
    else:
        conn.write(head + body if body else head)
    await conn.drain(write)


def check_head(head: bytes, lines: int) -> None:
    """Refuse a head whose `lines` line ends are not all: a CR or LF smuggled into a value."""
    if head.count(b"\n") != lines or head.count(b"\r") != lines:
        raise httpx.LocalProtocolError("a line break inside the request line or a header")


async def _send_stream(
    conn: Connection, head: bytes, request: httpx.Request, write: float | None
) -> None:
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    conn.write(head)
    async for part in cast("httpx.AsyncByteStream", request.stream):
        if part:
            conn.write(b"%x\r\n%b\r\n" % (len(part), part) if chunked else part)
            await conn.drain(write)
    if chunked:
        conn.write(b"0\r\n\r\n")
    await conn.drain(write)


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(httpx.WriteTimeout("the upstream stopped accepting the request body"))
