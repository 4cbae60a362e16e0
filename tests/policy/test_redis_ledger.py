"""The Redis ledger against the machine's Redis: the memory ledger's answers, held across instances.

Each "instance" is a RedisLedger on its own RedisLink; the instances of one test share a key
prefix of their own. Concurrency comes in waves of asyncio.gather spread over the instances.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from aiproxyapi.policy import KeyLimits, Ledger, MemoryLedger
from aiproxyapi.policy.ledger import Spend, day_of, month_of
from aiproxyapi.policy.redis_ledger import RedisLedger
from tests.support.redis_shared import REDIS_URL, shared_links

# A time of today, so spend keys land in the current day and month as in production.
NOW = time.time()
Instances = Callable[[int], Awaitable[list[RedisLedger]]]


@pytest.fixture
async def instances() -> AsyncIterator[Instances]:
    """`await instances(n)`: n ledgers, each on its own link, sharing one prefix."""
    async with shared_links() as make:

        async def build(count: int) -> list[RedisLedger]:
            return [RedisLedger(await make()) for _ in range(count)]

        yield build


@pytest.fixture(params=["memory", "redis"])
async def ledger(request: pytest.FixtureRequest, instances: Instances) -> Ledger:
    if request.param == "memory":
        return MemoryLedger()
    (shared,) = await instances(1)
    return shared


async def test_rpm_is_a_sliding_window(ledger: Ledger) -> None:
    limits = KeyLimits(rpm=2)
    assert await ledger.admit("k", "r1", "m", limits, NOW) is None
    assert await ledger.admit("k", "r2", "m", limits, NOW + 30) is None
    refused = await ledger.admit("k", "r3", "m", limits, NOW + 45)
    assert refused is not None
    assert refused.reason == "rpm"
    assert refused.retry_after == pytest.approx(15)
    assert refused.limit == 2
    assert await ledger.admit("k", "r4", "m", limits, NOW + 60.5) is None  # r1 left the window
    assert await ledger.admit("other", "r5", "m", limits, NOW + 61) is None


async def test_tpm_waits_until_enough_tokens_leave_the_window(ledger: Ledger) -> None:
    limits = KeyLimits(tpm=100)
    for index, tokens in enumerate((60, 50)):
        assert await ledger.admit("k", f"r{index}", "m", limits, NOW + index) is None
        await ledger.settle("k", f"r{index}", "m", 0.0, tokens, served=True, now=NOW + index)
    refused = await ledger.admit("k", "r9", "m", limits, NOW + 10)
    assert refused is not None
    assert refused.reason == "tpm"
    assert refused.retry_after == pytest.approx(50)  # when the 60 tokens at NOW expire
    assert await ledger.admit("k", "r9", "m", limits, NOW + 60.1) is None


async def test_a_spent_budget_refuses_as_exhausted(ledger: Ledger) -> None:
    limits = KeyLimits(daily_budget=1.0)
    assert await ledger.admit("k", "r1", "m", limits, NOW) is None
    await ledger.settle("k", "r1", "m", 1.2, 10, served=True, now=NOW)
    refused = await ledger.admit("k", "r2", "m", limits, NOW + 1)
    assert refused is not None
    assert (refused.reason, refused.exhausted, refused.limit) == ("daily-budget", True, 1.0)
    day_ends = (int(NOW) // 86400 + 1) * 86400
    assert refused.retry_after == pytest.approx(day_ends - NOW - 1, abs=0.01)
    spend = await ledger.spend("k", NOW)
    assert (spend.day, spend.day_usd, spend.month_usd) == (
        day_of(NOW),
        pytest.approx(1.2),
        pytest.approx(1.2),
    )


async def test_an_unknown_model_is_admitted_one_at_a_time(ledger: Ledger) -> None:
    limits = KeyLimits(daily_budget=10.0)
    assert await ledger.admit("k", "a", "new-model", limits, NOW) is None
    held = await ledger.admit("k", "b", "new-model", limits, NOW)
    assert held is not None
    assert not held.exhausted
    assert held.reason == "daily-budget"
    await ledger.release("k", "a")
    assert await ledger.admit("k", "b", "new-model", limits, NOW) is None


async def test_settle_replaces_the_reservation_with_the_cost(ledger: Ledger) -> None:
    limits = KeyLimits(daily_budget=1.0)
    assert await ledger.admit("k", "warm", "m", limits, NOW) is None
    await ledger.settle("k", "warm", "m", 0.0, 1, served=True, now=NOW)  # teaches a cost of 0
    assert await ledger.admit("k", "probe", "m", limits, NOW) is None
    await ledger.settle("k", "probe", "m", 0.4, 1, served=True, now=NOW)  # the dearest: 0.4
    # Spent 0.4; each admission reserves 0.4: one fits (0.4 + 0.4), a second would not.
    assert await ledger.admit("k", "r1", "m", limits, NOW) is None
    assert await ledger.admit("k", "r2", "m", limits, NOW) is not None
    await ledger.settle("k", "r1", "m", 0.1, 1, served=True, now=NOW)
    # r1's reservation of 0.4 became its cost of 0.1: 0.5 spent, and 0.4 more fits.
    assert await ledger.admit("k", "r2", "m", limits, NOW) is None
    assert (await ledger.spend("k", NOW)).day_usd == pytest.approx(0.5)


async def test_a_budget_holds_across_three_instances_under_concurrent_waves(
    instances: Instances,
) -> None:
    ledgers = await instances(3)
    limits = KeyLimits(daily_budget=1.0)
    cost = 0.05
    assert await ledgers[0].admit("k", "warm", "m", limits, NOW) is None
    await ledgers[0].settle("k", "warm", "m", cost, 1, served=True, now=NOW)
    admitted = 0

    async def one(wave: int, index: int) -> bool:
        nonlocal admitted
        ledger = ledgers[index % 3]
        request_id = f"w{wave}-r{index}"
        if await ledger.admit("k", request_id, "m", limits, NOW) is not None:
            return False
        admitted += 1
        await asyncio.sleep(0.005 * (index % 4))
        await ledger.settle("k", request_id, "m", cost, 1, served=True, now=NOW)
        return True

    for wave in range(6):  # waves of 60 until the budget is gone
        await asyncio.gather(*(one(wave, i) for i in range(60)))
    spent = [(await ledger.spend("k", NOW)).day_usd for ledger in ledgers]
    assert spent[0] == spent[1] == spent[2]  # one shared total
    assert spent[0] == pytest.approx(cost * (admitted + 1))
    assert 1.0 - cost < spent[0] <= 1.0 + cost + 1e-9
    assert admitted >= 10  # requests really ran side by side while the budget allowed it


async def test_rpm_holds_across_three_instances(instances: Instances) -> None:
    ledgers = await instances(3)
    limits = KeyLimits(rpm=25)
    answers = await asyncio.gather(
        *(ledgers[i % 3].admit("k", f"r{i}", "m", limits, NOW) for i in range(90))
    )
    assert sum(answer is None for answer in answers) == 25
    refusals = [answer for answer in answers if answer is not None]
    assert {refusal.reason for refusal in refusals} == {"rpm"}
    assert all(0 < refusal.retry_after <= 60 for refusal in refusals)


async def test_every_key_expires_except_the_marks(instances: Instances) -> None:
    (ledger,) = await instances(1)
    limits = KeyLimits(rpm=5, tpm=1000, daily_budget=5.0, monthly_budget=50.0)
    assert await ledger.admit("k", "r1", "m", limits, NOW) is None
    await ledger.settle("k", "r1", "m", 0.2, 30, served=True, now=NOW)
    assert await ledger.admit("k", "r2", "m", limits, NOW) is None  # still in flight
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        prefix = ledger._base  # the test looks at the keys the ledger wrote
        ttls = {
            key.decode(): await client.ttl(key)
            async for key in client.scan_iter(match=f"{prefix}*")
        }
    finally:
        await client.aclose()
    lasting = {key.removeprefix(prefix) for key, ttl in ttls.items() if ttl < 0}
    assert lasting == {"seeded", "clients"}
    assert ttls[f"{prefix}k:rpm"] <= 61
    assert ttls[f"{prefix}k:tpm"] <= 61
    assert 86400 < ttls[f"{prefix}k:day:{day_of(NOW)}"] <= 2 * 86400
    assert ttls[f"{prefix}k:month:{month_of(NOW)}"] <= 32 * 86400
    assert 0 < ttls[f"{prefix}k:held"] <= 960


async def test_an_empty_redis_is_seeded_once_from_the_persisted_spend(
    instances: Instances,
) -> None:
    first, second = await instances(2)
    today = Spend(day=day_of(NOW), day_usd=0.5, month=month_of(NOW), month_usd=2.5)
    stale = Spend(day="2001-01-01", day_usd=9.0, month="2001-01", month_usd=9.0)
    first.import_spend({"k": today, "gone": stale})
    second.import_spend({"k": today})  # a second instance with the same document
    assert await first.admit("k", "r1", "m", KeyLimits(daily_budget=1.0), NOW) is None
    await first.release("k", "r1")
    assert await second.admit("k", "r2", "m", KeyLimits(daily_budget=1.0), NOW) is None
    for ledger in (first, second):
        spend = await ledger.spend("k", NOW)
        assert (spend.day_usd, spend.month_usd) == (pytest.approx(0.5), pytest.approx(2.5))
        assert (await ledger.spend("gone", NOW)).day_usd == 0.0
    await second.settle("k", "r2", "m", 0.25, 1, served=True, now=NOW)
    persisted = await first.persisted_spend(NOW)
    assert persisted is not None
    assert persisted["k"].day_usd == pytest.approx(0.75)
    assert persisted["k"].month_usd == pytest.approx(2.75)
    assert set(persisted) == {"k"}


async def test_release_frees_the_reservation_for_every_instance(instances: Instances) -> None:
    first, second = await instances(2)
    limits = KeyLimits(daily_budget=10.0)
    assert await first.admit("k", "a", "new-model", limits, NOW) is None
    assert await second.admit("k", "b", "new-model", limits, NOW) is not None
    await first.release("k", "a")
    assert await second.admit("k", "b", "new-model", limits, NOW) is None


async def test_the_spend_of_an_unlimited_key_is_counted_too(instances: Instances) -> None:
    first, second = await instances(2)
    for index in range(4):  # never admitted: a key without limits is only settled
        await (first, second)[index % 2].settle(
            "free", f"r{index}", "m", 0.125, 10, served=True, now=NOW
        )
    assert (await second.spend("free", NOW)).day_usd == pytest.approx(0.5)


async def test_the_token_window_of_a_key_without_limits_stays_a_minute_long(
    instances: Instances,
) -> None:
    (ledger,) = await instances(1)
    for index in range(5):  # settled only, never admitted: nothing else prunes its window
        now = NOW + 30 * index
        await ledger.settle("free", f"r{index}", "m", 0.0, 10, served=True, now=now)
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        kept = await client.zcard(f"{ledger._base}free:tpm")
    finally:
        await client.aclose()
    assert kept == 2  # the settles at +90 s and +120 s; the older ones left the window


async def test_a_retry_time_never_exceeds_the_window_across_clocks(instances: Instances) -> None:
    first, second = await instances(2)
    limits = KeyLimits(rpm=1)
    assert await first.admit("k", "late-clock", "m", limits, NOW + 0.4) is None
    # The second instance read its clock a moment earlier than the first.
    refused = await second.admit("k", "early-clock", "m", limits, NOW)
    assert refused is not None
    assert refused.reason == "rpm"
    assert refused.retry_after == 60.0
