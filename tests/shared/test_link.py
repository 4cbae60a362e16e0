"""The Redis link: bounded calls, down and up again, one warning per outage, re-sync hooks."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aiproxyapi.config import ConfigError, parse_config
from aiproxyapi.shared import RedisLink, RedisUnavailable
from tests.support.gateway import free_port
from tests.support.redis_server import RedisServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as running:
        yield running


@pytest.fixture
async def link(server: RedisServer) -> AsyncIterator[RedisLink]:
    made = RedisLink(server.url, f"t-{uuid.uuid4().hex[:8]}:", timeout=0.5, probe_max=0.5)
    yield made
    await made.close()


async def until(check: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_the_redis_section_and_its_errors() -> None:
    config = parse_config("redis: {url: 'redis://h:6379/1', key-prefix: 'gw1:'}\n").config
    assert config.redis.enabled
    assert config.redis.key_prefix == "gw1:"
    assert config.redis.timeout_ms == 100
    assert not parse_config("port: 1\n").config.redis.enabled
    assert parse_config("port: 1\n").config.redis.key_prefix == "aiproxyapi:"
    for text, words in (
        ("redis: {url: 'http://h:6379'}", "redis://"),
        ("redis: {url: 'redis://h', key-prefix: ''}", "key-prefix"),
        ("redis: {url: 'redis://h', timeout-ms: 0}", "timeout-ms"),
        ("redis: {url: 'redis://h', colour: red}", "unknown"),
    ):
        with pytest.raises(ConfigError) as bad:
            parse_config(text + "\n")
        assert bad.value.path.startswith("redis"), text
        assert words in bad.value.message, text


async def test_calls_keys_and_pub_sub_while_up(link: RedisLink) -> None:
    seen: list[bytes] = []
    link.subscribe("news", seen.append)
    synced: list[bool] = []

    async def hook() -> None:
        synced.append(link.up)

    link.on_reconnect(hook)
    await link.start()
    assert link.up
    assert synced == [True]
    assert link.key("a", "b") == link.prefix + "a:b"
    await link.call(lambda r: r.set(link.key("k"), b"v"))
    assert await link.call(lambda r: r.get(link.key("k"))) == b"v"
    await until(lambda: link.up)
    # The subscription is live once the hook ran; a publish reaches it.
    assert await link.publish("news", b"hello")
    await until(lambda: seen == [b"hello"])


async def test_a_late_subscription_is_picked_up(link: RedisLink) -> None:
    await link.start()
    seen: list[bytes] = []
    link.subscribe("late", seen.append)
    for _ in range(100):
        await link.publish("late", b"x")
        if seen:
            break
        await asyncio.sleep(0.05)
    assert seen


async def test_down_at_start_then_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    link = RedisLink(f"redis://127.0.0.1:{port}/0", "t:", timeout=0.2, probe_max=0.3)
    synced: list[int] = []

    async def hook() -> None:
        synced.append(1)

    link.on_reconnect(hook)
    caplog.set_level(logging.WARNING, "aiproxyapi.shared")
    try:
        await link.start()
        assert not link.up
        assert synced == []
        started = time.monotonic()
        assert await link.run(lambda r: r.get("x"), "local") == "local"
        with pytest.raises(RedisUnavailable):
            await link.call(lambda r: r.get("x"))
        assert time.monotonic() - started < 0.05, "a down link must not wait on Redis"
        with RedisServer(tmp_path, port=port):
            await until(lambda: link.up)
            assert synced == [1]
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert sum("unreachable" in w for w in warnings) == 1
            assert any("re-synced" in w for w in warnings)
    finally:
        await link.close()


@pytest.mark.invariant(13)
async def test_an_outage_is_seen_once_and_bounded_then_healed(
    server: RedisServer, link: RedisLink, caplog: pytest.LogCaptureFixture
) -> None:
    synced: list[int] = []

    async def hook() -> None:
        synced.append(1)

    link.subscribe("news", lambda _data: None)
    link.on_reconnect(hook)
    await link.start()
    assert link.up
    caplog.set_level(logging.WARNING, "aiproxyapi.shared")
    server.stop()
    # The pub/sub connection drops with the server: the link notices without any call.
    await until(lambda: not link.up)
    assert link.outages == 1
    for _ in range(50):
        started = time.monotonic()
        assert await link.run(lambda r: r.incr(link.key("n")), None) is None
        assert time.monotonic() - started < 0.05
    server.start()
    await until(lambda: link.up and len(synced) == 2)
    assert await link.call(lambda r: r.incr(link.key("n"))) == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("unreachable" in w for w in warnings) == 1, warnings
    assert sum("re-synced" in w for w in warnings) == 1, warnings


async def test_a_hung_redis_costs_one_bounded_call(server: RedisServer, link: RedisLink) -> None:
    await link.start()
    assert link.up
    server.pause()  # connections stay open, nothing answers
    started = time.monotonic()
    assert await link.run(lambda r: r.get(link.key("k")), "local", bound=0.1) == "local"
    assert time.monotonic() - started < 0.5
    assert not link.up
    assert link.errors >= 1
    # Down: the next calls do not even try.
    started = time.monotonic()
    assert await link.run(lambda r: r.get(link.key("k")), "local") == "local"
    assert time.monotonic() - started < 0.05
    server.resume()
    await until(lambda: link.up)


async def test_an_error_redis_answers_does_not_take_the_link_down(link: RedisLink) -> None:
    await link.start()
    await link.call(lambda r: r.set(link.key("s"), b"text"))
    with pytest.raises(RedisUnavailable):
        await link.call(lambda r: r.incr(link.key("s")))  # not an integer: Redis says so
    assert link.up
    assert link.errors == 1


async def test_the_cache_uses_the_shared_link_unless_it_has_its_own_url(
    server: RedisServer, link: RedisLink
) -> None:
    from aiproxyapi.cache import CachedAnswer, build_cache
    from aiproxyapi.config.features import Cache

    await link.start()
    cache = build_cache(Cache(enable=True, ttl_seconds=60), link)
    assert cache is not None
    answer = CachedAnswer(status=200, media_type="application/json", stream=False, chunks=[b"{}"])
    await cache.put("abc", answer)
    assert await cache.get("abc") == answer
    assert await link.call(lambda r: r.exists(link.key("cache", "abc"))) == 1
    await cache.close()  # borrowing the link: closing the cache leaves it open
    assert await link.call(lambda r: r.ttl(link.key("cache", "abc"))) > 0
    own = build_cache(Cache(enable=True, redis_url=server.url, key_prefix="own:"), link)
    assert type(own).__name__ == "RedisCache"
    assert own is not None
    await own.close()
    server.stop()
    assert await cache.get("abc") is None  # down: a miss, never a failure
