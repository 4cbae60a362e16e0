"""uvicorn's HTTP/1.1 protocol with the deadlines it lacks: header read, body read, stalled reader.

uvicorn times out idle keep-alive connections only, and any byte cancels that timer; a client
trickling a header a byte at a time (slowloris) would hold its connection forever. Here every
request's header block must arrive within a deadline counted from its first byte (or from the
connection's opening), and its body within a second deadline counted from the end of the
headers: a body trickled slowly, or a `Content-Length` larger than what is sent, ends there.
And a client whose socket stays full (it reads nothing) for too long is aborted: uvicorn
already stops writing while the transport is paused, so the stream waits, the upstream read
waits, and this timer ends the wait. Each costs one timer per event, none per chunk.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ConnectionLimits", "guarded_protocol"]

log = logging.getLogger("aiproxyapi.serving")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """Deadlines for one connection, read when it opens (so a reload applies to new ones)."""

    header_seconds: float
    stalled_reader_seconds: float
    body_seconds: float = 60.0


def guarded_protocol(limits: Callable[[], ConnectionLimits]) -> type[asyncio.Protocol]:
    """The protocol class uvicorn builds per connection, reading its deadlines from `limits`."""

    class Guarded(_GuardedProtocol):
        current_limits = staticmethod(limits)

    return Guarded


def _yielding_send(cycle: Any) -> Callable[[Any], Awaitable[None]]:
    """The cycle's send, yielding to the loop once the client is gone.

    uvicorn drops what is sent after a disconnect without suspending, so a stream reading a
    fast upstream would never reach an await: the app's disconnect watcher would not run and
    the upstream would be read to its end. One yield per send lets the watcher cancel it.
    """
    # The cycle holds this function as its `send`, so the function holds the cycle only weakly:
    # a strong reference would make every request a reference cycle, kept (with its scope,
    # buffers and upstream response) until the garbage collector's rare full pass.
    cycle_ref = weakref.ref(cycle)
    send = type(cycle).send

    async def yielding(message: Any) -> None:
        current = cycle_ref()
        if current is None:
            return
        if current.disconnected:
            await asyncio.sleep(0)
        await send(current, message)

    return yielding


class _GuardedProtocol(HttpToolsProtocol):
    current_limits: Callable[[], ConnectionLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = self.current_limits()
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._stall_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().on_headers_complete()
        cycle = getattr(self, "cycle", None)
        if cycle is not None:
            # Read when the app task starts, which happens after this returns.
            cycle.send = _yielding_send(cycle)
        # Cancelled by on_message_complete, which for a body-less request follows at once.
        if self._body_timer is None:
            self._body_timer = self.loop.call_later(self._limits.body_seconds, self._body_too_slow)

    def on_message_complete(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stall_timer is None:
            self._stall_timer = self.loop.call_later(
                self._limits.stalled_reader_seconds, self._reader_stalled
            )

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def _arm_header_deadline(self) -> None:
        self._header_timer = self.loop.call_later(
            self._limits.header_seconds, self._headers_too_slow
        )

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.info("closing a connection whose request headers did not arrive in time")
            self.transport.close()

    def _body_too_slow(self) -> None:
        self._body_timer = None
        if not self.transport.is_closing():
            log.info("closing a connection whose request body did not arrive in time")
            self.transport.close()

    def _reader_stalled(self) -> None:
        self._stall_timer = None
        if not self.transport.is_closing():
            log.warning("closing a connection whose client stopped reading the response")
            # close() would wait to flush a buffer this client never reads.
            self.transport.abort()

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._body_timer, self._stall_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = self._stall_timer = None
