"""Fills in flight: an identical call that misses waits, bounded, for the answer being kept."""

from __future__ import annotations

import asyncio

from aiproxyapi.cache import CachedAnswer
from aiproxyapi.cache.base import Fills
from aiproxyapi.cache.memory import MemoryCache

ANSWER = CachedAnswer(200, "text/event-stream", True, [b"data: [DONE]\n\n"])


async def test_a_miss_waits_for_the_fill_in_flight_and_then_finds_the_answer() -> None:
    cache = MemoryCache(max_entries=10, max_bytes=1 << 20, ttl=60)
    cache.fills.start("k")

    async def finish_first_call() -> None:
        await asyncio.sleep(0.05)
        await cache.put("k", ANSWER)
        cache.fills.end("k")

    finishing = asyncio.create_task(finish_first_call())
    assert await cache.get("k") is None
    assert await cache.fills.wait("k", 5.0) is True
    assert await cache.get("k") == ANSWER
    await finishing


async def test_without_a_fill_nothing_waits() -> None:
    assert await Fills().wait("absent", 5.0) is False


async def test_a_fill_that_never_ends_holds_a_caller_only_for_the_bound() -> None:
    fills = Fills()
    fills.start("k")
    assert await fills.wait("k", 0.01) is False


async def test_a_stale_fill_is_forgotten() -> None:
    fills = Fills()
    fills.start("k")
    event, started = fills._open["k"]
    fills._open["k"] = (event, started - Fills.STALE - 1)
    assert await fills.wait("k", 5.0) is False
    assert "k" not in fills._open
