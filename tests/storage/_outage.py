"""Outage helpers for storage tests: a listener that never answers, and a loop-stall gauge."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

__all__ = ["LoopGauge", "loop_gauge", "silent_listener"]


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A 127.0.0.1 port whose connections complete (kernel backlog) but never get a byte back."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # never accepted: clients connect, send, and wait forever
        yield sock.getsockname()[1]
    finally:
        sock.close()


class LoopGauge:
    """The longest gap between ticks of a coroutine that asks to wake every 10 ms."""

    def __init__(self) -> None:
        self.ticks = 0
        self.worst = 0.0


@contextlib.asynccontextmanager
async def loop_gauge() -> AsyncIterator[LoopGauge]:
    """Measure how long the event loop was ever kept from running a ready coroutine."""
    gauge = LoopGauge()
    loop = asyncio.get_running_loop()

    async def tick() -> None:
        last = loop.time()
        while True:
            await asyncio.sleep(0.01)
            now = loop.time()
            gauge.worst = max(gauge.worst, now - last)
            gauge.ticks += 1
            last = now

    task = asyncio.create_task(tick())
    try:
        yield gauge
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
