"""Letting a request in under its key's policy, and settling it when its usage record arrives.

Refusals are client errors in the caller's dialect: 429 with `Retry-After` for rpm and tpm;
429 `insufficient_quota` for a budget (as OpenAI and Gemini answer a spent quota), with
`Retry-After` until the UTC day or month ends and `x-should-retry: false` so SDKs do not retry.
"""

from __future__ import annotations

import asyncio
import logging
import time

import msgspec

from aiproxyapi.config.client_keys import ClientKeyPolicy
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.policy.ledger import KeyLimits, Ledger, Refusal, Spend
from aiproxyapi.usage import UsageRecord
from storage import Store, StoreError

__all__ = ["SPEND_DOCUMENT", "Admission", "cost_of"]

log = logging.getLogger("aiproxyapi.policy")

SPEND_DOCUMENT = "key-spend"


class _SpendFile(msgspec.Struct):
    version: int
    spend: dict[str, Spend]


def cost_of(record: UsageRecord) -> float:
    """The USD cost of one usage record, as budgets count it."""
    return record.cost_usd


def limits_of(policy: ClientKeyPolicy) -> KeyLimits:
    """The ledger's view of a key policy."""
    return KeyLimits(
        rpm=policy.rpm,
        tpm=policy.tpm,
        daily_budget=policy.daily_budget,
        monthly_budget=policy.monthly_budget,
    )


class Admission:
    """The gateway's admission desk: one ledger, its persistence, and the settle path."""

    def __init__(self, ledger: Ledger, store: Store) -> None:
        self.ledger = ledger
        self._store = store
        self._pending: set[asyncio.Task[None]] = set()
        self._settling: list[tuple[UsageRecord, float]] = []
        self._settler: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()
        self._changes = 0
        self._saved = 0
        self._written = b""

    async def admit(
        self, policy: ClientKeyPolicy | None, client: str, request_id: str, model: str
    ) -> None:
        """Let the request in, or raise the refusal as a client error."""
        if policy is None or not policy.limited:
            return
        refusal = await self.ledger.admit(client, request_id, model, limits_of(policy), time.time())
        if refusal is not None:
            raise _refusal_error(refusal)

    def settle(self, record: UsageRecord) -> None:
        """Count a finished request against its key (called from the usage sink)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a record outside the serving loop (tests, tools) counts against nothing
        self._settling.append((record, time.time()))
        if self._settler is None:
            # One task settles every record that finishes meanwhile, not one task per record.
            task = self._settler = loop.create_task(self._settle_queued())
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        if cost_of(record) > 0:  # only spend is persisted; rates and tokens are per minute
            self._changes += 1
            self._dirty.set()

    async def _settle_queued(self) -> None:
        try:
            while self._settling:
                batch, self._settling = self._settling, []
                for record, now in batch:
                    try:
                        await self.ledger.settle(
                            record.client,
                            record.request_id,
                            record.requested_model,
                            cost_of(record),
                            record.total_tokens,
                            # A cached answer says nothing about what the upstream charges.
                            served=not record.failed and not record.cache_hit,
                            now=now,
                        )
                    except Exception:
                        log.exception("settling request %s failed", record.request_id)
        finally:
            self._settler = None

    async def release(self, client: str, request_id: str) -> None:
        """Free the reservation of a request that ended without a usage record."""
        await self.ledger.release(client, request_id)

    async def load(self) -> None:
        """Add the persisted spend back into the ledger."""
        try:
            raw = await self._store.read_state(SPEND_DOCUMENT)
        except StoreError as exc:
            log.error("could not read key spend (%s); budgets start from zero", exc)
            return
        if not raw:
            return
        try:
            saved = msgspec.json.decode(raw, type=_SpendFile)
        except (msgspec.DecodeError, UnicodeError):
            log.error("key spend document is unreadable; budgets start from zero")
            return
        self.ledger.import_spend(saved.spend)

    async def flush(self) -> None:
        """Write the spend of every key to the store, if it changed since the last write."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        changes = self._changes
        if changes == self._saved:
            return
        spend = await self.ledger.persisted_spend(time.time())
        if spend is None:
            return  # the shared totals are out of reach: the document keeps the last ones
        data = msgspec.json.encode(_SpendFile(version=1, spend=spend))
        if data != self._written:
            await self._store.write_state(SPEND_DOCUMENT, data)
            self._written = data
        self._saved = changes

    async def run(self) -> None:
        """Persist spend at most once per `persist_interval` while it changes, until cancelled."""
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.ledger.persist_interval)
            self._dirty.clear()
            try:
                await self.flush()
            except (StoreError, OSError) as exc:
                log.error("writing key spend failed (%s); will retry", exc)
                self._dirty.set()


def _in(seconds: float) -> str:
    seconds = max(1, int(seconds + 0.999))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _refusal_error(refusal: Refusal) -> ClientRequestError:
    retry = str(max(1, int(refusal.retry_after + 0.999)))
    if refusal.reason in ("rpm", "tpm"):
        unit = "requests" if refusal.reason == "rpm" else "tokens"
        return ClientRequestError(
            f"Rate limit reached: this API key may use {int(refusal.limit)} {unit} per minute "
            f"({refusal.reason}); try again in {_in(refusal.retry_after)}.",
            status=429,
            code="rate_limit_exceeded",
            kind="rate_limit_error",
            headers={"Retry-After": retry},
        )
    period = "daily" if refusal.reason == "daily-budget" else "monthly"
    if refusal.exhausted:
        return ClientRequestError(
            f"This API key's {period} budget of ${refusal.limit:.2f} is spent; it renews at "
            f"the start of the next UTC {'day' if period == 'daily' else 'month'} "
            f"(in {_in(refusal.retry_after)}).",
            status=429,
            code="insufficient_quota",
            kind="insufficient_quota",
            headers={"Retry-After": retry, "x-should-retry": "false"},
        )
    return ClientRequestError(
        f"This API key's {period} budget of ${refusal.limit:.2f} is nearly spent and requests "
        f"in flight hold the rest; try again in {_in(refusal.retry_after)}.",
        status=429,
        code="insufficient_quota",
        kind="insufficient_quota",
        headers={"Retry-After": retry},
    )
