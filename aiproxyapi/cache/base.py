"""The cache contract, the cached answer, and the key of a request."""

from __future__ import annotations

import abc
import asyncio
import hashlib
import time
from typing import TYPE_CHECKING, Any

import msgspec

from aiproxyapi.config.features import Cache, CacheScope

if TYPE_CHECKING:
    from aiproxyapi.shared import RedisLink

__all__ = ["CachedAnswer", "Fills", "ResponseCache", "build_cache", "cache_key"]

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


class Fills:
    """The answers this instance is fetching to cache, so an identical call can wait for one.

    A client that has read a stream's last event may ask again before the stream's end reached
    the gateway and the answer was kept; that call waits (bounded) for the fill in flight
    instead of going upstream a second time. An entry left behind is ignored after `STALE`.
    """

    STALE = 300.0

    def __init__(self) -> None:
        self._open: dict[str, tuple[asyncio.Event, float]] = {}

    def start(self, key: str) -> None:
        """A call that will keep its answer under `key` is on its way upstream."""
        if key not in self._open:
            self._open[key] = (asyncio.Event(), time.monotonic())

    def end(self, key: str) -> None:
        """The call is over, its answer kept or not; whoever waits looks again."""
        entry = self._open.pop(key, None)
        if entry is not None:
            entry[0].set()

    async def wait(self, key: str, bound: float) -> bool:
        """Wait up to `bound` seconds for the fill of `key`; False when there is none."""
        entry = self._open.get(key)
        if entry is None:
            return False
        event, started = entry
        if time.monotonic() - started > self.STALE:
            self._open.pop(key, None)
            return False
        try:
            await asyncio.wait_for(event.wait(), bound)
        except TimeoutError:
            return False
        return True


class ResponseCache(abc.ABC):
    """Where cached answers live; a backend failure is a miss, never a failed request."""

    _fills: Fills | None = None

    @property
    def fills(self) -> Fills:
        """The fills in flight on this instance (not shared: another instance just misses)."""
        if self._fills is None:
            self._fills = Fills()
        return self._fills

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
