"""Usage totals of every instance, added up in Redis: what ``GET /usage`` reports in a cluster.

Each instance keeps its own :class:`UsageBook` (persisted per instance, as without Redis) and
adds what it counts into Redis hashes, one per bucket: ``<prefix>usage:totals`` and
``<prefix>usage:<dimension>:<name>`` for client, model, provider, credential, UTC day and UTC
hour, each with the :class:`Tally` counters as fields, plus one index set per dimension. A
request only bumps an in-memory delta; a background loop sends the delta every ``interval``
as one batch (HINCRBY / HINCRBYFLOAT in one script) that Redis applies at most once: a push
that timed out is sent again under the same id, so a delta is never lost and never counted
twice. While Redis is down the deltas pile up locally and go out when it answers again.

Redis holds this instance's share once it is *seeded*: at the first push (or after Redis lost
its data) the instance sends its whole book under its own seed mark instead of the delta, so
the cluster totals are the sum of every live instance's book.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from pathlib import Path
from typing import Any

from aiproxyapi.shared import RedisLink, RedisUnavailable
from aiproxyapi.shared.once import APPLY_ONCE, UNSEEDED, Op, apply_once
from aiproxyapi.usage.aggregate import Tally, UsageBook, UsageSnapshot
from aiproxyapi.usage.record import UsageRecord
from storage.atomic import write_atomic

__all__ = ["ClusterUsage", "instance_id_at"]

log = logging.getLogger("aiproxyapi.usage")

_DIMENSIONS = ("client", "model", "provider", "credential", "day", "hour")
_INTS = (
    "requests",
    "successes",
    "failures",
    "input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cached_tokens",
    "total_tokens",
)
_FLOATS = ("latency_ms_total", "cost_usd")
_BATCH_TTL = 7 * 86400
_MAX_HOURS = 24 * 31


def instance_id_at(path: Path) -> str:
    """This instance's name kept in ``path`` (made on first use), for stores without one."""
    with contextlib.suppress(FileNotFoundError):
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text
    name = secrets.token_hex(8)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, name.encode("ascii"), mode=0o600)
    return name


def _delta() -> UsageBook:
    return UsageBook(recent_limit=0, max_hours=24 * 366)


def _buckets(snapshot: UsageSnapshot) -> list[tuple[str, dict[str, Tally]]]:
    return [
        ("client", snapshot.by_client),
        ("model", snapshot.by_model),
        ("provider", snapshot.by_provider),
        ("credential", snapshot.by_credential),
        ("day", snapshot.by_day),
        ("hour", snapshot.by_hour),
    ]


def _number(value: Any) -> float:
    return float(value.decode() if isinstance(value, bytes) else value)


def _tally(fields: dict[Any, Any]) -> Tally:
    values = {
        (name.decode() if isinstance(name, bytes) else str(name)): value
        for name, value in fields.items()
    }
    tally = Tally()
    for name in _INTS:
        if name in values:
            setattr(tally, name, int(_number(values[name])))
    for name in _FLOATS:
        if name in values:
            setattr(tally, name, _number(values[name]))
    return tally


