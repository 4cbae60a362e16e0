"""The response cache: identical requests answered without an upstream call.

Its place in the flow: after admission and before the relay, the API layer computes the
request's :func:`cache_key` and asks the :class:`ResponseCache`; a hit is replayed (a stream
as a stream, byte for byte), a miss goes to the relay and its answer is kept once it has
completed successfully. Backends: :class:`MemoryCache` (LRU with a TTL, bounded by entries and
bytes) and :class:`RedisCache` (redis-py asyncio, imported only when configured).
"""

from aiproxyapi.cache.base import CachedAnswer, ResponseCache, build_cache, cache_key
from aiproxyapi.cache.memory import MemoryCache

__all__ = ["CachedAnswer", "MemoryCache", "ResponseCache", "build_cache", "cache_key"]
