"""Listening sockets that take every waiting connection at once, not one per loop turn.

libuv (under uvloop) accepts a single connection each time the listening socket is reported
ready, that is once per event-loop iteration. On a loaded gateway an iteration serves hundreds
of requests, so a burst of new connections (a thousand clients starting together) waits in the
kernel's accept queue for seconds, its first requests with it, while the accepted connections are
served in milliseconds. An `Acceptor` watches the socket itself and accepts until the queue is
empty (at most `backlog` at a time); each connection then becomes a transport of the running loop
through `loop.connect_accepted_socket`, TLS included. Out of file descriptors, it pauses
accepting for a moment instead of spinning.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
from collections.abc import Callable

__all__ = ["Acceptor", "open_acceptors"]

log = logging.getLogger("aiproxyapi.serving")

_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
_PAUSE_WHEN_OUT = 0.5  # seconds without accepting once the process is out of descriptors
_TLS_HANDSHAKE_SECONDS = 60.0  # as `loop.create_server` allows by default


class Acceptor:
    """One listening socket; `close` and `wait_closed` as on an asyncio server."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        *,
        tls: ssl.SSLContext | None,
        backlog: int,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = protocol_factory
        self._tls = tls
        self._backlog = max(1, backlog)
        self._opening: set[asyncio.Task[None]] = set()
        self._closed = False
        self._resume: asyncio.TimerHandle | None = None
        self._warned = False

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        """The listening socket (for the started message)."""
        return (self._sock,)

    def start(self) -> None:
        """Listen, and accept whenever connections wait."""
        self._sock.listen(self._backlog)
        self._loop.add_reader(self._sock.fileno(), self._accept_waiting)

    def close(self) -> None:
        """Stop accepting and close the listening socket; connections in progress go on."""
        if self._closed:
            return
        self._closed = True
        if self._resume is not None:
            self._resume.cancel()
        self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    async def wait_closed(self) -> None:
        """Wait for the connections still being set up (a TLS handshake, say)."""
        if self._opening:
            await asyncio.gather(*self._opening, return_exceptions=True)

    def _accept_waiting(self) -> None:
        for _ in range(self._backlog):
            try:
                conn, _address = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up before we took it
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    self._pause(exc)
                    return
                raise
            conn.setblocking(False)
            task = self._loop.create_task(self._open(conn))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)

    async def _open(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(
                self._factory,
                conn,
                ssl=self._tls,
                ssl_handshake_timeout=_TLS_HANDSHAKE_SECONDS if self._tls else None,
            )
        except OSError:  # TLS and timeout errors included
            conn.close()  # a failed handshake or a peer gone at once: nothing to serve

    def _pause(self, exc: OSError) -> None:
        if not self._warned:
            self._warned = True
            log.warning("cannot accept connections: %s; pausing for %.1f s", exc, _PAUSE_WHEN_OUT)
        self._loop.remove_reader(self._sock.fileno())
        self._resume = self._loop.call_later(_PAUSE_WHEN_OUT, self._unpause)

    def _unpause(self) -> None:
        self._resume = None
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._accept_waiting)


def open_acceptors(
    loop: asyncio.AbstractEventLoop,
    host: str,
    port: int,
    protocol_factory: Callable[[], asyncio.Protocol],
    *,
    tls: ssl.SSLContext | None,
    backlog: int,
) -> list[Acceptor]:
    """Bind every address `host` names (as `loop.create_server` would) and start accepting."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    seen: set[tuple[int, object]] = set()
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise OSError(
                    exc.errno,
                    f"error while attempting to bind on address {address!r}: {exc.strerror}",
                ) from None
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    acceptors = [
        Acceptor(loop, sock, protocol_factory, tls=tls, backlog=backlog) for sock in sockets
    ]
    for acceptor in acceptors:
        acceptor.start()
    return acceptors
