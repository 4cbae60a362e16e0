"""The ledger on Redis: every gateway instance admits against the same counters.

Each step (admit, settle, release) is one Lua script (:mod:`._ledger_lua`), so check-and-reserve
is atomic across instances and the memory ledger's guarantee holds for the whole cluster:
concurrent requests overspend a budget by at most the in-flight reservations' misestimate.
Keys expire after their window (rates a minute, spend a day after its day or month ends).

Redis is never a single point of failure. Every call goes through the gateway's
:class:`~aiproxyapi.shared.RedisLink` (bounded; the link logs the outage and counts it in the
metrics). When a call cannot be made the ledger goes on with a local :class:`MemoryLedger`,
seeded with the spend Redis last reported and the estimates it learned. While down it keeps
what it owes Redis: the spend settled locally (pushed as one batch that Redis applies at most
once, however often the push is retried), and the settles and releases of reservations Redis
holds (a guarded settle counts only while its reservation is still held, so it counts once).
When the link comes back its reconnect hook hands all of that over, and Redis is the shared
truth again.

A Redis that lost its data (a restart without persistence) has no ``seeded`` mark; the next
script says so and the ledger seeds it from the persisted ``key-spend`` document (the last
totals it read from Redis), so budgets survive a Redis restart up to the last write.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiproxyapi.policy._ledger_lua import ADMIT, RELEASE, SETTLE
from aiproxyapi.policy.ledger import (
    WINDOW,
    KeyLimits,
    Ledger,
    MemoryLedger,
    Refusal,
    Spend,
    day_of,
    month_of,
    next_day,
    next_month,
)
from aiproxyapi.shared import RedisUnavailable
from aiproxyapi.shared.once import APPLIED, APPLY_ONCE, UNSEEDED, Op, apply_once

if TYPE_CHECKING:
    from aiproxyapi.shared import RedisLink

__all__ = ["RedisLedger"]

log = logging.getLogger("aiproxyapi.policy")

_STALE = 900.0
_DAY = 86400
_BATCH_TTL = 7 * _DAY
"""How long Redis remembers a pushed batch, so a retried push is never applied twice."""


@dataclass(frozen=True, slots=True)
class _Settle:
    client: str
    request_id: str
    model: str
    cost: float
    tokens: int
    served: bool
    now: float


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLedger(Ledger):
    """Per-key counters in Redis under ``<prefix>ledger:``, with a local ledger for outages."""

    persist_interval = 10.0

    def __init__(
        self, link: RedisLink, *, settle_timeout: float = 2.0, retry_interval: float = 1.0
    ) -> None:
        self._link = link
        self._base = link.key("ledger", "")
        self._seeded = link.key("ledger", "seeded")
        self._clients = link.key("ledger", "clients")
        self._settle_timeout = settle_timeout
        self._retry_interval = retry_interval
        client = link.client
        self._admit_script = client.register_script(ADMIT)
        self._settle_script = client.register_script(SETTLE)
        self._release_script = client.register_script(RELEASE)
        self._apply_script = client.register_script(APPLY_ONCE)
        link.on_reconnect(self._reconnected)
        self._local: MemoryLedger | None = None
        """The ledger in charge while Redis cannot be reached; None while Redis is."""
        self._next_try = 0.0
        self._sync_lock = asyncio.Lock()
        self._known: dict[str, Spend] = {}
        """The spend Redis last reported per client: the local ledger's start."""
        self._estimates: dict[tuple[str, str], float] = {}
        self._held: dict[str, tuple[str, float]] = {}
        """Request id -> (client, since) of the reservations Redis holds for this instance."""
        self._owed_settles: list[_Settle] = []
        self._owed_releases: list[tuple[str, str]] = []
        self._owed_spend: dict[str, float] = {}
        """Spend key -> USD settled locally while Redis was down."""
        self._batch: tuple[str, dict[str, float]] | None = None
        """The owed spend being handed over, under the id Redis remembers it by."""
        self._seed: dict[str, Spend] = {}
        """The persisted spend: what an empty Redis is seeded with."""
        self._admissions = 0

    @property
    def shared(self) -> bool:
        """Whether Redis is in charge (False while this instance counts alone)."""
        return self._local is None

    # -- keys ---------------------------------------------------------------------------------

    def _key(self, client: str, part: str) -> str:
        return f"{self._base}{client}:{part}"

    def _spend_keys(self, client: str, now: float) -> tuple[str, str]:
        return self._key(client, f"day:{day_of(now)}"), self._key(client, f"month:{month_of(now)}")

    @staticmethod
    def _ttls(now: float) -> tuple[int, int]:
        return int(next_day(now) - now) + _DAY, int(next_month(now) - now) + _DAY

    # -- the ledger ---------------------------------------------------------------------------

    async def admit(
        self, client: str, request_id: str, model: str, limits: KeyLimits, now: float
    ) -> Refusal | None:
        """Check every limit and, when all pass, count the request and reserve its estimate."""
        local = await self._in_charge()
        if local is not None:
            return await local.admit(client, request_id, model, limits, now)
        day, month = self._spend_keys(client, now)
        keys = [
            self._key(client, "rpm"),
            self._key(client, "tpm"),
            day,
            month,
            self._key(client, "held"),
            self._key(client, "held-at"),
            self._key(client, "est"),
            self._seeded,
        ]
        args: list[str | int] = [
            request_id,
            model,
            repr(now),
            limits.rpm,
            limits.tpm,
            "" if limits.daily_budget is None else repr(limits.daily_budget),
            "" if limits.monthly_budget is None else repr(limits.monthly_budget),
            repr(next_day(now)),
            repr(next_month(now)),
            repr(WINDOW),
            repr(_STALE),
        ]
        try:
            reply = await self._script(self._admit_script, keys, args)
            if reply[0] == "unseeded":
                await self._seed_redis()
                reply = await self._script(self._admit_script, keys, args)
            if reply[0] == "unseeded":
                raise RedisUnavailable("seed mark missing right after seeding")
        except RedisUnavailable as exc:
            # The script may have run: whatever it reserved is released when Redis is back.
            self._owed_releases.append((client, request_id))
            return await self._fall_back(exc).admit(client, request_id, model, limits, now)
        head = reply[0]
        if head == "":
            self._known[client] = Spend(
                day=day_of(now),
                day_usd=float(reply[1]),
                month=month_of(now),
                month_usd=float(reply[2]),
            )
            if reply[3] != "0":
                self._estimates[(client, model)] = float(reply[3])
            self._held[request_id] = (client, now)
            self._prune_held(now)
            return None
        return Refusal(head, float(reply[1]), float(reply[2]), exhausted=reply[3] == "1")  # type: ignore[arg-type]

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
        settle = _Settle(client, request_id, model, cost, tokens, served, now)
        held = self._held.pop(request_id, None) is not None
        local = await self._in_charge()
        if local is None:
            try:
                await self._run_settle(settle, guarded=False)
                return
            except RedisUnavailable as exc:
                local = self._fall_back(exc)
        # Owed to Redis: a reservation it holds is settled there once (guarded), any other
        # spend is added with the next batch.
        if held:
            self._owed_settles.append(settle)
        elif cost > 0:
            for key in self._spend_keys(client, now):
                self._owed_spend[key] = self._owed_spend.get(key, 0.0) + cost
        await local.settle(client, request_id, model, cost, tokens, served=served, now=now)

    async def release(self, client: str, request_id: str) -> None:
        """Drop a reservation whose request ended without a usage record."""
        held = self._held.pop(request_id, None) is not None
        local = await self._in_charge()
        if local is not None:
            await local.release(client, request_id)
            if held:
                self._owed_releases.append((client, request_id))
            return
        if not held:
            return
        try:
            await self._script(self._release_script, self._held_keys(client), [request_id])
        except RedisUnavailable as exc:
            self._owed_releases.append((client, request_id))
            self._fall_back(exc)

    async def spend(self, client: str, now: float) -> Spend:
        """The key's spend in the current day and month (Redis's, or the local one when down)."""
        local = await self._in_charge()
        if local is None:
            try:
                keys = self._spend_keys(client, now)
                day, month = await self._link.call(lambda r: r.mget(keys))
                return Spend(
                    day=day_of(now),
                    day_usd=float(_text(day)) if day is not None else 0.0,
                    month=month_of(now),
                    month_usd=float(_text(month)) if month is not None else 0.0,
                )
            except RedisUnavailable as exc:
                local = self._fall_back(exc)
        return await local.spend(client, now)

    def export_spend(self) -> dict[str, Spend]:
        """The spend last read from Redis for persistence (see :meth:`persisted_spend`)."""
        return dict(self._seed)

    def import_spend(self, spend: dict[str, Spend]) -> None:
        """Keep the persisted spend to seed an empty Redis, and as the local start."""
        for client, saved in spend.items():
            self._seed[client] = saved
            self._known.setdefault(client, saved)

    async def persisted_spend(self, now: float) -> dict[str, Spend] | None:
        """Every key's current spend as Redis holds it; None while Redis is down."""
        if self._local is not None:
            return None
        try:
            members = await self._link.call(
                lambda r: r.smembers(self._clients), bound=self._settle_timeout
            )
            clients = sorted(_text(c) for c in members)
            keys = [key for client in clients for key in self._spend_keys(client, now)]
            values = (
                await self._link.call(lambda r: r.mget(keys), bound=self._settle_timeout)
                if keys
                else []
            )
        except RedisUnavailable as exc:
            self._fall_back(exc)
            return None
        totals: dict[str, Spend] = {}
        for index, client in enumerate(clients):
            day, month = values[2 * index], values[2 * index + 1]
            if day is None and month is None:
                continue
            totals[client] = Spend(
                day=day_of(now),
                day_usd=float(_text(day)) if day is not None else 0.0,
                month=month_of(now),
                month_usd=float(_text(month)) if month is not None else 0.0,
            )
        self._seed = dict(totals)
        return totals

    async def sync(self) -> bool:
        """Hand what this instance owes over to Redis; True when Redis is in charge again."""
        async with self._sync_lock:
            if self._local is None:
                return True
            try:
                await self._hand_over()
            except RedisUnavailable:
                self._next_try = time.monotonic() + self._retry_interval
                return False
            log.info("key limits and budgets are shared through Redis again")
            self._local = None
            return True

    async def _reconnected(self) -> None:
        """The link's reconnect hook: hand over what the outage left owed."""
        await self.sync()

    # -- internals ----------------------------------------------------------------------------

    def _held_keys(self, client: str) -> list[str]:
        return [self._key(client, "held"), self._key(client, "held-at")]

    async def _script(
        self,
        script: Any,
        keys: Sequence[str],
        args: Sequence[str | int],
        bound: float | None = None,
    ) -> list[str]:
        """Run a registered script (EVALSHA, loading it when Redis does not know it)."""
        reply = await self._link.call(
            lambda _r: script(keys=list(keys), args=list(args)), bound=bound
        )
        if isinstance(reply, list):
            return [_text(item) for item in reply]
        return [_text(reply)]

    async def _run_settle(self, settle: _Settle, *, guarded: bool) -> None:
        day, month = self._spend_keys(settle.client, settle.now)
        day_ttl, month_ttl = self._ttls(settle.now)
        keys = [
            self._key(settle.client, "tpm"),
            day,
            month,
            *self._held_keys(settle.client),
            self._key(settle.client, "est"),
            self._clients,
            self._seeded,
        ]
        args: list[str | int] = [
            settle.request_id,
            settle.model,
            repr(settle.cost),
            settle.tokens,
            1 if settle.served else 0,
            repr(settle.now),
            repr(WINDOW),
            day_ttl,
            month_ttl,
            settle.client,
            1 if guarded else 0,
        ]
        reply = await self._script(self._settle_script, keys, args, self._settle_timeout)
        if reply[0] == "unseeded":
            await self._seed_redis()
            reply = await self._script(self._settle_script, keys, args, self._settle_timeout)
        if reply[0] == "unseeded":
            raise RedisUnavailable("seed mark missing right after seeding")
        if reply[0] == "" and len(reply) == 3:
            self._known[settle.client] = Spend(
                day=day_of(settle.now),
                day_usd=float(reply[1]),
                month=month_of(settle.now),
                month_usd=float(reply[2]),
            )
            if settle.served and settle.model:
                pair = (settle.client, settle.model)
                self._estimates[pair] = max(settle.cost, self._estimates.get(pair, 0.0))

    async def _seed_redis(self) -> None:
        """Seed an empty Redis with the persisted spend of the current day and month."""
        now = time.time()
        day_ttl, month_ttl = self._ttls(now)
        ops: list[Op] = []
        for client, saved in self._seed.items():
            day, month = self._spend_keys(client, now)
            if saved.day == day_of(now) and saved.day_usd > 0:
                ops.append(("f", day, "", repr(saved.day_usd), day_ttl))
            if saved.month == month_of(now) and saved.month_usd > 0:
                ops.append(("f", month, "", repr(saved.month_usd), month_ttl))
                ops.append(("s", self._clients, client, 0, 0))
        seeded = await apply_once(
            self._link,
            self._apply_script,
            self._seeded,
            self._seeded,
            ops,
            marker_ttl=0,
            bound=self._settle_timeout,
        )
        if seeded == APPLIED and ops:
            log.warning("Redis held no key spend; seeded it from the persisted key-spend totals")

    async def _in_charge(self) -> MemoryLedger | None:
        """The local ledger while Redis cannot be used, else None.

        The link's reconnect hook ends an outage; a call Redis refused without the link going
        down (a script error) is retried here now and then, off the request path.
        """
        if self._local is not None and self._link.up and time.monotonic() >= self._next_try:
            self._next_try = time.monotonic() + self._retry_interval
            # Off the request path: this request is served locally; the next one may be shared.
            task = asyncio.get_running_loop().create_task(self.sync())
            task.add_done_callback(_quiet)
        return self._local

    def _fall_back(self, exc: BaseException) -> MemoryLedger:
        """Go on locally, starting from what Redis last said."""
        if self._local is None:
            # The link has logged the outage (once) and counts it; this says what it means here.
            log.info("Redis out of reach (%s): key limits and budgets count locally", exc)
            local = MemoryLedger()
            local.import_spend(self._known)
            for (client, model), cost in self._estimates.items():
                local.learn(client, model, cost)
            self._local = local
            self._next_try = time.monotonic() + self._retry_interval
        return self._local

    async def _hand_over(self) -> None:
        """Push everything owed; raises when Redis fails on the way (the rest stays owed)."""
        while self._owed_settles or self._owed_releases or self._owed_spend or self._batch:
            while self._owed_settles:
                await self._run_settle(self._owed_settles[0], guarded=True)
                self._owed_settles.pop(0)
            while self._owed_releases:
                client, request_id = self._owed_releases[0]
                keys = self._held_keys(client)
                await self._script(self._release_script, keys, [request_id], self._settle_timeout)
                self._owed_releases.pop(0)
            if self._batch is None and self._owed_spend:
                self._batch = (secrets.token_hex(8), self._owed_spend)
                self._owed_spend = {}
            if self._batch is not None:
                await self._push(*self._batch)
                self._batch = None

    async def _push(self, batch_id: str, amounts: dict[str, float]) -> None:
        now = time.time()
        day_ttl, month_ttl = self._ttls(now)
        ops: list[Op] = []
        clients: set[str] = set()
        for key, amount in amounts.items():
            ops.append(("f", key, "", repr(amount), day_ttl if ":day:" in key else month_ttl))
            clients.add(key.removeprefix(self._base).split(":", 1)[0])
        ops += [("s", self._clients, client, 0, 0) for client in sorted(clients)]
        marker = f"{self._base}batch:{batch_id}"
        for _attempt in range(2):
            sent = await apply_once(
                self._link,
                self._apply_script,
                marker,
                self._seeded,
                ops,
                marker_ttl=_BATCH_TTL,
                bound=self._settle_timeout,
            )
            if sent != UNSEEDED:
                return
            await self._seed_redis()
        raise RedisUnavailable("seed mark missing right after seeding")  # the batch stays owed

    def _prune_held(self, now: float) -> None:
        """Forget reservations of requests that never ended (Redis drops them the same way)."""
        self._admissions += 1
        if self._admissions % 1024:
            return
        for request_id, (_client, since) in list(self._held.items()):
            if since <= now - _STALE:
                del self._held[request_id]


def _quiet(task: asyncio.Task[bool]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("handing key spend over to Redis failed", exc_info=task.exception())
