"""The usage book: running totals per client, model, provider, credential, day and hour.

Every record lands in O(1): one :class:`Tally` per dimension is bumped and the record joins a
bounded list of recent ones. :meth:`UsageBook.snapshot` copies the state into a
:class:`UsageSnapshot`, which is both the ``GET /usage`` body and the persisted form, and
:meth:`UsageBook.merge_snapshot` adds one back in.
"""

from __future__ import annotations

import copy
import functools
from collections import deque
from datetime import UTC, datetime

import msgspec

from aiproxyapi.usage.record import UsageRecord

__all__ = ["Tally", "UsageBook", "UsageSnapshot", "day_key", "hour_key"]


class Tally(msgspec.Struct, kw_only=True):
    """Counters for one bucket of requests; mutable, bumped in place."""

    requests: int = 0
    successes: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0
    latency_ms_total: float = 0.0
    """Sum of latencies; divide by ``requests`` for the mean."""
    cost_usd: float = 0.0

    def add(self, record: UsageRecord) -> None:
        """Count one record."""
        self.requests += 1
        if record.failed:
            self.failures += 1
        else:
            self.successes += 1
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.reasoning_tokens += record.reasoning_tokens
        self.cached_tokens += record.cached_tokens
        self.total_tokens += record.total_tokens
        self.latency_ms_total += record.latency_ms
        self.cost_usd += record.cost_usd

    def merge(self, other: Tally) -> None:
        """Add every counter of ``other`` into this tally."""
        self.requests += other.requests
        self.successes += other.successes
        self.failures += other.failures
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cached_tokens += other.cached_tokens
        self.total_tokens += other.total_tokens
        self.latency_ms_total += other.latency_ms_total
        self.cost_usd += other.cost_usd


class UsageSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A detached copy of a book; ``recent`` is oldest first. Day and hour keys are UTC."""

    totals: Tally = msgspec.field(default_factory=Tally)
    by_client: dict[str, Tally] = msgspec.field(default_factory=dict)
    by_model: dict[str, Tally] = msgspec.field(default_factory=dict)
    by_credential: dict[str, Tally] = msgspec.field(default_factory=dict)
    by_day: dict[str, Tally] = msgspec.field(default_factory=dict)
    """Keyed ``"YYYY-MM-DD"``."""
    by_hour: dict[str, Tally] = msgspec.field(default_factory=dict)
    """Keyed ``"YYYY-MM-DDTHH"``."""
    recent: list[UsageRecord] = msgspec.field(default_factory=list)
    by_provider: dict[str, Tally] = msgspec.field(default_factory=dict)


def day_key(timestamp: float) -> str:
    """The UTC day bucket of a unix timestamp, ``"YYYY-MM-DD"``."""
    return _hour_names(int(timestamp // 3600))[0]


def hour_key(timestamp: float) -> str:
    """The UTC hour bucket of a unix timestamp, ``"YYYY-MM-DDTHH"``."""
    return _hour_names(int(timestamp // 3600))[1]


@functools.lru_cache(maxsize=64)
def _hour_names(hour: int) -> tuple[str, str]:
    # Unix time has no leap seconds, so UTC hours are whole multiples of 3600 s: formatting a
    # date (the dearest part of counting a record) happens once per hour, not per record.
    moment = datetime.fromtimestamp(hour * 3600, tz=UTC)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%Y-%m-%dT%H")


def _bump(buckets: dict[str, Tally], key: str, record: UsageRecord) -> bool:
    """Count ``record`` under ``key``; True when the bucket is new."""
    tally = buckets.get(key)
    created = tally is None
    if tally is None:
        tally = buckets[key] = Tally()
    tally.add(record)
    return created


def _merge_into(buckets: dict[str, Tally], incoming: dict[str, Tally]) -> None:
    for key, tally in incoming.items():
        mine = buckets.get(key)
        if mine is None:
            buckets[key] = copy.copy(tally)  # never alias a caller's (or snapshot's) tally
        else:
            mine.merge(tally)


def _copy_buckets(buckets: dict[str, Tally]) -> dict[str, Tally]:
    return {key: copy.copy(tally) for key, tally in buckets.items()}


class UsageBook:
    """In-memory usage state: totals, six bucketed dimensions and the recent records.

    Not thread-safe by design: it lives on the one event loop that finishes requests, so no
    lock is paid per record. Hour buckets are capped at ``max_hours`` (oldest dropped) because
    they grow by 24 a day forever; the other dimensions grow with config or calendar days.
    """

    def __init__(self, *, recent_limit: int = 1000, max_hours: int = 24 * 31) -> None:
        if recent_limit < 0 or max_hours < 1:
            raise ValueError("recent_limit must be >= 0 and max_hours >= 1")
        self._totals = Tally()
        self._by_client: dict[str, Tally] = {}
        self._by_model: dict[str, Tally] = {}
        self._by_credential: dict[str, Tally] = {}
        self._by_provider: dict[str, Tally] = {}
        self._by_day: dict[str, Tally] = {}
        self._by_hour: dict[str, Tally] = {}
        self._max_hours = max_hours
        self._recent: deque[UsageRecord] = deque(maxlen=recent_limit)

    def add(self, record: UsageRecord) -> None:
        """Count one finished request in every dimension."""
        self._totals.add(record)
        _bump(self._by_client, record.client, record)
        _bump(self._by_model, record.requested_model, record)
        if record.credential:  # a request no credential served is nobody's to count
            _bump(self._by_credential, record.credential, record)
        if record.provider:
            _bump(self._by_provider, record.provider, record)
        _bump(self._by_day, day_key(record.timestamp), record)
        if _bump(self._by_hour, hour_key(record.timestamp), record):
            # Records arrive in time order, so the first-inserted hour is the oldest: dropping
            # it keeps the cap O(1). merge_snapshot re-sorts, so the order holds after a load.
            while len(self._by_hour) > self._max_hours:
                del self._by_hour[next(iter(self._by_hour))]
        self._recent.append(record)

    def snapshot(self) -> UsageSnapshot:
        """A deep-enough copy that later adds do not change it."""
        return UsageSnapshot(
            totals=copy.copy(self._totals),
            by_client=_copy_buckets(self._by_client),
            by_model=_copy_buckets(self._by_model),
            by_credential=_copy_buckets(self._by_credential),
            by_day=_copy_buckets(self._by_day),
            by_hour=_copy_buckets(self._by_hour),
            recent=list(self._recent),  # records are frozen, sharing them is safe
            by_provider=_copy_buckets(self._by_provider),
        )

    def merge_snapshot(self, snapshot: UsageSnapshot) -> None:
        """Add a snapshot's counts to this book (adds, does not de-duplicate)."""
        self._totals.merge(snapshot.totals)
        _merge_into(self._by_client, snapshot.by_client)
        _merge_into(self._by_model, snapshot.by_model)
        _merge_into(self._by_credential, snapshot.by_credential)
        _merge_into(self._by_provider, snapshot.by_provider)
        _merge_into(self._by_day, snapshot.by_day)
        _merge_into(self._by_hour, snapshot.by_hour)
        # "YYYY-MM-DDTHH" sorts chronologically; restore time order, then apply the cap.
        hours = sorted(self._by_hour.items())[-self._max_hours :]
        self._by_hour = dict(hours)
        merged = sorted([*self._recent, *snapshot.recent], key=lambda r: r.timestamp)
        self._recent = deque(merged, maxlen=self._recent.maxlen)
