"""Shared cooldowns and cursors: what one pool decides, every pool on the same Redis applies."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from aiproxyapi.config import RoutingStrategy
from aiproxyapi.errors import Blame
from aiproxyapi.pool import Dispatcher, PoolState, RetryPolicy, Verdict
from aiproxyapi.shared import RedisLink, share_pool
from tests.factories import candidate, credential, route
from tests.support.redis_server import RedisServer


def rest(seconds: float, *, escalate: bool = False) -> Verdict:
    return Verdict(Blame.QUOTA, seconds, "quota", escalate=escalate)


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as running:
        yield running


class Instance:
    """One gateway's pool state on the shared Redis."""

    def __init__(self, url: str, prefix: str) -> None:
        self.link = RedisLink(url, prefix, timeout=0.5, probe_max=0.3)
        self.state = PoolState()
        self.shared = share_pool(self.link, self.state)

    def rests(self, credential_id: str, model: str) -> float:
        """Seconds the pair still rests here."""
        end = self.state.resting_until(credential_id, model)
        return max(0.0, end - self.state.clock())


@pytest.fixture
async def fleet(server: RedisServer) -> AsyncIterator[list[Instance]]:
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    made = [Instance(server.url, prefix) for _ in range(3)]
    for instance in made:
        await instance.link.start()
    yield made
    for instance in made:
        await instance.link.close()


async def test_a_rest_reaches_every_instance_with_its_remaining_time(
    fleet: list[Instance],
) -> None:
    a, b, c = fleet
    a.state.record_failure("cred1", "m", rest(30, escalate=True))
    await until(lambda: b.rests("cred1", "m") > 0 and c.rests("cred1", "m") > 0)
    for other in (b, c):
        assert abs(other.rests("cred1", "m") - a.rests("cred1", "m")) < 0.5
        assert other.state.backoff_level("cred1", "m") == 1
    assert b.rests("cred1", "other-model") == 0
    assert b.rests("cred2", "m") == 0


async def test_a_remote_rest_never_shortens_a_local_one(fleet: list[Instance]) -> None:
    a, b, _ = fleet
    b.state.record_failure("cred1", "m", rest(60))
    await until(lambda: a.rests("cred1", "m") > 50)
    a.state.record_failure("cred1", "m", rest(5))
    await asyncio.sleep(0.3)
    assert b.rests("cred1", "m") > 50
    assert a.rests("cred1", "m") > 50


async def test_a_late_instance_loads_the_rests_redis_holds(
    server: RedisServer, fleet: list[Instance]
) -> None:
    a, _, _ = fleet
    a.state.record_failure("cred1", "m", rest(30))
    a.state.block("cred2", "refresh failed")
    await until(lambda: fleet[1].rests("cred1", "m") > 0 and "cred2" in fleet[1].state.blocked)
    late = Instance(server.url, a.link.prefix)
    try:
        await late.link.start()
        assert late.rests("cred1", "m") > 25
        assert late.state.blocked == {"cred2": "refresh failed"}
    finally:
        await late.link.close()


async def test_a_reset_and_an_unblock_clear_it_everywhere(fleet: list[Instance]) -> None:
    a, b, c = fleet
    a.state.record_failure("cred1", "m", rest(30))
    a.state.record_failure("cred1", "m2", rest(30))
    b.state.block("cred2", "refresh failed")
    await until(lambda: c.rests("cred1", "m2") > 0 and "cred2" in c.state.blocked)
    b.state.reset("cred1")
    a.state.unblock("cred2")
    await until(lambda: c.rests("cred1", "m") == 0 and "cred2" not in c.state.blocked)
    assert a.rests("cred1", "m") == 0
    assert a.rests("cred1", "m2") == 0
    assert "cred2" not in b.state.blocked
    # Redis forgot them too: a newcomer sees nothing.
    assert await a.link.call(lambda r: r.zcard(a.link.key("cooldowns"))) == 0
    assert await a.link.call(lambda r: r.hlen(a.link.key("blocked"))) == 0


@pytest.mark.invariant(13)
async def test_what_an_instance_decides_alone_is_shared_once_redis_is_back(
    server: RedisServer, fleet: list[Instance]
) -> None:
    a, b, c = fleet
    server.stop()
    await until(lambda: not any(i.link.up for i in fleet))
    a.state.record_failure("cred1", "m", rest(30))  # seen only by a while Redis is down
    b.state.block("cred2", "refresh failed")
    assert c.rests("cred1", "m") == 0
    server.start()  # an empty Redis: the instances re-publish what they hold
    await until(lambda: all(i.link.up for i in fleet))
    await until(lambda: c.rests("cred1", "m") > 20 and "cred2" in c.state.blocked)
    assert b.rests("cred1", "m") > 20
    assert "cred2" in a.state.blocked


async def test_round_robin_turns_interleave_across_instances(fleet: list[Instance]) -> None:
    creds = [credential(f"k{i}", provider="p") for i in range(3)]
    the_route = route("m", *(candidate(c) for c in creds))
    dispatchers = [
        Dispatcher(RetryPolicy(strategy=RoutingStrategy.ROUND_ROBIN), i.state) for i in fleet
    ]
    picks: list[str] = []

    async def attempt(chosen: object) -> str:
        return chosen.credential.id  # type: ignore[attr-defined]

    for turn in range(30):
        picks.append(await dispatchers[turn % 2].dispatch(the_route, attempt))
    # Two instances alternating still walk the tier in order: every credential takes 10 turns.
    assert [picks.count(c.id) for c in creds] == [10, 10, 10]
    assert picks[:3] == [c.id for c in creds]