class ClusterUsage:
    """This instance's share of the cluster's usage, and the cluster's totals read back."""

    def __init__(
        self,
        link: RedisLink,
        book: UsageBook,
        instance: str,
        *,
        interval: float = 1.0,
        bound: float = 2.0,
    ) -> None:
        self._link = link
        self._book = book
        self._interval = interval
        self._bound = bound
        self._seeded = link.key("usage", "seeded", instance)
        self._script = link.client.register_script(APPLY_ONCE)
        self._pending = _delta()
        self._has_pending = False
        self._batch: tuple[str, UsageSnapshot] | None = None
        """The delta being sent, under the id Redis remembers it by."""
        self._seeding: UsageSnapshot | None = None
        """The whole book being sent as this instance's share, when Redis lacks it."""
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        link.on_reconnect(self._reconnected)

    def add(self, record: UsageRecord) -> None:
        """Count one finished request for the next push (O(1), no I/O)."""
        self._pending.add(record)
        self._has_pending = True
        self._wake.set()

    def merge_snapshot(self, snapshot: UsageSnapshot) -> None:
        """Add counts merged into the book (an import) to the next push."""
        self._pending.merge_snapshot(snapshot)
        self._has_pending = True
        self._wake.set()

    @property
    def owed(self) -> bool:
        """Whether counts wait to reach Redis."""
        return self._has_pending or self._batch is not None or self._seeding is not None

    async def flush(self) -> bool:
        """Send what is pending; True when Redis has all of it."""
        async with self._lock:
            try:
                while self.owed:
                    if self._seeding is not None:
                        await self._seed(self._seeding)
                        self._seeding = None
                        continue
                    if self._batch is None:
                        self._batch = (secrets.token_hex(8), self._pending.snapshot())
                        self._pending, self._has_pending = _delta(), False
                    batch_id, delta = self._batch
                    marker = self._link.key("usage", "batch", batch_id)
                    sent = await apply_once(
                        self._link,
                        self._script,
                        marker,
                        self._seeded,
                        self._ops(delta),
                        marker_ttl=_BATCH_TTL,
                        bound=self._bound,
                    )
                    if sent == UNSEEDED:
                        # Redis lacks this instance's share: send the whole book instead, which
                        # holds this batch and everything pending (taken together, no await).
                        self._seeding = self._book.snapshot()
                        self._pending, self._has_pending = _delta(), False
                    self._batch = None
            except RedisUnavailable:
                return False
            return True

    async def _seed(self, whole: UsageSnapshot) -> None:
        """Give Redis this instance's share; a retry of the same seed is applied once too."""
        await apply_once(
            self._link,
            self._script,
            self._seeded,
            self._seeded,
            self._ops(whole),
            marker_ttl=0,
            bound=self._bound,
        )

    def _ops(self, snapshot: UsageSnapshot) -> list[Op]:
        ops: list[Op] = []
        self._tally_ops(ops, self._link.key("usage", "totals"), snapshot.totals)
        for dimension, buckets in _buckets(snapshot):
            index = self._link.key("usage", "index", dimension)
            for name, tally in buckets.items():
                self._tally_ops(ops, self._link.key("usage", dimension, name), tally)
                ops.append(("s", index, name, 0, 0))
        return ops

    @staticmethod
    def _tally_ops(ops: list[Op], key: str, tally: Tally) -> None:
        for name in _INTS:
            value = getattr(tally, name)
            if value:
                ops.append(("hi", key, name, int(value), 0))
        for name in _FLOATS:
            value = getattr(tally, name)
            if value:
                ops.append(("hf", key, name, repr(float(value)), 0))

    async def read(self) -> UsageSnapshot | None:
        """The cluster's totals (this instance's recent records); None while Redis is down."""
        if not self._link.up:
            return None
        try:
            listing, values = await self._link.call(self._fetch, bound=self._bound)
        except RedisUnavailable:
            return None
        buckets: dict[str, dict[str, Tally]] = {dimension: {} for dimension in _DIMENSIONS}
        for (dimension, name), fields in zip(listing, values[1:], strict=True):
            if fields:
                buckets[dimension][name] = _tally(fields)
        hours = dict(sorted(buckets["hour"].items())[-_MAX_HOURS:])
        return UsageSnapshot(
            totals=_tally(values[0] or {}),
            by_client=buckets["client"],
            by_model=buckets["model"],
            by_provider=buckets["provider"],
            by_credential=buckets["credential"],
            by_day=dict(sorted(buckets["day"].items())),
            by_hour=hours,
            recent=self._book.snapshot().recent,
        )

    async def _fetch(self, client: Any) -> tuple[list[tuple[str, str]], list[Any]]:
        """The bucket names, then every bucket in one transaction (a consistent read)."""
        names = client.pipeline(transaction=False)
        for dimension in _DIMENSIONS:
            names.smembers(self._link.key("usage", "index", dimension))
        members = await names.execute()
        listing = [
            (dimension, member.decode() if isinstance(member, bytes) else str(member))
            for dimension, found in zip(_DIMENSIONS, members, strict=True)
            for member in sorted(found)
        ]
        tallies = client.pipeline(transaction=True)
        tallies.hgetall(self._link.key("usage", "totals"))
        for dimension, name in listing:
            tallies.hgetall(self._link.key("usage", dimension, name))
        return listing, await tallies.execute()

    async def run(self) -> None:
        """Push at most once per ``interval`` while there is something to push, until cancelled."""
        while True:
            await self._wake.wait()
            await asyncio.sleep(self._interval)
            self._wake.clear()
            if not await self.flush():
                self._wake.set()  # still owed: try again next round (the link probes meanwhile)

    async def _reconnected(self) -> None:
        """The link's reconnect hook: what the outage counted goes out now."""
        if self.owed:
            await self.flush()
