"""Round-robin cursors shared by every instance: one Redis INCR per pick that has a choice.

With the cursor in Redis, picks of all instances interleave as if one gateway made them, so
credentials of a tier take equal turns across the fleet. One round trip on the request path,
bounded by the link's timeout; while the link is down the pool's local cursor serves. Only
plain round-robin is shared: weighted round-robin keeps a score per candidate that would cost
a script per pick, and the cheapest strategy's tie turns stay per instance too.
"""

from __future__ import annotations

from aiproxyapi.shared.link import RedisLink

__all__ = ["SharedCursors"]


class SharedCursors:
    """The pool's `TurnSource` on the shared link."""

    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._keys: dict[str, str] = {}

    async def next_turn(self, cursor: str) -> int | None:
        """The cursor's next turn (0, 1, 2, ... across instances); None while Redis is down."""
        if not self._link.up:
            return None
        key = self._keys.get(cursor)
        if key is None:
            if len(self._keys) > 10_000:  # cursors are model names of the config: bounded
                self._keys.clear()
            key = self._keys[cursor] = self._link.key("rr", cursor)
        value = await self._link.run(lambda r: r.incr(key), None)
        return None if value is None else int(value) - 1
