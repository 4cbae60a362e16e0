"""The shared refresh lock: three account books on one store renew a token with one call."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiproxyapi.accounts import AccountBook, Lifecycle, LockUnavailable, Minted, RefreshFailed
from aiproxyapi.accounts.records import AccountRecord
from aiproxyapi.pool import PoolState
from aiproxyapi.shared import RedisLink, SharedRefreshLock
from auth.errors import RefreshError
from storage import FileStore
from tests.support.oauth_records import record
from tests.support.redis_server import RedisServer

NAME = "claude-a.json"


class Provider:
    """A token endpoint that counts calls and can be held open."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.fail: RefreshError | None = None

    async def refresh(self, data: dict[str, Any], *, client: httpx.AsyncClient) -> dict[str, Any]:
        self.calls += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return {
            **data,
            "access_token": f"tok-{self.calls + 1}",
            "expires_at": time.time() + 8 * 3600,
        }

    def lifecycle(self) -> Lifecycle:
        async def mint(rec: AccountRecord, client: httpx.AsyncClient) -> Minted:
            raise AssertionError("nothing is minted here")

        return Lifecycle(
            refresh=self.refresh,
            lead_seconds=lambda kind: 4 * 3600.0,
            expires_at=lambda data: data.get("expires_at"),
            mint=mint,
        )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as running:
        yield running


@pytest.fixture
async def books(
    server: RedisServer, tmp_path: Path
) -> AsyncIterator[tuple[Provider, list[AccountBook], list[RedisLink]]]:
    provider = Provider()
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    client = httpx.AsyncClient()
    shared_dir = tmp_path / "auths"
    data = record("claude", "tok-1", expires_at=time.time() + 60)  # due: inside the lead
    FileStore(shared_dir, tmp_path / "config.yaml")
    shared_dir.mkdir(parents=True, exist_ok=True)
    (shared_dir / NAME).write_bytes(json.dumps(data).encode())
    links, made = [], []
    for _ in range(3):
        link = RedisLink(server.url, prefix, timeout=0.5, probe_max=0.3)
        await link.start()
        book = AccountBook(
            FileStore(shared_dir, tmp_path / "config.yaml"),
            PoolState(),
            provider.lifecycle(),
            client_for=lambda _proxy: client,
            lock=SharedRefreshLock(link),
        )
        book.upsert(NAME, (shared_dir / NAME).read_bytes())
        links.append(link)
        made.append(book)
    yield provider, made, links
    for link in links:
        await link.close()
    await client.aclose()


async def test_three_instances_renew_a_token_with_one_call(
    books: tuple[Provider, list[AccountBook], list[RedisLink]],
) -> None:
    provider, made, _ = books
    assert all(book.due() == [NAME] for book in made)
    renewals = [asyncio.create_task(book.refresh(NAME, "due before expiry")) for book in made]
    await asyncio.sleep(0.3)
    assert provider.calls == 1  # the other two wait on the lock
    provider.gate.set()
    grants = await asyncio.wait_for(asyncio.gather(*renewals), 10)
    assert provider.calls == 1
    assert {grant.access_token.reveal() for grant in grants} == {"tok-2"}
    assert all(book.due() == [] for book in made)


async def test_a_failed_refresh_is_not_repeated_by_the_instances_that_waited(
    books: tuple[Provider, list[AccountBook], list[RedisLink]],
) -> None:
    provider, made, _ = books
    provider.fail = RefreshError("claude refresh: token endpoint answered 503")
    renewals = [asyncio.create_task(book.refresh(NAME, "due before expiry")) for book in made]
    await asyncio.sleep(0.3)
    provider.gate.set()
    outcomes = await asyncio.wait_for(asyncio.gather(*renewals, return_exceptions=True), 10)
    assert all(isinstance(outcome, RefreshFailed) for outcome in outcomes), outcomes
    assert provider.calls == 1
    assert sum("another instance failed" in str(outcome) for outcome in outcomes) == 2
    assert all(book.accounts[NAME].status.value == "error" for book in made)


async def test_a_later_instance_takes_the_stored_record_instead_of_refreshing(
    books: tuple[Provider, list[AccountBook], list[RedisLink]],
) -> None:
    provider, made, _ = books
    provider.gate.set()
    first = await made[0].refresh(NAME, "due before expiry")
    # The second instance has not seen the new record yet: its copy is still the stale one.
    assert made[1].accounts[NAME].grant.access_token.reveal() == "tok-1"
    second = await made[1].refresh(NAME, "upstream answered 401")
    assert provider.calls == 1
    assert second.access_token == first.access_token


@pytest.mark.invariant(13)
async def test_without_redis_each_instance_refreshes_as_alone(
    server: RedisServer, books: tuple[Provider, list[AccountBook], list[RedisLink]]
) -> None:
    provider, made, links = books
    server.stop()
    provider.gate.set()
    with pytest.raises(LockUnavailable):
        await SharedRefreshLock(links[0]).acquire(NAME)
    grant = await asyncio.wait_for(made[0].refresh(NAME, "due before expiry"), 5)
    assert grant.access_token.reveal() == "tok-2"
    assert provider.calls == 1


async def test_a_release_never_frees_a_lock_taken_since(server: RedisServer) -> None:
    link = RedisLink(server.url, f"t-{uuid.uuid4().hex[:8]}:", timeout=0.5)
    await link.start()
    try:
        lock = SharedRefreshLock(link, lease=0.2)
        first = await lock.acquire(NAME)
        assert first is not None
        assert await lock.acquire(NAME) is None
        await asyncio.sleep(0.3)  # the lease lapsed
        second = await lock.acquire(NAME)
        assert second is not None
        await lock.release(NAME, first)  # late: must not free the second holder's lock
        assert await lock.held(NAME) == ""
        await lock.release(NAME, second)
        assert await lock.held(NAME) is None
    finally:
        await link.close()
