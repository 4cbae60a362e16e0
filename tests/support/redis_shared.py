"""The machine's Redis for tests that share state through it, each under a prefix of its own.

::

    async with shared_links() as make:
        link = await make()            # a started RedisLink on the machine's Redis
        other = await make()           # a second instance on the same prefix

The prefix is unique per use and its keys are deleted afterwards (by name; never a flush).
Skips when the machine's Redis does not answer (fails instead under CI).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from aiproxyapi.shared import RedisLink
from tests.support.fleet import MACHINE_REDIS, forget_prefix

__all__ = ["REDIS_URL", "drop_prefix", "require_redis", "shared_links", "unique_prefix"]

REDIS_URL = os.environ.get("AIPROXYAPI_TEST_REDIS_URL", MACHINE_REDIS)


def unique_prefix(name: str) -> str:
    """A key prefix no other test uses."""
    return f"t-{name}-{secrets.token_hex(4)}:"


async def require_redis(url: str = REDIS_URL) -> None:
    """Skip when the machine's Redis is down; fail loudly instead when running in CI."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError):
        message = f"Redis is not reachable at {url}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}, but CI must provide it")
        pytest.skip(message)
    finally:
        await client.aclose()


async def drop_prefix(prefix: str, url: str = REDIS_URL) -> None:
    """Delete every key under ``prefix`` (by name: other tests share this Redis)."""
    await asyncio.to_thread(forget_prefix, url, prefix)


@asynccontextmanager
async def shared_links(
    url: str = REDIS_URL, *, prefix: str | None = None, bound: float = 1.0
) -> AsyncIterator[Callable[[], Awaitable[RedisLink]]]:
    """A factory of started links on one prefix; all closed and the prefix dropped at exit."""
    if url == REDIS_URL:
        await require_redis(url)
    prefix = prefix or unique_prefix("shared")
    links: list[RedisLink] = []

    async def make() -> RedisLink:
        link = RedisLink(url, prefix, timeout=bound, probe_min=0.05, probe_max=0.3)
        links.append(link)
        await link.start()
        return link

    try:
        yield make
    finally:
        for link in links:
            await link.close()
        if url == REDIS_URL:
            await drop_prefix(prefix, url)
