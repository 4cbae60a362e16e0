"""The OAuth refresh lock: one instance renews an account's token while the others wait.

`SET NX PX` with a random token takes the lock; a compare-and-delete script releases it, so an
instance whose lease lapsed never frees a lock another instance took since. The lease (60 s)
outlasts a refresh (30 s at most, then storing the record). A failed refresh leaves its reason
(already scrubbed of secrets) in the lock for 15 s, so the instances waiting fail with it
instead of calling the token endpoint again. With Redis down the book refreshes without a
lock, as a single instance does.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiproxyapi.accounts import LockUnavailable
from aiproxyapi.shared.link import RedisLink, RedisUnavailable

__all__ = ["FAILURE_SECONDS", "LEASE_SECONDS", "SharedRefreshLock"]

LEASE_SECONDS = 60.0
FAILURE_SECONDS = 15.0

# KEYS: the lock. ARGV: token, failure ('' for none), how long a failure stays (ms).
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '' then
  return redis.call('DEL', KEYS[1])
end
redis.call('SET', KEYS[1], '!' .. ARGV[2], 'PX', ARGV[3])
return 1
"""


class SharedRefreshLock:
    """The account book's `RefreshLock` on the shared link."""

    def __init__(
        self, link: RedisLink, lease: float = LEASE_SECONDS, failure: float = FAILURE_SECONDS
    ) -> None:
        self._link = link
        self._lease_ms = int(lease * 1000)
        self._failure_ms = int(failure * 1000)
        self._release: Any = link.client.register_script(_RELEASE)

    async def acquire(self, name: str) -> str | None:
        """A token when this instance now holds the lock of `name`, None when another does."""
        token = secrets.token_hex(16)
        key = self._link.key("refresh", name)
        try:
            taken = await self._link.call(lambda r: r.set(key, token, nx=True, px=self._lease_ms))
        except RedisUnavailable:
            raise LockUnavailable from None
        return token if taken else None

    async def release(self, name: str, token: str, failure: str = "") -> None:
        """Free the lock if it is still this token's; after a failure, leave the reason a while."""
        key = self._link.key("refresh", name)
        args = [token, failure[:200], self._failure_ms]
        try:
            await self._link.call(lambda r: self._release(keys=[key], args=args))
        except RedisUnavailable:
            raise LockUnavailable from None

    async def held(self, name: str) -> str | None:
        """None when free, "" while a refresh runs, else the reason of one that just failed."""
        key = self._link.key("refresh", name)
        try:
            value = await self._link.call(lambda r: r.get(key))
        except RedisUnavailable:
            raise LockUnavailable from None
        if value is None:
            return None
        text = value.decode("utf-8", "replace")
        if not text.startswith("!"):
            return ""
        return text[1:] or "refresh failed"
