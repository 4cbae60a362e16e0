"""The background refresher: renews every token that is due, ahead of its expiry.

Every few seconds the book is asked which accounts are due (expiry minus the provider's lead
time, or a backoff after a failure); each due account is refreshed by a bounded set of workers.
Failures are already handled by the book (error state, backoff), so the loop only keeps going.
"""

from __future__ import annotations

import asyncio
import logging

from aiproxyapi.accounts.book import AccountBook, RefreshFailed

__all__ = ["TICK_SECONDS", "run_refresher"]

log = logging.getLogger("aiproxyapi.accounts")

TICK_SECONDS = 5.0
WORKERS = 16


async def run_refresher(
    book: AccountBook, *, tick: float = TICK_SECONDS, workers: int = WORKERS
) -> None:
    """Run until cancelled."""
    slots = asyncio.Semaphore(workers)
    running: set[asyncio.Task[None]] = set()
    queued: set[str] = set()

    async def renew(name: str) -> None:
        try:
            async with slots:
                await book.refresh(name, "due before expiry")
        except RefreshFailed:
            pass  # the book logged it and scheduled the retry
        finally:
            queued.discard(name)

    try:
        while True:
            for name in book.due():
                if name in queued:
                    continue
                queued.add(name)
                task = asyncio.create_task(renew(name), name=f"refresh:{name}")
                running.add(task)
                task.add_done_callback(running.discard)
            await asyncio.sleep(tick)
    finally:
        for task in running:
            task.cancel()
