"""Selectors: which available candidate of the top priority tier goes next."""

from __future__ import annotations

from collections.abc import Sequence

from aiproxyapi.config import RoutingStrategy
from aiproxyapi.pool.cheapest import PriceOf, cheapest
from aiproxyapi.pool.state import PoolState
from aiproxyapi.routing import Candidate

__all__ = ["pick", "top_tier"]


def top_tier(strategy: RoutingStrategy, available: Sequence[Candidate]) -> list[Candidate]:
    """The candidates of the highest priority among those the strategy may choose."""
    if strategy is RoutingStrategy.WEIGHTED_ROUND_ROBIN:
        # Weight 0 takes a credential out of the rotation, so it must not hold up a tier either.
        available = [candidate for candidate in available if candidate.credential.weight > 0]
    if not available:
        return []
    top = max(candidate.credential.priority for candidate in available)
    return [candidate for candidate in available if candidate.credential.priority == top]


def pick(
    strategy: RoutingStrategy,
    state: PoolState,
    cursor: str,
    available: Sequence[Candidate],
    price_of: PriceOf | None = None,
    *,
    turn: int | None = None,
    tiered: bool = False,
) -> Candidate | None:
    """Choose among available candidates: the highest priority tier first, then the strategy.

    `turn` is a round-robin turn shared by several instances; without it the local cursor.
    `tiered`: `available` is already the top tier (`top_tier` of the available candidates).
    """
    tier = available if tiered else top_tier(strategy, available)
    if not tier:
        return None
    if len(tier) == 1 or strategy is RoutingStrategy.FILL_FIRST:
        return tier[0]
    if strategy is RoutingStrategy.WEIGHTED_ROUND_ROBIN:
        return _smooth_weighted(state, cursor, tier)
    if strategy is RoutingStrategy.CHEAPEST:
        return cheapest(state, cursor, tier, price_of)
    if turn is not None:
        return tier[turn % len(tier)]
    return _round_robin(state, cursor, tier)


def _round_robin(state: PoolState, cursor: str, tier: Sequence[Candidate]) -> Candidate:
    turn = state.cursors.get(cursor, 0)
    state.cursors[cursor] = turn + 1
    return tier[turn % len(tier)]


def _smooth_weighted(state: PoolState, cursor: str, tier: Sequence[Candidate]) -> Candidate:
    # Smooth weighted round-robin: every turn each candidate gains its weight, the richest is
    # chosen and pays the total back, so picks interleave instead of coming in bursts.
    current = state.weights.setdefault(cursor, {})
    total = 0
    best: Candidate | None = None
    best_score = 0
    for candidate in tier:
        weight = candidate.credential.weight
        total += weight
        score = current.get(candidate.key, 0) + weight
        current[candidate.key] = score
        if best is None or score > best_score:
            best, best_score = candidate, score
    assert best is not None
    current[best.key] = best_score - total
    return best
