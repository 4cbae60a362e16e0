"""The cheapest strategy: lowest price first, ties take turns, failover to the next cheapest."""

from __future__ import annotations

import math

import pytest

from aiproxyapi.config import RoutingStrategy
from aiproxyapi.errors import UpstreamFailure
from aiproxyapi.pool import Dispatcher, PoolState, RetryPolicy
from aiproxyapi.pool.selector import pick
from aiproxyapi.routing import Candidate
from tests.factories import FakeClock, candidate, credential, route

CHEAP = RoutingStrategy.CHEAPEST
PRICES = {"id-dear": 20.0, "id-mid": 5.0, "id-cheap": 1.0, "id-cheap2": 1.0, "id-unknown": math.inf}


def price_of(chosen: Candidate) -> float:
    return PRICES[chosen.credential.id]


def names(picked: list[Candidate | None]) -> list[str]:
    return [c.credential.id.removeprefix("id-") if c else "-" for c in picked]


def test_the_lowest_priced_candidate_is_picked_every_time() -> None:
    pool = [candidate(credential(n)) for n in ("dear", "unknown", "cheap", "mid")]
    state = PoolState(clock=FakeClock())
    picked = [pick(CHEAP, state, "m", pool, price_of) for _ in range(5)]
    assert names(picked) == ["cheap"] * 5


def test_equally_cheap_candidates_take_turns() -> None:
    pool = [candidate(credential(n)) for n in ("dear", "cheap", "cheap2")]
    state = PoolState(clock=FakeClock())
    picked = [pick(CHEAP, state, "m", pool, price_of) for _ in range(4)]
    assert names(picked) == ["cheap", "cheap2", "cheap", "cheap2"]


def test_priority_tiers_still_come_first() -> None:
    pool = [candidate(credential("cheap")), candidate(credential("dear", priority=3))]
    assert names([pick(CHEAP, PoolState(clock=FakeClock()), "m", pool, price_of)]) == ["dear"]


def test_unknown_prices_go_last_and_no_price_function_keeps_config_order() -> None:
    pool = [candidate(credential("unknown")), candidate(credential("dear"))]
    state = PoolState(clock=FakeClock())
    assert names([pick(CHEAP, state, "m", pool, price_of)]) == ["dear"]
    assert names([pick(CHEAP, state, "m", pool, None)]) == ["unknown"]


async def test_a_failing_cheapest_candidate_fails_over_to_the_next_cheapest() -> None:
    pool = [candidate(credential(n)) for n in ("dear", "cheap", "mid")]
    policy = RetryPolicy(strategy=CHEAP, request_retry=0)
    dispatcher = Dispatcher(policy, PoolState(clock=FakeClock()), price_of=price_of)
    tried: list[str] = []

    async def attempt(chosen: Candidate) -> str:
        tried.append(chosen.credential.id)
        if chosen.credential.id == "id-cheap":
            raise UpstreamFailure("boom", status=503)
        return chosen.credential.id

    assert await dispatcher.dispatch(route("gpt-4o", *pool), attempt) == "id-mid"
    assert tried == ["id-cheap", "id-mid"]
    # The failed one rests; the next request goes straight to the next cheapest.
    tried.clear()
    assert await dispatcher.dispatch(route("gpt-4o", *pool), attempt) == "id-mid"
    assert tried == ["id-mid"]


@pytest.mark.parametrize("spelling", ["cheapest", "Cheapest", " cheapest "])
def test_the_strategy_name_is_accepted(spelling: str) -> None:
    from aiproxyapi.config import parse_config

    config = parse_config(f"routing:\n  strategy: '{spelling}'\n").config
    assert config.routing.resolved_strategy is CHEAP
