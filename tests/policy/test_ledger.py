"""The in-memory ledger: check-and-reserve admission, sliding windows, budget periods."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from aiproxyapi.policy import KeyLimits, MemoryLedger
from aiproxyapi.policy.ledger import Spend

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()


async def test_rpm_is_a_sliding_window() -> None:
    ledger = MemoryLedger()
    limits = KeyLimits(rpm=2)
    assert await ledger.admit("k", "r1", "m", limits, NOON) is None
    assert await ledger.admit("k", "r2", "m", limits, NOON + 30) is None
    refused = await ledger.admit("k", "r3", "m", limits, NOON + 45)
    assert refused is not None
    assert refused.reason == "rpm"
    assert refused.retry_after == pytest.approx(15)
    assert await ledger.admit("k", "r4", "m", limits, NOON + 60.5) is None  # r1 left the window
    assert await ledger.admit("other", "r5", "m", limits, NOON + 61) is None


async def test_tpm_waits_until_enough_tokens_leave_the_window() -> None:
    ledger = MemoryLedger()
    limits = KeyLimits(tpm=100)
    for index, tokens in enumerate((60, 50)):
        assert await ledger.admit("k", f"r{index}", "m", limits, NOON + index) is None
        await ledger.settle("k", f"r{index}", "m", 0.0, tokens, served=True, now=NOON + index)
    refused = await ledger.admit("k", "r9", "m", limits, NOON + 10)
    assert refused is not None
    assert refused.reason == "tpm"
    assert refused.retry_after == pytest.approx(50)  # when the 60 tokens at NOON expire
    assert await ledger.admit("k", "r9", "m", limits, NOON + 60.1) is None


async def test_a_spent_budget_refuses_until_the_next_utc_day() -> None:
    ledger = MemoryLedger()
    limits = KeyLimits(daily_budget=1.0)
    assert await ledger.admit("k", "r1", "m", limits, NOON) is None
    await ledger.settle("k", "r1", "m", 1.2, 10, served=True, now=NOON)
    refused = await ledger.admit("k", "r2", "m", limits, NOON + 1)
    assert refused is not None
    assert (refused.reason, refused.exhausted) == ("daily-budget", True)
    assert refused.retry_after == pytest.approx(12 * 3600 - 1)
    tomorrow = NOON + 12 * 3600 + 1
    assert await ledger.admit("k", "r3", "m", limits, tomorrow) is None
    spend = await ledger.spend("k", tomorrow)
    assert (spend.day_usd, spend.month_usd) == (0.0, pytest.approx(1.2))


async def test_monthly_budget_spans_days() -> None:
    ledger = MemoryLedger()
    limits = KeyLimits(monthly_budget=2.0)
    for day in range(3):
        now = NOON + day * 86400
        if day < 2:
            assert await ledger.admit("k", f"r{day}", "m", limits, now) is None
            await ledger.settle("k", f"r{day}", "m", 1.0, 1, served=True, now=now)
        else:
            refused = await ledger.admit("k", "r2", "m", limits, now)
            assert refused is not None
            assert refused.reason == "monthly-budget"


async def test_concurrent_admission_never_overspends_by_more_than_one_request() -> None:
    ledger = MemoryLedger()
    limits = KeyLimits(daily_budget=1.0)
    cost = 0.15
    # The first answer teaches the ledger what the model costs.
    assert await ledger.admit("k", "warm", "m", limits, NOON) is None
    await ledger.settle("k", "warm", "m", cost, 1, served=True, now=NOON)

    async def one(index: int) -> bool:
        refused = await ledger.admit("k", f"r{index}", "m", limits, NOON)
        if refused is not None:
            return False
        await asyncio.sleep(0.01)
        await ledger.settle("k", f"r{index}", "m", cost, 1, served=True, now=NOON)
        return True

    for _ in range(3):  # waves of 50 until the budget is gone
        await asyncio.gather(*(one(i) for i in range(50)))
    spent = (await ledger.spend("k", NOON)).day_usd
    assert 1.0 - cost < spent <= 1.0 + cost


async def test_an_unknown_model_is_admitted_one_at_a_time() -> None:
    ledger = MemoryLedger()
    limits = KeyLimits(daily_budget=10.0)
    assert await ledger.admit("k", "a", "new-model", limits, NOON) is None
    held = await ledger.admit("k", "b", "new-model", limits, NOON)
    assert held is not None
    assert not held.exhausted
    await ledger.release("k", "a")
    assert await ledger.admit("k", "b", "new-model", limits, NOON) is None


async def test_spend_export_and_import_round_trip() -> None:
    ledger = MemoryLedger()
    await ledger.settle("k", "r", "m", 0.5, 1, served=True, now=NOON)
    exported = ledger.export_spend()
    restored = MemoryLedger()
    restored.import_spend(
        {"k": Spend(**{f: getattr(exported["k"], f) for f in exported["k"].__struct_fields__})}
    )
    assert (await restored.spend("k", NOON)).day_usd == pytest.approx(0.5)
    # Spend of an earlier day does not count today.
    assert (await restored.spend("k", NOON + 86400)).day_usd == 0.0
