"""One change feed shared by every ``changes()`` iterator of a store.

A backend that polls (Git, S3) keeps one picture of what it has seen; two pollers on that
picture would split the changes between them. :class:`Fanout` runs a single producer while
anyone listens and hands each change to every subscriber's own queue, so each iterator sees
every change. A slow subscriber loses its oldest notice rather than holding the others up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from storage.base import Change

__all__ = ["Fanout"]

log = logging.getLogger("aiproxyapi.storage")

_QUEUE_MAX = 1000


class Fanout:
    """Runs ``produce()`` once for all subscribers; it ends their iteration when it ends."""

    def __init__(self, produce: Callable[[], AsyncIterator[Change]]) -> None:
        self._produce = produce
        self._subscribers: set[asyncio.Queue[Change | None]] = set()
        self._task: asyncio.Task[None] | None = None

    async def subscribe(self) -> AsyncIterator[Change]:
        """Every change the producer yields from now on, until it ends."""
        queue: asyncio.Queue[Change | None] = asyncio.Queue(maxsize=_QUEUE_MAX)
        self._subscribers.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._pump(), name="store-changes")
        try:
            while (change := await queue.get()) is not None:
                yield change
        finally:
            self._subscribers.discard(queue)
            if not self._subscribers and self._task is not None and not self._task.done():
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task

    async def _pump(self) -> None:
        try:
            async for change in self._produce():
                for queue in self._subscribers:
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(change)
        except Exception as exc:  # subscribers see the feed end and subscribe again later
            log.warning("storage: change feed stopped: %s: %s", type(exc).__name__, exc)
        finally:
            for queue in self._subscribers:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(None)
