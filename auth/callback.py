"""The local callback server of authorization-code flows: one GET on 127.0.0.1, then done.

The provider redirects the browser to ``http://localhost:<port><path>?code=..&state=..``; the
server hands the full URL to the flow, which checks it, and answers the browser with a short
page saying whether to go back to the terminal. Other paths get 404; nothing is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import html
from collections.abc import Callable

from auth.errors import AuthFlowError

__all__ = ["CallbackServer"]

_MAX_HEAD = 16 * 1024
_READ_TIMEOUT = 10.0

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family:sans-serif;margin:3em"><h1>{title}</h1><p>{text}</p></body></html>"""


class CallbackServer:
    """Listen on 127.0.0.1:port for the redirect; ``on_callback(url)`` returns an error or None."""

    def __init__(self, port: int, path: str, on_callback: Callable[[str], str | None]) -> None:
        self.port = port
        self.path = path
        self._on_callback = on_callback
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Bind the port; AuthFlowError saying what to do when it is taken."""
        try:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise AuthFlowError(
                    f"cannot listen for the login callback on 127.0.0.1:{self.port} "
                    f"({exc.strerror}); stop what uses the port or pass --oauth-callback-port N"
                ) from None
            raise AuthFlowError(f"cannot start the callback server: {exc.strerror}") from None
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            return
        line = head[:_MAX_HEAD].split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "GET":
            await self._answer(
                writer, 405, "Not allowed", "Only the login redirect is served here."
            )
            return
        target = parts[1]
        if target.split("?", 1)[0] != self.path:
            await self._answer(writer, 404, "Not found", "This is the login callback server.")
            return
        problem = self._on_callback(f"http://localhost:{self.port}{target}")
        if problem is None:
            await self._answer(
                writer, 200, "Login complete", "You can close this window and go back."
            )
        else:
            await self._answer(writer, 400, "Login failed", problem)

    async def _answer(
        self, writer: asyncio.StreamWriter, status: int, title: str, text: str
    ) -> None:
        body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode()
        head = (
            f"HTTP/1.1 {status} {title}\r\nContent-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            writer.write(head.encode("latin-1") + body)
            await writer.drain()
