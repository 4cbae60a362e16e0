"""The ledger of per-key counters: admissions per minute, tokens per minute, spend, reservations.

Admission is check-and-reserve in one step, so concurrent requests cannot all pass a check that
only one of them fits. A budget admits a request while spend, the reservations of requests in
flight and the new request's estimate (the dearest answer this key got from that model so far)
fit in it; past that point it admits one request at a time, and only while spend is below the
budget. So concurrent requests overspend by at most one request's cost, as long as no answer
costs more than the dearest one seen before. A model the key has not been served yet goes one
request at a time too, until the first answer gives its cost.

The interface is async so a shared implementation (Redis) can take the place of
:class:`MemoryLedger`, which does each operation without awaiting and so atomically.
"""

from __future__ import annotations

import abc
import functools
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec

__all__ = [
    "WINDOW",
    "KeyLimits",
    "Ledger",
    "MemoryLedger",
    "Refusal",
    "Spend",
    "day_of",
    "month_of",
    "next_day",
    "next_month",
]

WINDOW = 60.0
_TOKEN_BUCKET = 1.0  # seconds of answers counted in one tokens-per-minute entry
# A reservation whose request never settled (a stream nobody read) stops counting after this.
_STALE_RESERVATION = 900.0


class KeyLimits(msgspec.Struct, frozen=True):
    """The limits of one key; 0 rates and None budgets are no limit."""

    rpm: int = 0
    tpm: int = 0
    daily_budget: float | None = None
    monthly_budget: float | None = None


class Refusal(msgspec.Struct, frozen=True):
    """Why a request is refused and when trying again can help."""

    reason: Literal["rpm", "tpm", "daily-budget", "monthly-budget"]
    retry_after: float
    limit: float
    exhausted: bool = False
    """A budget that is spent (rather than held by requests in flight): wait for the period."""


class Spend(msgspec.Struct, kw_only=True):
    """One key's spend in its current UTC day and month (the persisted part of the ledger)."""

    day: str = ""
    day_usd: float = 0.0
    month: str = ""
    month_usd: float = 0.0


class Ledger(abc.ABC):
    """Per-key counters behind admission; implementations may be shared between gateways."""

    @abc.abstractmethod
    async def admit(
        self, client: str, request_id: str, model: str, limits: KeyLimits, now: float
    ) -> Refusal | None:
        """Check every limit and, when all pass, count the request and reserve its estimate."""

    @abc.abstractmethod
    async def settle(
        self,
        client: str,
        request_id: str,
        model: str,
        cost: float,
        tokens: int,
        *,
        served: bool,
        now: float,
    ) -> None:
        """A finished request: drop its reservation, add its cost and tokens."""

    @abc.abstractmethod
    async def release(self, client: str, request_id: str) -> None:
        """Drop a reservation whose request ended without a usage record."""

    @abc.abstractmethod
    async def spend(self, client: str, now: float) -> Spend:
        """The key's spend in the current day and month."""

    @abc.abstractmethod
    def export_spend(self) -> dict[str, Spend]:
        """Every key's spend, for persistence."""

    @abc.abstractmethod
    def import_spend(self, spend: dict[str, Spend]) -> None:
        """Add persisted spend back (at start)."""

    persist_interval = 1.0
    """Seconds between two writes of the persisted spend while it changes."""

    async def persisted_spend(self, now: float) -> dict[str, Spend] | None:
        """The spend to persist now; None when there is nothing trustworthy to write."""
        return self.export_spend()


