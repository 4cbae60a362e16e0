"""A small server-side HTTP/1.1 codec for the fake upstreams, independent of the gateway's stack.

It reads one request at a time from a keep-alive connection (Content-Length or chunked bodies,
``Expect: 100-continue``) and frames responses. Reads go through :class:`BufferedConn`, whose
push-back buffer lets a watcher read the socket while a reply is in progress (to notice a
client that went away) without losing bytes of a following request.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from http import HTTPStatus

__all__ = [
    "LAST_CHUNK",
    "BufferedConn",
    "HttpParseError",
    "HttpRequest",
    "encode_chunk",
    "encode_head",
    "read_request",
]

MAX_LINE = 64 * 1024
MAX_HEADERS = 200
MAX_BODY = 64 * 1024 * 1024
_READ_SIZE = 64 * 1024
# A watcher stops reading once this much unread data is buffered: a client has no business
# sending more than one request ahead.
_MAX_PUSHBACK = 1024 * 1024

LAST_CHUNK = b"0\r\n\r\n"


class HttpParseError(Exception):
    """The peer sent bytes that are not a well-formed HTTP/1.1 request."""


@dataclass(frozen=True)
class HttpRequest:
    """One parsed request; header names are lower-cased and kept in arrival order."""

    method: str
    target: str
    version: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        """The query string without the ``?`` (empty when there is none)."""
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    def header(self, name: str) -> str | None:
        """The value of a header (repeated headers joined by ``, ``), or None."""
        values = [v for k, v in self.headers if k == name.lower()]
        return ", ".join(values) if values else None

    @property
    def keep_alive(self) -> bool:
        """Whether the client wants the connection kept open after the reply."""
        tokens = {t.strip().lower() for t in (self.header("connection") or "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


class BufferedConn:
    """A StreamReader behind a push-back buffer, so reads can be interleaved with EOF watching."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._buf = bytearray()
        self.eof = False

    async def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            data = await self._reader.read(_READ_SIZE)
        except ConnectionError:
            data = b""
        if not data:
            self.eof = True
            return False
        self._buf += data
        return True

    async def readline(self) -> bytes:
        """One line including its LF; what is left at EOF (possibly b"")."""
        while True:
            idx = self._buf.find(b"\n")
            if idx >= 0:
                line = bytes(self._buf[: idx + 1])
                del self._buf[: idx + 1]
                return line
            if len(self._buf) > MAX_LINE:
                raise HttpParseError("line too long")
            if not await self._fill():
                line = bytes(self._buf)
                self._buf.clear()
                return line

    async def readexactly(self, n: int) -> bytes:
        """Exactly n bytes; raises IncompleteReadError when the peer closes first."""
        while len(self._buf) < n:
            if not await self._fill():
                partial = bytes(self._buf)
                self._buf.clear()
                raise asyncio.IncompleteReadError(partial, n)
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def wait_eof(self) -> None:
        """Return once the peer has closed its side; bytes read meanwhile stay buffered."""
        while len(self._buf) < _MAX_PUSHBACK:
            if not await self._fill():
                return
        await asyncio.Future()  # the client is flooding us; only cancellation ends this wait


def _strip_eol(line: bytes) -> bytes:
    if not line.endswith(b"\n"):
        raise HttpParseError("connection closed in the middle of a line")
    return line[:-2] if line.endswith(b"\r\n") else line[:-1]


async def _read_headers(conn: BufferedConn) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for _ in range(MAX_HEADERS + 1):
        line = _strip_eol(await conn.readline())
        if not line:
            return headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            raise HttpParseError(f"bad header line {line[:80]!r}")
        headers.append((name.lower(), value.strip()))
    raise HttpParseError("too many header lines")


async def _read_chunked(conn: BufferedConn) -> bytes:
    body = bytearray()
    # Every non-final chunk adds at least one byte, so MAX_BODY bounds this loop.
    while True:
        size_line = _strip_eol(await conn.readline()).split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise HttpParseError(f"bad chunk size {size_line[:20]!r}") from None
        if size < 0 or len(body) + size > MAX_BODY:
            raise HttpParseError("chunked body too large")
        if size == 0:
            await _read_headers(conn)  # trailers, ignored
            return bytes(body)
        body += await conn.readexactly(size)
        if _strip_eol(await conn.readline()):
            raise HttpParseError("chunk data not followed by CRLF")


async def read_request(conn: BufferedConn, writer: asyncio.StreamWriter) -> HttpRequest | None:
    """Read the next request; None when the peer closed cleanly between requests."""
    line = b""
    for _ in range(8):  # RFC 9112 lets a server skip a few empty lines before a request
        line = await conn.readline()
        if not line:
            return None
        if line.strip():
            break
    parts = _strip_eol(line).decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpParseError(f"bad request line {line[:80]!r}")
    method, target, version = parts
    headers = await _read_headers(conn)
    names = {k for k, _ in headers}
    if "transfer-encoding" in names and "content-length" in names:
        raise HttpParseError("both Transfer-Encoding and Content-Length")
    request = HttpRequest(method, target, version, tuple(headers), b"")
    if (request.header("expect") or "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await writer.drain()
    te = (request.header("transfer-encoding") or "").lower()
    if te:
        if te != "chunked":
            raise HttpParseError(f"unsupported Transfer-Encoding {te!r}")
        body = await _read_chunked(conn)
    else:
        raw_length = request.header("content-length") or "0"
        if not raw_length.isdigit() or int(raw_length) > MAX_BODY:
            raise HttpParseError(f"bad Content-Length {raw_length[:20]!r}")
        body = await conn.readexactly(int(raw_length))
    return HttpRequest(method, target, version, tuple(headers), body)


def encode_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """The status line and header block of a response."""
    reason = "Unknown"
    with contextlib.suppress(ValueError):
        reason = HTTPStatus(status).phrase
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def encode_chunk(data: bytes) -> bytes:
    """One chunk of a chunked response body (never empty: that would end the body)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"
