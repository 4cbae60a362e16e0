"""The dispatcher: owns the retry loop of one request across the pool.

A round tries each available candidate once, best first. A failure the client caused goes
straight back; any other failure rests the (credential, model) pair and moves on. Extra rounds
(`request-retry`) wait for the earliest rest to end when that is within `max-retry-interval`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from aiproxyapi.config import RoutingStrategy
from aiproxyapi.errors import (
    Blame,
    CooldownError,
    GatewayError,
    NoCredentialError,
    UpstreamError,
    UpstreamFailure,
)
from aiproxyapi.pool.cheapest import PriceOf
from aiproxyapi.pool.cooldown import Verdict, judge
from aiproxyapi.pool.selector import pick, top_tier
from aiproxyapi.pool.state import PoolState
from aiproxyapi.routing import Candidate, Route

__all__ = ["Attempt", "Dispatcher", "RetryPolicy"]

log = logging.getLogger("aiproxyapi.pool")

T = TypeVar("T")
_TIER_CACHE_LIMIT = 4096
Attempt = Callable[[Candidate], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The retry and cooldown knobs of one config version."""

    strategy: RoutingStrategy = RoutingStrategy.ROUND_ROBIN
    request_retry: int = 3
    max_retry_interval: float = 30.0
    max_retry_credentials: int = 0
    disable_cooling: bool = False
    transient_cooldown: float = 60.0


