"""The in-memory response cache: LRU eviction by entries and bytes, expiry, the request key."""

from __future__ import annotations

import time

import pytest

from aiproxyapi.cache import CachedAnswer, MemoryCache, cache_key
from aiproxyapi.cache.redis import RedisCache
from aiproxyapi.config.features import Cache, CacheScope


def answer(size: int) -> CachedAnswer:
    return CachedAnswer(200, "application/json", False, [b"x" * size])


async def test_least_recently_used_goes_first() -> None:
    cache = MemoryCache(max_entries=2, max_bytes=1000, ttl=60)
    await cache.put("a", answer(1))
    await cache.put("b", answer(1))
    assert await cache.get("a") is not None  # a is now the most recent
    await cache.put("c", answer(1))
    assert await cache.get("b") is None
    assert await cache.get("a") is not None
    assert len(cache) == 2


async def test_bytes_bound_evicts_and_refuses_oversized() -> None:
    cache = MemoryCache(max_entries=10, max_bytes=100, ttl=60)
    await cache.put("a", answer(60))
    await cache.put("b", answer(60))
    assert await cache.get("a") is None
    assert cache.bytes == 60
    await cache.put("huge", answer(101))
    assert await cache.get("huge") is None
    assert await cache.get("b") is not None


async def test_entries_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = MemoryCache(max_entries=10, max_bytes=100, ttl=5)
    await cache.put("a", answer(1))
    later = time.monotonic() + 6
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert await cache.get("a") is None
    assert len(cache) == 0


def test_the_key_follows_what_shapes_the_answer() -> None:
    settings = Cache(enable=True)
    base = {
        "client": "k1",
        "dialect": "openai",
        "model": "m",
        "resolved": "m",
        "stream": False,
        "sse": True,
    }
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}
    key = cache_key(settings, body=body, **base)  # type: ignore[arg-type]
    reordered = {"temperature": 0, "messages": body["messages"], "model": "m", "user": "someone"}
    assert cache_key(settings, body=reordered, **base) == key  # type: ignore[arg-type]
    assert cache_key(settings, body={**body, "temperature": 1}, **base) != key  # type: ignore[arg-type]
    assert cache_key(settings, body=body, **{**base, "stream": True}) != key  # type: ignore[arg-type]
    assert cache_key(settings, body=body, **{**base, "client": "k2"}) != key  # type: ignore[arg-type]
    shared = Cache(enable=True, scope=CacheScope.SHARED)
    assert cache_key(shared, body=body, **base) == cache_key(
        shared, body=body, **{**base, "client": "k2"}
    )  # type: ignore[arg-type]


@pytest.mark.invariant(13)
async def test_redis_down_is_a_miss_not_a_failure() -> None:
    from tests.support.gateway import free_port

    cache = RedisCache(f"redis://127.0.0.1:{free_port()}/0", "t:", 60)
    try:
        await cache.put("a", answer(1))
        assert await cache.get("a") is None
    finally:
        await cache.close()