def day_of(now: float) -> str:
    """The UTC day of a unix time."""
    return _calendar(int(now // 3600))[0]


def month_of(now: float) -> str:
    """The UTC month of a unix time."""
    return _calendar(int(now // 3600))[1]


@functools.lru_cache(maxsize=64)
def _calendar(hour: int) -> tuple[str, str]:
    # UTC hours are whole multiples of 3600 s in unix time: one date format per hour.
    moment = datetime.fromtimestamp(hour * 3600, tz=UTC)
    return moment.strftime("%Y-%m-%d"), moment.strftime("%Y-%m")


def next_day(now: float) -> float:
    """The unix time the UTC day of ``now`` ends."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    start = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return (start + timedelta(days=1)).timestamp()


def next_month(now: float) -> float:
    """The unix time the UTC month of ``now`` ends."""
    moment = datetime.fromtimestamp(now, tz=UTC)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


@dataclass
class _Key:
    spend: Spend = field(default_factory=Spend)
    admitted: deque[float] = field(default_factory=deque)
    tokens: deque[list[float]] = field(default_factory=deque)
    """[when, tokens]: the answers of up to a second after `when` share one entry, so a key
    answering thousands of requests a second holds about 60 entries, not one per request
    (their tokens leave the window with the first of them: up to a second early)."""
    reserved: dict[str, tuple[float, float]] = field(default_factory=dict)
    """request id -> (reserved USD, when)."""
    estimates: dict[str, float] = field(default_factory=dict)
    """model -> the dearest cost of one answer seen."""

    def roll(self, now: float) -> None:
        day, month = day_of(now), month_of(now)
        if self.spend.day != day:
            self.spend.day, self.spend.day_usd = day, 0.0
        if self.spend.month != month:
            self.spend.month, self.spend.month_usd = month, 0.0

    def prune(self, now: float) -> None:
        while self.admitted and self.admitted[0] <= now - WINDOW:
            self.admitted.popleft()
        while self.tokens and self.tokens[0][0] <= now - WINDOW:
            self.tokens.popleft()
        for request_id, (_cost, since) in list(self.reserved.items()):
            if since <= now - _STALE_RESERVATION:
                del self.reserved[request_id]


class MemoryLedger(Ledger):
    """The ledger of one gateway process."""

    def __init__(self) -> None:
        self._keys: dict[str, _Key] = {}

    def _key(self, client: str, now: float) -> _Key:
        state = self._keys.get(client)
        if state is None:
            state = self._keys[client] = _Key()
        state.roll(now)
        state.prune(now)
        return state

    async def admit(
        self, client: str, request_id: str, model: str, limits: KeyLimits, now: float
    ) -> Refusal | None:
        """Check every limit and, when all pass, count the request and reserve its estimate."""
        state = self._key(client, now)
        refusal = _rate_refusal(state, limits, now)
        estimate = state.estimates.get(model)
        held = sum(cost for cost, _since in state.reserved.values())
        for reason, budget, spent, resets in (
            ("daily-budget", limits.daily_budget, state.spend.day_usd, next_day(now)),
            ("monthly-budget", limits.monthly_budget, state.spend.month_usd, next_month(now)),
        ):
            if refusal is not None or budget is None:
                continue
            if spent >= budget:
                refusal = Refusal(reason, resets - now, budget, exhausted=True)  # type: ignore[arg-type]
            elif state.reserved and (estimate is None or spent + held + estimate > budget):
                refusal = Refusal(reason, 1.0, budget)  # type: ignore[arg-type]
        if refusal is not None:
            return refusal
        state.admitted.append(now)
        state.reserved[request_id] = (estimate or 0.0, now)
        return None

    async def settle(
        self,
        client: str,
        request_id: str,
        model: str,
        cost: float,
        tokens: int,
        *,
        served: bool,
        now: float,
    ) -> None:
        """A finished request: drop its reservation, add its cost and tokens."""
        state = self._key(client, now)
        state.reserved.pop(request_id, None)
        state.spend.day_usd += cost
        state.spend.month_usd += cost
        if tokens:
            window = state.tokens
            if window and now - window[-1][0] < _TOKEN_BUCKET:
                window[-1][1] += tokens
            else:
                window.append([now, tokens])
        if served and model:
            state.estimates[model] = max(cost, state.estimates.get(model, 0.0))

    async def release(self, client: str, request_id: str) -> None:
        """Drop a reservation whose request ended without a usage record."""
        state = self._keys.get(client)
        if state is not None:
            state.reserved.pop(request_id, None)

    async def spend(self, client: str, now: float) -> Spend:
        """The key's spend in the current day and month."""
        spend = self._key(client, now).spend
        return Spend(
            day=spend.day, day_usd=spend.day_usd, month=spend.month, month_usd=spend.month_usd
        )

    def export_spend(self) -> dict[str, Spend]:
        """Every key's spend, for persistence."""
        return {client: state.spend for client, state in self._keys.items()}

    def learn(self, client: str, model: str, cost: float) -> None:
        """Know the dearest answer of a model for a key (as a shared ledger reported it)."""
        state = self._keys.setdefault(client, _Key())
        state.estimates[model] = max(cost, state.estimates.get(model, 0.0))

    def import_spend(self, spend: dict[str, Spend]) -> None:
        """Add persisted spend back (at start)."""
        for client, saved in spend.items():
            state = self._keys.setdefault(client, _Key())
            mine = state.spend
            if not mine.day or mine.day == saved.day:
                mine.day, mine.day_usd = saved.day, mine.day_usd + saved.day_usd
            if not mine.month or mine.month == saved.month:
                mine.month, mine.month_usd = saved.month, mine.month_usd + saved.month_usd


def _rate_refusal(state: _Key, limits: KeyLimits, now: float) -> Refusal | None:
    if limits.rpm and len(state.admitted) >= limits.rpm:
        return Refusal("rpm", state.admitted[0] + WINDOW - now, limits.rpm)
    if limits.tpm:
        used = sum(tokens for _when, tokens in state.tokens)
        for when, tokens in state.tokens:
            if used < limits.tpm:
                break
            used -= tokens
            if used < limits.tpm:
                return Refusal("tpm", when + WINDOW - now, limits.tpm)
    return None
