"""The cheapest selector: the lowest-priced candidate of a tier, round-robin among equals.

Failover needs nothing extra: the dispatcher leaves a failed or resting candidate out of the
next pick, so the next-cheapest one is tried. The price is the caller's function (the runtime
passes the blended list price), so the pool knows nothing of price tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiproxyapi.pool.state import PoolState
from aiproxyapi.routing import Candidate

__all__ = ["PriceOf", "cheapest"]

PriceOf = Callable[[Candidate], float]
"""A candidate's price; lower is preferred, ``math.inf`` for unknown."""


def cheapest(
    state: PoolState, cursor: str, tier: Sequence[Candidate], price_of: PriceOf | None
) -> Candidate:
    """The cheapest candidate of a non-empty tier; ties take turns."""
    if price_of is None:
        return tier[0]
    prices = [price_of(candidate) for candidate in tier]
    low = min(prices)
    best = [candidate for candidate, price in zip(tier, prices, strict=True) if price == low]
    if len(best) == 1:
        return best[0]
    # Equally cheap credentials share the load rather than one taking every request.
    key = f"{cursor}|cheapest"
    turn = state.cursors.get(key, 0)
    state.cursors[key] = turn + 1
    return best[turn % len(best)]
