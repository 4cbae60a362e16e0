"""Cluster usage totals in Redis: every instance's counts add up, once, through outages.

Instances are ClusterUsage objects on their own links and books, sharing one key prefix of the
machine's Redis (or a private redis-server for the outages). Each record goes to the book and
to the cluster delta, as the gateway's usage sink does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from aiproxyapi.usage import UsageBook, UsageRecord, UsageSnapshot
from aiproxyapi.usage.cluster import ClusterUsage, instance_id_at
from tests.support.redis_server import RedisServer
from tests.support.redis_shared import shared_links, unique_prefix

Instances = Callable[[int], Awaitable[list[ClusterUsage]]]


def record(request_id: str, **overrides: Any) -> UsageRecord:
    fields: dict[str, Any] = {
        "timestamp": 1_764_633_600.0 + 3600 * (hash(request_id) % 3),  # 2025-12-02, three hours
        "request_id": request_id,
        "endpoint": "POST /v1/chat/completions",
        "client": "key-aaaa0001",
        "credential": "openai-1",
        "provider": "openai",
        "requested_model": "m1",
        "upstream_model": "m1",
        "input_tokens": 9,
        "output_tokens": 12,
        "total_tokens": 21,
        "latency_ms": 10.0,
        "status": 200,
        "failed": False,
        "cost_usd": 0.021,
    }
    fields.update(overrides)
    return UsageRecord(**fields)


def served(cluster: ClusterUsage, book: UsageBook, rec: UsageRecord) -> None:
    """What the gateway's usage sink does with one record."""
    book.add(rec)
    cluster.add(rec)


@pytest.fixture
async def instances() -> AsyncIterator[Instances]:
    async with shared_links() as make:

        async def build(count: int) -> list[ClusterUsage]:
            return [ClusterUsage(await make(), UsageBook(), f"i{index}") for index in range(count)]

        yield build


def _book(cluster: ClusterUsage) -> UsageBook:
    return cluster._book


def _same_counts(shared: UsageSnapshot, expected: UsageSnapshot) -> None:
    for field in shared.totals.__struct_fields__:
        got, want = getattr(shared.totals, field), getattr(expected.totals, field)
        assert got == (want if isinstance(want, int) else pytest.approx(want)), field
    for name in ("by_client", "by_model", "by_provider", "by_credential", "by_day", "by_hour"):
        got, want = getattr(shared, name), getattr(expected, name)
        assert set(got) == set(want), name
        for key, tally in want.items():
            assert got[key].requests == tally.requests, (name, key)
            assert got[key].total_tokens == tally.total_tokens, (name, key)
            assert got[key].cost_usd == pytest.approx(tally.cost_usd), (name, key)


async def test_three_instances_read_the_sum_of_their_counts(instances: Instances) -> None:
    clusters = await instances(3)
    expected = UsageBook()
    for index in range(90):
        rec = record(
            f"r{index}",
            client=f"key-0000000{index % 2}",
            requested_model=("m1", "m2", "m3")[index % 3],
            credential=f"cred-{index % 4}",
            failed=index % 10 == 0,
            total_tokens=index,
        )
        expected.add(rec)
        cluster = clusters[index % 3]
        served(cluster, _book(cluster), rec)
    assert all(await asyncio.gather(*(cluster.flush() for cluster in clusters)))
    for cluster in clusters:
        shared = await cluster.read()
        assert shared is not None
        _same_counts(shared, expected.snapshot())
        assert shared.totals.requests == 90
        assert shared.totals.failures == 9
        assert shared.totals.total_tokens == sum(range(90))


async def test_a_book_with_history_is_seeded_once_not_added_to_its_deltas(
    instances: Instances,
) -> None:
    (cluster,) = await instances(1)
    history = UsageBook()
    for index in range(5):
        history.add(record(f"old-{index}"))
    _book(cluster).merge_snapshot(history.snapshot())  # loaded from the instance's document
    for index in range(2):
        served(cluster, _book(cluster), record(f"new-{index}"))
    assert await cluster.flush()
    served(cluster, _book(cluster), record("later"))
    assert await cluster.flush()
    shared = await cluster.read()
    assert shared is not None
    assert shared.totals.requests == 8
    assert shared.totals.total_tokens == 8 * 21