class Dispatcher:
    """Runs attempts over a route's candidates until one succeeds or the policy gives up."""

    def __init__(
        self, policy: RetryPolicy, state: PoolState, *, price_of: PriceOf | None = None
    ) -> None:
        self.policy = policy
        self.state = state
        self.price_of = price_of
        """Candidate prices for the cheapest strategy."""
        self._tiers: dict[int, tuple[tuple[Candidate, ...], list[Candidate]]] = {}
        """The top tier of a route's whole candidate tuple, by the tuple's identity."""

    async def dispatch(self, route: Route, attempt: Attempt[T]) -> T:
        """Run `attempt` on candidates in pool order; return the first success."""
        policy = self.policy
        last: tuple[Candidate, UpstreamFailure, Verdict] | None = None
        for round_number in range(policy.request_retry + 1):
            tried: set[str] = set()
            while not policy.max_retry_credentials or len(tried) < policy.max_retry_credentials:
                tier = self._tier(route, tried)
                turn = None
                if self.state.turns is not None:
                    turn = await self._shared_turn(route.model, tier)
                candidate = pick(
                    policy.strategy,
                    self.state,
                    route.model,
                    tier,
                    self.price_of,
                    turn=turn,
                    tiered=True,
                )
                if candidate is None:
                    break
                tried.add(candidate.key)
                try:
                    result = await attempt(candidate)
                except UpstreamFailure as failure:
                    verdict = self._judge(candidate, failure)
                    last = (candidate, failure, verdict)
                    if not verdict.moves_on:
                        raise _client_fault(failure) from None
                    continue
                self.state.record_success(candidate.credential.id, candidate.upstream_model)
                return result
            wait = self._earliest_rest(route)
            if (
                round_number == policy.request_retry
                or wait is None
                or wait > policy.max_retry_interval
            ):
                break
            # A little jitter keeps concurrent requests from waking on the same tick.
            await asyncio.sleep(wait + random.uniform(0, min(1.0, wait / 4 + 0.05)))  # noqa: S311
        raise self._give_up(route, last)

    async def _shared_turn(self, cursor: str, tier: Sequence[Candidate]) -> int | None:
        """A round-robin turn shared with other instances, when a choice is to be made."""
        turns = self.state.turns
        strategy = self.policy.strategy
        if turns is None or strategy is not RoutingStrategy.ROUND_ROBIN or len(tier) < 2:
            return None
        return await turns.next_turn(cursor)

    def _tier(self, route: Route, tried: set[str]) -> Sequence[Candidate]:
        """The top tier of the candidates that may be tried now.

        The usual case (first try, nothing resting or blocked) costs no scan of the candidates:
        the tier of a route's whole tuple is kept, so a pool of a thousand credentials picks as
        fast as a pool of ten.
        """
        strategy = self.policy.strategy
        candidates = route.candidates
        if tried or not self.state.all_available():
            return top_tier(strategy, self._available(route, tried))
        kept = self._tiers.get(id(candidates))
        if kept is not None and kept[0] is candidates:
            return kept[1]
        tier = top_tier(strategy, candidates)
        if len(self._tiers) >= _TIER_CACHE_LIMIT:
            self._tiers.clear()  # inferred routes are made per client-chosen name
        self._tiers[id(candidates)] = (candidates, tier)
        return tier

    def _available(self, route: Route, tried: set[str]) -> list[Candidate]:
        resting = self.state.resting_until
        blocked = self.state.blocked
        return [
            candidate
            for candidate in route.candidates
            if candidate.key not in tried
            and candidate.credential.id not in blocked
            and not resting(candidate.credential.id, candidate.upstream_model)
        ]

    def _judge(self, candidate: Candidate, failure: UpstreamFailure) -> Verdict:
        credential_id, model = candidate.credential.id, candidate.upstream_model
        verdict = judge(
            failure.status,
            failure.headers,
            failure.body,
            backoff_level=self.state.backoff_level(credential_id, model),
            transient=self.policy.transient_cooldown,
        )
        if self.policy.disable_cooling and verdict.cooldown:
            verdict = Verdict(verdict.blame, 0.0, verdict.reason, verdict.escalate)
        if verdict.moves_on:
            self.state.record_failure(credential_id, model, verdict)
            if verdict.cooldown > 0:
                self.state.cooldown_events[(candidate.credential.provider, verdict.reason)] += 1
            log.warning(
                "upstream attempt failed: credential=%s model=%s status=%s reason=%s cooldown=%.0fs",
                candidate.credential.label,
                model,
                failure.status if failure.status is not None else "-",
                verdict.reason,
                verdict.cooldown,
            )
        return verdict

    def _earliest_rest(self, route: Route) -> float | None:
        """Seconds until some candidate is available again; None when none ever will be."""
        now = self.state.clock()
        ends = [
            self.state.resting_until(c.credential.id, c.upstream_model)
            for c in route.candidates
            if c.credential.id not in self.state.blocked
        ]
        if not ends:
            return None
        if any(end == 0.0 for end in ends):
            return 0.0
        return max(0.0, min(ends) - now)

    def _give_up(
        self, route: Route, last: tuple[Candidate, UpstreamFailure, Verdict] | None
    ) -> GatewayError:
        provider = route.candidates[0].credential.provider if route.candidates else "-"
        wait = self._earliest_rest(route)
        if last is None:
            if wait:
                return CooldownError(route.model, provider, wait)
            return NoCredentialError(route.model)
        candidate, failure, verdict = last
        if verdict.blame is Blame.QUOTA:
            return CooldownError(
                route.model, candidate.credential.provider, wait or verdict.cooldown
            )
        if verdict.blame is Blame.CREDENTIAL:
            error = NoCredentialError(route.model)
            error.message = (
                f"no usable credential for model {route.model}: "
                f"the upstream refused the last one ({failure.status}, {verdict.reason})"
            )
            return error
        if failure.status is None:
            status = 504 if failure.timed_out else 502
            return UpstreamError(
                f"upstream unreachable for model {route.model}: {failure.detail}",
                blame=verdict.blame,
                status=status,
            )
        return UpstreamError(
            f"upstream answered {failure.status} for model {route.model}",
            blame=verdict.blame,
            status=failure.status if failure.status >= 500 else 502,
            body=failure.body,
            content_type=failure.content_type,
        )


def _client_fault(failure: UpstreamFailure) -> UpstreamError:
    """The upstream's own answer to a bad request, to be relayed as it is."""
    return UpstreamError(
        f"upstream rejected the request ({failure.status})",
        blame=Blame.CLIENT,
        status=failure.status or 400,
        body=failure.body,
        content_type=failure.content_type,
        dialect=failure.dialect,
    )
