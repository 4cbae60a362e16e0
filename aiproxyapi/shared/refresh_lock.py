"""The OAuth refresh lock: one instance renews an account's token while the others wait.

`SET NX PX` with a random token takes the lock; a compare-and-delete script releases it, so an
instance whose lease lapsed never frees a lock another instance took since. The lease (60 s)
outlasts a refresh (30 s at most, then storing the record). With Redis down the book refreshes
without a lock, as a single instance does.
"""

from __future__ import annotations

import secrets
from typing import Any

from aiproxyapi.accounts import LockUnavailable
from aiproxyapi.shared.link import RedisLink, RedisUnavailable

__all__ = ["LEASE_SECONDS", "SharedRefreshLock"]

LEASE_SECONDS = 60.0

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class SharedRefreshLock:
    """The account book's `RefreshLock` on the shared link."""

    def __init__(self, link: RedisLink, lease: float = LEASE_SECONDS) -> None:
        self._link = link
        self._lease_ms = int(lease * 1000)
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

    async def release(self, name: str, token: str) -> None:
        """Delete the lock if it is still this token's."""
        key = self._link.key("refresh", name)
        try:
            await self._link.call(lambda r: self._release(keys=[key], args=[token]))
        except RedisUnavailable:
            raise LockUnavailable from None

    async def held(self, name: str) -> bool:
        """Whether some instance holds the lock of `name`."""
        key = self._link.key("refresh", name)
        try:
            return bool(await self._link.call(lambda r: r.exists(key)))
        except RedisUnavailable:
            raise LockUnavailable from None
