"""The in-process cache: least recently used first out, bounded by entries and bytes, with a TTL."""

from __future__ import annotations

import time
from collections import OrderedDict

from aiproxyapi.cache.base import CachedAnswer, ResponseCache

__all__ = ["MemoryCache"]


class MemoryCache(ResponseCache):
    """Answers kept in this process; evicts the least recently used past either bound."""

    def __init__(self, *, max_entries: int, max_bytes: int, ttl: float) -> None:
        self._entries: OrderedDict[str, tuple[float, CachedAnswer]] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._ttl = ttl
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        """Bytes held by the cached answers."""
        return self._bytes

    async def get(self, key: str) -> CachedAnswer | None:
        """The answer cached under `key`, or None (an expired one is dropped)."""
        found = self._entries.get(key)
        if found is None:
            return None
        expires, answer = found
        if expires <= time.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return answer

    async def put(self, key: str, answer: CachedAnswer) -> None:
        """Keep an answer; one larger than the whole byte bound is not kept."""
        if answer.size > self._max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (time.monotonic() + self._ttl, answer)
        self._bytes += answer.size
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        _expires, answer = self._entries.pop(key)
        self._bytes -= answer.size
