"""The cache contract, the cached answer, and the key of a request."""

from __future__ import annotations

import abc
import hashlib
from typing import TYPE_CHECKING, Any

import msgspec

from aiproxyapi.config.features import Cache, CacheScope

if TYPE_CHECKING:
    from aiproxyapi.shared import RedisLink

__all__ = ["CachedAnswer", "ResponseCache", "build_cache", "cache_key"]

# Fields that say who asks or how to bill, never what the answer is.
_NOISE = frozenset({"user", "metadata", "safety_identifier", "prompt_cache_key", "store"})


class CachedAnswer(msgspec.Struct, frozen=True):
    """A complete successful answer as the client received it."""

    status: int
    media_type: str
    stream: bool
    chunks: list[bytes]

    @property
    def size(self) -> int:
        """Bytes the answer holds."""
        return sum(len(chunk) for chunk in self.chunks)


class ResponseCache(abc.ABC):
    """Where cached answers live; a backend failure is a miss, never a failed request."""

    @abc.abstractmethod
    async def get(self, key: str) -> CachedAnswer | None:
        """The answer cached under `key`, or None."""

    @abc.abstractmethod
    async def put(self, key: str, answer: CachedAnswer) -> None:
        """Keep an answer under `key` for the configured time."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def cache_key(
    settings: Cache,
    *,
    client: str,
    dialect: str,
    model: str,
    resolved: str,
    stream: bool,
    sse: bool,
    body: dict[str, Any],
) -> str:
    """The digest of everything that shapes the answer: scope, dialect, models, framing, body."""
    scope = client if settings.scope is CacheScope.PER_KEY else "*"
    kept = {name: value for name, value in body.items() if name not in _NOISE}
    head = msgspec.json.encode([scope, dialect, model, resolved, stream, sse])
    digest = hashlib.sha256(head)
    digest.update(b"\n")
    digest.update(msgspec.json.encode(kept, order="sorted"))
    return digest.hexdigest()


def build_cache(settings: Cache, link: RedisLink | None = None) -> ResponseCache | None:
    """The cache a config asks for, or None when it is off.

    Its own `redis-url` wins; else, with the gateway's shared link, the answers live there.
    """
    if not settings.enable:
        return None
    if settings.redis_url:
        from aiproxyapi.cache.redis import RedisCache

        return RedisCache(settings.redis_url, settings.key_prefix, settings.ttl_seconds)
    if link is not None:
        from aiproxyapi.cache.redis import RedisCache

        return RedisCache.on_link(link, settings.ttl_seconds)
    from aiproxyapi.cache.memory import MemoryCache

    return MemoryCache(
        max_entries=settings.max_entries,
        max_bytes=settings.max_bytes,
        ttl=float(settings.ttl_seconds),
    )
