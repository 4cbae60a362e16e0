"""Failed management logins per address: five in a row ban the address for 30 minutes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["BAN_SECONDS", "MAX_FAILURES", "FailureBans"]

MAX_FAILURES = 5
BAN_SECONDS = 30 * 60
# Past this many tracked addresses, expired entries are swept on the next failure.
_SWEEP_AT = 1024


@dataclass(slots=True)
class _Entry:
    failures: int = 0
    banned_until: float = 0.0
    last_seen: float = 0.0


class FailureBans:
    """Consecutive failures and bans, per caller address; loopback callers included."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, _Entry] = {}

    def remaining(self, address: str) -> float:
        """Seconds the address is still banned (0 when it is not)."""
        entry = self._entries.get(address)
        if entry is None:
            return 0.0
        return max(0.0, entry.banned_until - self._clock())

    def failed(self, address: str) -> None:
        """Count a wrong key; the fifth in a row starts a ban."""
        now = self._clock()
        if len(self._entries) >= _SWEEP_AT:
            self._sweep(now)
        entry = self._entries.setdefault(address, _Entry())
        if entry.banned_until and entry.banned_until <= now:
            entry.failures, entry.banned_until = 0, 0.0
        entry.failures += 1
        entry.last_seen = now
        if entry.failures >= MAX_FAILURES:
            entry.banned_until = now + BAN_SECONDS

    def succeeded(self, address: str) -> None:
        """A right key clears the address's count."""
        self._entries.pop(address, None)

    def _sweep(self, now: float) -> None:
        stale = [
            address
            for address, entry in self._entries.items()
            if entry.banned_until <= now and now - entry.last_seen > BAN_SECONDS
        ]
        for address in stale:
            del self._entries[address]
