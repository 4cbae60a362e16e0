"""Selectors: the top available priority tier, then round-robin, fill-first or smooth weighted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest

from aiproxyapi.config import RoutingStrategy
from aiproxyapi.pool import PoolState
from aiproxyapi.pool.selector import pick
from aiproxyapi.routing import Candidate
from tests.factories import FakeClock, candidate, credential

RR = RoutingStrategy.ROUND_ROBIN
FF = RoutingStrategy.FILL_FIRST
WRR = RoutingStrategy.WEIGHTED_ROUND_ROBIN


def picks(
    strategy: RoutingStrategy,
    pool: Sequence[Candidate],
    n: int,
    *,
    state: PoolState | None = None,
    cursor: str = "gpt-4o",
) -> list[str]:
    """Names (credential id without `id-`) of `n` successive picks."""
    state = state or PoolState(clock=FakeClock())
    names = []
    for _ in range(n):
        chosen = pick(strategy, state, cursor, pool)
        names.append(chosen.credential.id.removeprefix("id-") if chosen else "-")
    return names


def pool_of(*names: str, **weights: int) -> list[Candidate]:
    return [candidate(credential(n, weight=weights.get(n, 1))) for n in names]


@pytest.mark.parametrize("strategy", list(RoutingStrategy))
def test_nothing_available_picks_nothing(strategy: RoutingStrategy) -> None:
    assert pick(strategy, PoolState(clock=FakeClock()), "m", []) is None


@pytest.mark.parametrize("strategy", list(RoutingStrategy))
def test_only_the_top_available_priority_tier_is_used(strategy: RoutingStrategy) -> None:
    low = [candidate(credential(n, priority=0)) for n in ("l1", "l2")]
    high = [candidate(credential(n, priority=5)) for n in ("h1", "h2")]
    mid = [candidate(credential("m1", priority=2))]
    assert set(picks(strategy, [*low, *high, *mid], 20)) <= {"h1", "h2"}
    # Once the top tier is unavailable (resting or tried), the next tier takes over.
    assert set(picks(strategy, [*low, *mid], 5)) == {"m1"}
    assert set(picks(strategy, low, 20)) <= {"l1", "l2"}


def test_negative_priorities_rank_below_the_default() -> None:
    pool = [candidate(credential("neg", priority=-1)), candidate(credential("zero"))]
    assert picks(FF, pool, 3) == ["zero"] * 3


def test_round_robin_is_fair_and_cycles_in_order() -> None:
    pool = pool_of("a", "b", "c")
    names = picks(RR, pool, 300)
    assert names[:6] == ["a", "b", "c", "a", "b", "c"]
    assert Counter(names) == {"a": 100, "b": 100, "c": 100}


def test_round_robin_keeps_one_turn_counter_per_cursor() -> None:
    state = PoolState(clock=FakeClock())
    pool = pool_of("a", "b")
    assert picks(RR, pool, 1, state=state, cursor="m1") == ["a"]
    assert picks(RR, pool, 1, state=state, cursor="m2") == ["a"]
    assert picks(RR, pool, 3, state=state, cursor="m1") == ["b", "a", "b"]


def test_fill_first_always_takes_the_first_declared() -> None:
    pool = pool_of("a", "b", "c")
    assert picks(FF, pool, 50) == ["a"] * 50
    assert picks(FF, pool[1:], 5) == ["b"] * 5


def test_smooth_weighted_interleaves_5_1_1_in_the_classic_order() -> None:
    pool = pool_of("a", "b", "c", a=5)
    assert picks(WRR, pool, 7) == ["a", "a", "b", "a", "c", "a", "a"]


@pytest.mark.parametrize(
    "weights", [{"a": 5, "b": 1, "c": 1}, {"a": 3, "b": 2, "c": 1}, {"a": 1, "b": 7, "c": 2}]
)
def test_smooth_weighted_gives_exact_proportions_over_whole_cycles(weights: dict[str, int]) -> None:
    pool = pool_of(*weights, **weights)
    cycle = sum(weights.values())
    for cycles in (1, 10):
        assert Counter(picks(WRR, pool, cycle * cycles)) == {
            n: w * cycles for n, w in weights.items()
        }


def test_smooth_weighted_never_picks_weight_zero() -> None:
    pool = pool_of("a", "zero", "c", a=2, zero=0)
    assert Counter(picks(WRR, pool, 30)) == {"a": 20, "c": 10}


def test_smooth_weighted_with_only_weight_zero_left_picks_nothing() -> None:
    assert picks(WRR, pool_of("z1", "z2", z1=0, z2=0), 3) == ["-"] * 3
    assert picks(WRR, pool_of("z", z=0), 3) == ["-"] * 3


def test_smooth_weighted_skips_a_top_tier_of_weight_zero_for_the_next_tier() -> None:
    pool = [
        candidate(credential("top", priority=9, weight=0)),
        candidate(credential("low", priority=0, weight=1)),
    ]
    assert picks(WRR, pool, 3) == ["low"] * 3


def test_weight_zero_still_serves_under_the_other_strategies() -> None:
    pool = pool_of("zero", "b", zero=0)
    assert picks(FF, pool, 2) == ["zero", "zero"]
    assert picks(RR, pool, 2) == ["zero", "b"]
