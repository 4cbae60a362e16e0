"""The Redis ledger through outages of a private redis-server: served locally, handed over once.

A paused server (SIGSTOP) keeps its data: what the outage spent is added to it exactly once. A
restarted one (no persistence) comes back empty: it is seeded from the persisted spend, then
the outage's spend is added. Either way the totals add up.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from aiproxyapi.policy import KeyLimits
from aiproxyapi.policy.redis_ledger import RedisLedger
from aiproxyapi.usage import UsageRecord
from tests.support.redis_server import RedisServer
from tests.support.redis_shared import shared_links, unique_prefix

pytestmark = pytest.mark.timeout(60)

LIMITS = KeyLimits(daily_budget=10.0)


async def _until_shared(ledger: RedisLedger) -> None:
    deadline = time.monotonic() + 20
    while not ledger.shared:
        assert time.monotonic() < deadline, "the ledger never went back to Redis"
        await asyncio.sleep(0.05)


async def _served(ledger: RedisLedger, request_id: str, cost: float) -> None:
    """One request admitted and settled at `cost`."""
    now = time.time()
    assert await ledger.admit("k", request_id, "m", LIMITS, now) is None
    await ledger.settle("k", request_id, "m", cost, 10, served=True, now=now)


@pytest.mark.invariant(13)
async def test_a_hung_redis_serves_locally_and_gets_the_outage_spend_once(
    tmp_path: Path,
) -> None:
    with RedisServer(tmp_path) as server:
        async with shared_links(server.url, prefix=unique_prefix("hang"), bound=0.3) as make:
            ledger = RedisLedger(await make())
            other = RedisLedger(await make())
            await _served(ledger, "warm", 0.5)
            # Admitted through Redis, still running when Redis hangs.
            assert await ledger.admit("k", "long", "m", LIMITS, time.time()) is None
            server.pause()
            try:
                for index in range(3):
                    await _served(ledger, f"alone-{index}", 0.25)
                assert not ledger.shared
                await ledger.settle("k", "long", "m", 1.0, 10, served=True, now=time.time())
                # The local ledger starts from what Redis last said and counts on.
                local = await ledger.spend("k", time.time())
                assert local.day_usd == pytest.approx(0.5 + 0.75 + 1.0)
            finally:
                server.resume()
            await _until_shared(ledger)
            await ledger.sync()  # a second hand-over finds nothing owed
            shared = await other.spend("k", time.time())
            assert shared.day_usd == pytest.approx(0.5 + 0.75 + 1.0)
            assert shared.month_usd == pytest.approx(0.5 + 0.75 + 1.0)
            held = await ledger._link.client.hlen(ledger._key("k", "held"))
            assert held == 0  # no reservation of the outage is left behind
            await _served(other, "after", 0.5)
            assert (await ledger.spend("k", time.time())).day_usd == pytest.approx(2.75)


@pytest.mark.invariant(13)
async def test_a_restarted_empty_redis_is_seeded_then_given_the_outage_spend(
    tmp_path: Path,
) -> None:
    with RedisServer(tmp_path) as server:
        async with shared_links(server.url, prefix=unique_prefix("restart"), bound=0.3) as make:
            ledger = RedisLedger(await make())
            await _served(ledger, "warm", 0.5)
            await _served(ledger, "warm-2", 0.5)
            # The periodic copy into the key-spend document (Admission does this).
            persisted = await ledger.persisted_spend(time.time())
            assert persisted is not None
            assert persisted["k"].day_usd == pytest.approx(1.0)
            server.stop()
            for index in range(2):
                await _served(ledger, f"alone-{index}", 0.25)
            assert not ledger.shared
            assert await ledger.persisted_spend(time.time()) is None  # nothing to trust now
            server.start()
            await _until_shared(ledger)
            fresh = RedisLedger(await make())
            assert (await fresh.spend("k", time.time())).day_usd == pytest.approx(1.5)


async def test_scripts_are_loaded_again_after_redis_forgets_them(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as server:
        async with shared_links(server.url, prefix=unique_prefix("noscript")) as make:
            ledger = RedisLedger(await make())
            await _served(ledger, "one", 0.5)
            await ledger._link.client.script_flush()
            await _served(ledger, "two", 0.5)
            assert ledger.shared
            assert (await ledger.spend("k", time.time())).day_usd == pytest.approx(1.0)


async def test_the_spend_document_holds_the_cluster_totals_and_seeds_a_fresh_redis(
    tmp_path: Path,
) -> None:
    from aiproxyapi.config.client_keys import ClientKeyPolicy
    from aiproxyapi.policy import Admission
    from storage import FileStore

    policy = ClientKeyPolicy(key="k", daily_budget=5.0)
    store = FileStore(tmp_path / "auths", tmp_path / "config.yaml")  # the shared store

    def usage(request_id: str, cost: float) -> UsageRecord:
        return UsageRecord(
            timestamp=time.time(),
            request_id=request_id,
            endpoint="POST /v1/chat/completions",
            client="k",
            credential="c",
            provider="openai",
            requested_model="m",
            upstream_model="m",
            latency_ms=1.0,
            status=200,
            failed=False,
            cost_usd=cost,
        )

    with RedisServer(tmp_path) as server:
        async with shared_links(server.url, prefix=unique_prefix("doc")) as make:
            first = Admission(RedisLedger(await make()), store)
            second = Admission(RedisLedger(await make()), store)
            for index, (desk, cost) in enumerate(((first, 0.75), (second, 0.5), (first, 0.25))):
                await desk.admit(policy, "k", f"r{index}", "m")
                desk.settle(usage(f"r{index}", cost))
                await desk.flush()  # each desk writes the totals Redis holds, not its own
        server.stop()
        server.start()  # empty: no persistence
        async with shared_links(server.url, prefix=unique_prefix("doc")) as make:
            restarted = Admission(RedisLedger(await make()), store)
            await restarted.load()
            await restarted.admit(policy, "k", "after", "m")  # the first script seeds Redis
            spend = await restarted.ledger.spend("k", time.time())
            assert spend.day_usd == pytest.approx(1.5)
