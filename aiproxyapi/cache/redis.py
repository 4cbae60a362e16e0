"""The shared cache: answers in Redis, so every gateway on the same Redis serves them.

redis-py is imported when this backend is built, never by a gateway that does not use it.
Redis that is down or slow makes every request a miss, logged once per outage. On the
gateway's shared link (`redis.url` without a `cache.redis-url`) the link owns the connection,
its outage state and its warning; the cache only borrows it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import msgspec

from aiproxyapi.cache.base import CachedAnswer, ResponseCache

if TYPE_CHECKING:
    from aiproxyapi.shared import RedisLink

__all__ = ["RedisCache"]

log = logging.getLogger("aiproxyapi.cache")

_TIMEOUT = 2.0
_LINK_TIMEOUT = 1.0
"""Bound of one cache call on the shared link: answers can be large."""


class RedisCache(ResponseCache):
    """Answers kept in Redis under a key prefix, expiring after the TTL."""

    def __init__(self, url: str, prefix: str, ttl_seconds: int) -> None:
        import redis.asyncio as aioredis

        self._errors: tuple[type[BaseException], ...] = (aioredis.RedisError, OSError)
        self._client: Any = aioredis.from_url(
            url, socket_timeout=_TIMEOUT, socket_connect_timeout=_TIMEOUT
        )
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._failing = False
        self._decoder = msgspec.msgpack.Decoder(CachedAnswer)

    @classmethod
    def on_link(cls, link: RedisLink, ttl_seconds: int) -> ResponseCache:
        """The cache on the gateway's shared link, its keys under the link's `cache:` prefix."""
        return _LinkedCache(link, ttl_seconds)

    async def get(self, key: str) -> CachedAnswer | None:
        """The answer cached under `key`, or None (also when Redis cannot answer)."""
        try:
            raw = await self._client.get(self._prefix + key)
        except self._errors as exc:
            self._failed(exc)
            return None
        self._failing = False
        if raw is None:
            return None
        try:
            return self._decoder.decode(raw)
        except (msgspec.DecodeError, UnicodeError):
            return None

    async def put(self, key: str, answer: CachedAnswer) -> None:
        """Keep an answer for the TTL; a Redis failure only loses the entry."""
        try:
            await self._client.set(self._prefix + key, msgspec.msgpack.encode(answer), ex=self._ttl)
        except self._errors as exc:
            self._failed(exc)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _failed(self, exc: BaseException) -> None:
        if not self._failing:
            log.warning(
                "response cache: Redis unavailable (%s); serving without it", type(exc).__name__
            )
        self._failing = True


class _LinkedCache(ResponseCache):
    """Answers in the shared Redis, through the gateway's link (which it never closes)."""

    def __init__(self, link: RedisLink, ttl_seconds: int) -> None:
        self._link = link
        self._ttl = ttl_seconds
        self._decoder = msgspec.msgpack.Decoder(CachedAnswer)

    async def get(self, key: str) -> CachedAnswer | None:
        """The answer cached under `key`, or None (also when the link is down)."""
        name = self._link.key("cache", key)
        raw = await self._link.run(lambda r: r.get(name), None, bound=_LINK_TIMEOUT)
        if raw is None:
            return None
        try:
            return self._decoder.decode(raw)
        except msgspec.DecodeError:
            return None

    async def put(self, key: str, answer: CachedAnswer) -> None:
        """Keep an answer for the TTL; a down link only loses the entry."""
        name, data = self._link.key("cache", key), msgspec.msgpack.encode(answer)
        await self._link.run(lambda r: r.set(name, data, ex=self._ttl), None, bound=_LINK_TIMEOUT)
