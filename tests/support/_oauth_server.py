"""The HTTP plumbing of the fake authorization server: a thread, a loop, one handler per request.

The handler is a plain function from :class:`~._http11.HttpRequest` to :class:`Answer`; the
server frames it (``Connection: close`` after each answer keeps it simple and honest).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._http11 import BufferedConn, HttpParseError, HttpRequest, encode_head, read_request

__all__ = ["Answer", "ThreadedServer"]


@dataclass
class Answer:
    """A response: status, headers and body."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Answer:
        """A JSON response."""
        return cls(status, json.dumps(data).encode(), [("Content-Type", "application/json")])

    @classmethod
    def redirect(cls, location: str) -> Answer:
        """A 302 to location."""
        return cls(302, b"", [("Location", location)])

    @classmethod
    def text(cls, text: str, status: int = 200) -> Answer:
        """A plain-text response."""
        return cls(status, text.encode(), [("Content-Type", "text/plain; charset=utf-8")])


class ThreadedServer:
    """Serve ``handler`` on 127.0.0.1 from a background thread."""

    def __init__(self, handler: Callable[[HttpRequest], Answer], name: str) -> None:
        self._handler = handler
        self._name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self.port = 0

    def start(self) -> None:
        """Bind an ephemeral port and serve."""
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        if not self._ready.wait(5) or self.error is not None:
            raise RuntimeError(f"{self._name} did not start") from self.error

    def stop(self) -> None:
        """Stop serving and join the thread; re-raise a handler bug."""
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
        if self.error is not None:
            raise RuntimeError(f"{self._name} failed") from self.error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self.error = exc
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(30):
                request = await read_request(BufferedConn(reader), writer)
            if request is None:
                return
            try:
                answer = self._handler(request)
            except Exception as exc:
                self.error = self.error or exc
                answer = Answer.text("fake oauth server bug", 500)
            headers = [
                *answer.headers,
                ("Content-Length", str(len(answer.body))),
                ("Connection", "close"),
            ]
            writer.write(encode_head(answer.status, headers) + answer.body)
            await writer.drain()
        except (HttpParseError, TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
