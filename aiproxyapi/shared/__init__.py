"""Shared state: what several gateway instances behind one load balancer keep in Redis.

Beside the request flow, under the pool and the accounts: with a `redis` section the gateway
opens one :class:`RedisLink`; cooldowns, round-robin cursors and the OAuth refresh lock go
through it, each keeping its local state as the fallback. Redis is never a single point of
failure: a call that fails or is slow takes the link down, traffic goes on with each
instance's own state, and every subsystem re-syncs when the link comes back.
"""

from aiproxyapi.pool import PoolState
from aiproxyapi.shared.cooldowns import SharedCooldowns
from aiproxyapi.shared.cursors import SharedCursors
from aiproxyapi.shared.link import Handler, Hook, RedisLink, RedisUnavailable
from aiproxyapi.shared.refresh_lock import SharedRefreshLock

__all__ = [
    "Handler",
    "Hook",
    "RedisLink",
    "RedisUnavailable",
    "SharedCooldowns",
    "SharedCursors",
    "SharedRefreshLock",
    "share_pool",
]


def share_pool(link: RedisLink, state: PoolState) -> SharedCooldowns:
    """Make the pool's rests and round-robin turns those of every instance on `link`."""
    state.turns = SharedCursors(link)
    return SharedCooldowns(link, state)
