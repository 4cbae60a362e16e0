"""The shared cache: answers in Redis, so every gateway on the same Redis serves them.

redis-py is imported when this backend is built, never by a gateway that does not use it.
Redis that is down or slow makes every request a miss, logged once per outage.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from aiproxyapi.cache.base import CachedAnswer, ResponseCache

__all__ = ["RedisCache"]

log = logging.getLogger("aiproxyapi.cache")

_TIMEOUT = 2.0


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