async def test_an_import_reaches_the_cluster_totals(instances: Instances) -> None:
    first, second = await instances(2)
    imported = UsageBook()
    imported.add(record("imported", client="key-bbbb0002"))
    _book(first).merge_snapshot(imported.snapshot())
    first.merge_snapshot(imported.snapshot())
    served(second, _book(second), record("seen"))
    assert await first.flush()
    assert await second.flush()
    shared = await second.read()
    assert shared is not None
    assert shared.totals.requests == 2
    assert shared.by_client["key-bbbb0002"].requests == 1


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 20
    while not await check():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


@pytest.mark.invariant(13)
async def test_a_hung_redis_loses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as server:
        async with shared_links(server.url, prefix=unique_prefix("usage-hang"), bound=0.3) as make:
            cluster = ClusterUsage(await make(), UsageBook(), "a", bound=0.3)
            other = ClusterUsage(await make(), UsageBook(), "b", bound=0.3)
            for index in range(4):
                served(cluster, _book(cluster), record(f"before-{index}"))
            served(other, _book(other), record("other"))
            assert await cluster.flush()
            assert await other.flush()
            server.pause()
            try:
                for index in range(6):
                    served(cluster, _book(cluster), record(f"during-{index}"))
                # This push reaches the hung server and times out; Redis runs it on resume.
                assert not await cluster.flush()
                assert await cluster.read() is None  # the gateway shows its own book meanwhile
                for index in range(3):
                    served(cluster, _book(cluster), record(f"queued-{index}"))
            finally:
                server.resume()

            async def complete() -> bool:
                shared = await other.read()
                return shared is not None and not cluster.owed and shared.totals.requests >= 14

            await _until(complete, "the outage's usage never reached Redis")
            await asyncio.sleep(0.3)  # a late duplicate would land by now
            shared = await other.read()
            assert shared is not None
            assert shared.totals.requests == 4 + 1 + 6 + 3
            assert shared.totals.total_tokens == 14 * 21


@pytest.mark.invariant(13)
async def test_a_first_push_into_a_hung_redis_still_seeds_once(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as server:
        async with shared_links(server.url, prefix=unique_prefix("usage-first"), bound=0.3) as make:
            cluster = ClusterUsage(await make(), UsageBook(), "a", bound=0.3)
            for index in range(3):
                served(cluster, _book(cluster), record(f"before-{index}"))
            server.pause()
            try:
                assert not await cluster.flush()  # never seeded yet; Redis runs it on resume
                assert not await cluster.flush()  # the link is down: nothing is sent
                for index in range(2):
                    served(cluster, _book(cluster), record(f"during-{index}"))
            finally:
                server.resume()

            async def complete() -> bool:
                shared = await cluster.read()
                return shared is not None and not cluster.owed and shared.totals.requests >= 5

            await _until(complete, "the first push never reached Redis")
            await asyncio.sleep(0.3)
            shared = await cluster.read()
            assert shared is not None
            assert shared.totals.requests == 5


@pytest.mark.invariant(13)
async def test_a_restarted_empty_redis_gets_every_book_again(tmp_path: Path) -> None:
    with RedisServer(tmp_path) as server:
        prefix = unique_prefix("usage-restart")
        async with shared_links(server.url, prefix=prefix, bound=0.3) as make:
            first = ClusterUsage(await make(), UsageBook(), "a", bound=0.3)
            second = ClusterUsage(await make(), UsageBook(), "b", bound=0.3)
            for index in range(3):
                served(first, _book(first), record(f"a-{index}"))
                served(second, _book(second), record(f"b-{index}"))
            assert await first.flush()
            assert await second.flush()
            server.stop()
            served(first, _book(first), record("a-down"))
            assert not await first.flush()
            server.start()

            async def complete() -> bool:
                served(second, _book(second), record(f"b-{time.monotonic()}"))
                await second.flush()
                await first.flush()
                shared = await first.read()
                return shared is not None and shared.totals.requests == (
                    _book(first).snapshot().totals.requests
                    + _book(second).snapshot().totals.requests
                )

            await _until(complete, "the books never added up again after the restart")


def test_the_instance_name_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "usage" / "instance-id"
    name = instance_id_at(path)
    assert len(name) == 16
    assert instance_id_at(path) == name
    assert path.stat().st_mode & 0o777 == 0o600
