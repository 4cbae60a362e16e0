"""Dispatcher: failover by blame, client faults returned at once, cooldown errors, retry rounds."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import pytest

from aiproxyapi.config import RoutingStrategy
from aiproxyapi.errors import (
    Blame,
    CooldownError,
    NoCredentialError,
    UpstreamError,
    UpstreamFailure,
)
from aiproxyapi.pool import Dispatcher, PoolState, RetryPolicy, Verdict
from aiproxyapi.routing import Candidate, Route
from tests.factories import FakeClock, candidate, credential, route

Outcome = str | UpstreamFailure


def failure(
    status: int | None, body: bytes = b"", *, timed_out: bool = False, **headers: str
) -> UpstreamFailure:
    return UpstreamFailure(
        f"status {status}",
        status=status,
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        body=body,
        timed_out=timed_out,
    )


class Upstream:
    """A scripted attempt: each credential answers from its own list; the last answer repeats."""

    def __init__(self, **scripts: Outcome | list[Outcome]) -> None:
        self.scripts = {
            f"id-{name}": list(s) if isinstance(s, list) else [s] for name, s in scripts.items()
        }
        self.calls: list[str] = []

    async def __call__(self, chosen: Candidate) -> str:
        self.calls.append(chosen.credential.id.removeprefix("id-"))
        script = self.scripts[chosen.credential.id]
        outcome = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(outcome, UpstreamFailure):
            raise outcome
        return outcome


def pool_route(names: Iterable[str], model: str = "gpt-4o") -> Route:
    return route(model, *(candidate(credential(n, models=(model,))) for n in names))


def dispatcher(clock: FakeClock | None = None, **policy: Any) -> Dispatcher:
    """A fill-first dispatcher (deterministic order) on a fake clock, unless told otherwise."""
    settings: dict[str, Any] = {"strategy": RoutingStrategy.FILL_FIRST, **policy}
    return Dispatcher(RetryPolicy(**settings), PoolState(clock=clock or FakeClock()))


def resting(d: Dispatcher, name: str, model: str = "gpt-4o") -> float:
    """Seconds the pair still rests (0 when available)."""
    until = d.state.resting_until(f"id-{name}", model)
    return max(0.0, until - d.state.clock()) if until else 0.0


async def test_first_success_is_returned_and_counted() -> None:
    d = dispatcher()
    upstream = Upstream(a="answer-a", b="answer-b")
    assert await d.dispatch(pool_route("ab"), upstream) == "answer-a"
    assert upstream.calls == ["a"]
    assert d.state.of("id-a").success == 1


@pytest.mark.parametrize(
    ("first", "rest"),
    [
        (failure(429, retry_after="20"), 20.0),
        (failure(500), 60.0),
        (failure(401), 1800.0),
        (failure(None), 60.0),
        (failure(404), 12 * 3600.0),
    ],
    ids=["429", "500", "401", "transport", "404"],
)
async def test_a_failed_credential_rests_and_the_next_one_answers(
    first: UpstreamFailure, rest: float
) -> None:
    d = dispatcher()
    upstream = Upstream(a=first, b="answer-b")
    assert await d.dispatch(pool_route("ab"), upstream) == "answer-b"
    assert upstream.calls == ["a", "b"]
    assert resting(d, "a") == rest
    assert resting(d, "b") == 0.0
    # While it rests, the next request goes straight to the other credential.
    upstream.calls.clear()
    assert await d.dispatch(pool_route("ab"), upstream) == "answer-b"
    assert upstream.calls == ["b"]


@pytest.mark.parametrize("status", [400, 413, 422])
@pytest.mark.invariant(12)
async def test_a_client_fault_is_returned_at_once_and_cools_nothing(status: int) -> None:
    d = dispatcher()
    body = b'{"error":{"message":"messages: field required","type":"invalid_request_error"}}'
    upstream = Upstream(a=failure(status, body), b="answer-b")
    with pytest.raises(UpstreamError) as caught:
        await d.dispatch(pool_route("ab"), upstream)
    error = caught.value
    assert error.blame is Blame.CLIENT
    assert error.status == status
    assert error.body == body
    assert upstream.calls == ["a"]
    assert resting(d, "a") == 0.0
    assert d.state.of("id-a").failed == 0


async def test_everything_resting_before_any_attempt_is_a_cooldown_error() -> None:
    clock = FakeClock()
    d = dispatcher(clock, max_retry_interval=30.0)
    for name in ("id-a", "id-b"):
        d.state.record_failure(name, "gpt-4o", Verdict(Blame.QUOTA, 600.0, "quota"))
    clock.advance(100)
    upstream = Upstream(a="answer-a", b="answer-b")
    with pytest.raises(CooldownError) as caught:
        await d.dispatch(pool_route("ab"), upstream)
    assert upstream.calls == []
    assert caught.value.status == 429
    assert caught.value.code == "model_cooldown"
    assert caught.value.headers == {"Retry-After": "500"}


async def test_429_on_every_credential_is_a_cooldown_error_with_the_earliest_end() -> None:
    d = dispatcher(max_retry_interval=30.0)
    upstream = Upstream(a=failure(429, retry_after="120"), b=failure(429, retry_after="90"))
    with pytest.raises(CooldownError) as caught:
        await d.dispatch(pool_route("ab"), upstream)
    assert upstream.calls == ["a", "b"]  # no extra round: 90 s is beyond max-retry-interval
    assert caught.value.status == 429
    assert caught.value.headers == {"Retry-After": "90"}


async def test_a_retry_round_waits_for_a_short_rest_then_succeeds() -> None:
    d = Dispatcher(
        RetryPolicy(request_retry=1, max_retry_interval=2.0), PoolState(clock=time.monotonic)
    )
    upstream = Upstream(a=[failure(429, retry_after_ms="100"), "answer-a"])
    started = time.monotonic()
    assert await d.dispatch(pool_route("a"), upstream) == "answer-a"
    assert time.monotonic() - started >= 0.1
    assert upstream.calls == ["a", "a"]
    assert d.state.backoff_level("id-a", "gpt-4o") == 0  # success cleared the backoff


async def test_a_request_arriving_during_a_short_rest_waits_for_it() -> None:
    d = Dispatcher(
        RetryPolicy(request_retry=1, max_retry_interval=2.0), PoolState(clock=time.monotonic)
    )
    d.state.record_failure("id-a", "gpt-4o", Verdict(Blame.QUOTA, 0.08, "quota"))
    upstream = Upstream(a="answer-a")
    started = time.monotonic()
    assert await d.dispatch(pool_route("a"), upstream) == "answer-a"
    assert time.monotonic() - started >= 0.08
    assert upstream.calls == ["a"]


async def test_no_extra_round_when_the_rest_is_longer_than_max_retry_interval() -> None:
    d = Dispatcher(
        RetryPolicy(request_retry=3, max_retry_interval=0.05), PoolState(clock=time.monotonic)
    )
    upstream = Upstream(a=[failure(429, retry_after_ms="200"), "answer-a"])
    started = time.monotonic()
    with pytest.raises(CooldownError):
        await d.dispatch(pool_route("a"), upstream)
    assert time.monotonic() - started < 0.2  # a wait would take the full 200 ms
    assert upstream.calls == ["a"]


async def test_request_retry_bounds_the_number_of_rounds() -> None:
    d = Dispatcher(
        RetryPolicy(strategy=RoutingStrategy.FILL_FIRST, request_retry=2, max_retry_interval=1.0),
        PoolState(clock=time.monotonic),
    )
    upstream = Upstream(a=failure(429, retry_after_ms="20"), b=failure(429, retry_after_ms="20"))
    with pytest.raises(CooldownError):
        await d.dispatch(pool_route("ab"), upstream)
    assert upstream.calls == ["a", "b"] * 3


async def test_max_retry_credentials_caps_the_attempts_of_a_round() -> None:
    d = dispatcher(request_retry=0, max_retry_credentials=2)
    body = b'{"error":"overloaded"}'
    upstream = Upstream(**{n: failure(503, body) for n in "abcd"})
    with pytest.raises(UpstreamError) as caught:
        await d.dispatch(pool_route("abcd"), upstream)
    assert upstream.calls == ["a", "b"]
    assert caught.value.blame is Blame.UPSTREAM
    assert caught.value.status == 503
    assert caught.value.body == body
    assert resting(d, "c") == resting(d, "d") == 0.0


async def test_disable_cooling_rests_nothing() -> None:
    d = dispatcher(disable_cooling=True, request_retry=0)
    upstream = Upstream(
        a=[failure(429, retry_after="600"), "answer-a"], b=[failure(401), "answer-b"]
    )
    with pytest.raises(NoCredentialError):  # the last refusal was b's 401
        await d.dispatch(pool_route("ab"), upstream)
    assert upstream.calls == ["a", "b"]
    assert resting(d, "a") == resting(d, "b") == 0.0
    # Failures are still counted; only the rest is gone.
    assert d.state.of("id-a").failed == 1
    assert await d.dispatch(pool_route("ab"), upstream) == "answer-a"


async def test_disable_cooling_retries_rounds_without_waiting() -> None:
    d = dispatcher(disable_cooling=True, request_retry=2)
    upstream = Upstream(a=[failure(500), failure(500), "answer-a"])
    assert await d.dispatch(pool_route("a"), upstream) == "answer-a"
    assert upstream.calls == ["a", "a", "a"]


@pytest.mark.parametrize(
    ("timed_out", "status", "code"),
    [(False, 502, "upstream_error"), (True, 504, "upstream_timeout")],
)
async def test_transport_failure_everywhere_is_a_bad_gateway_or_timeout(
    timed_out: bool, status: int, code: str
) -> None:
    d = dispatcher()
    upstream = Upstream(a=failure(None, timed_out=timed_out), b=failure(None, timed_out=timed_out))
    with pytest.raises(UpstreamError) as caught:
        await d.dispatch(pool_route("ab"), upstream)
    assert upstream.calls == ["a", "b"]
    assert caught.value.status == status
    assert caught.value.code == code
    assert caught.value.blame is Blame.TRANSPORT


async def test_refused_credentials_everywhere_is_no_credential_without_the_key() -> None:
    d = dispatcher()
    upstream = Upstream(a=failure(401), b=failure(403))
    with pytest.raises(NoCredentialError) as caught:
        await d.dispatch(pool_route("ab"), upstream)
    assert caught.value.status == 503
    assert "403" in caught.value.message
    assert "sk-secret" not in caught.value.message


async def test_a_route_without_candidates_is_no_credential() -> None:
    with pytest.raises(NoCredentialError):
        await dispatcher().dispatch(route("gpt-4o"), Upstream())


async def test_round_robin_spreads_requests_over_the_pool() -> None:
    d = dispatcher(strategy=RoutingStrategy.ROUND_ROBIN)
    upstream = Upstream(a="answer-a", b="answer-b", c="answer-c")
    answers = [await d.dispatch(pool_route("abc"), upstream) for _ in range(6)]
    assert answers == ["answer-a", "answer-b", "answer-c"] * 2


async def test_a_blocked_credential_is_out_of_selection_until_unblocked() -> None:
    d = dispatcher()
    upstream = Upstream(a="answer-a", b="answer-b")
    d.state.block("id-a", "refresh failed")
    assert await d.dispatch(pool_route("ab"), upstream) == "answer-b"
    assert upstream.calls == ["b"]
    d.state.unblock("id-a")
    assert await d.dispatch(pool_route("ab"), upstream) == "answer-a"


async def test_only_blocked_credentials_is_no_credential_at_once() -> None:
    d = dispatcher()
    d.state.block("id-a", "refresh failed")
    with pytest.raises(NoCredentialError):
        await d.dispatch(pool_route("a"), Upstream(a="answer-a"))


class _CountingState(PoolState):
    """Pool state that counts the per-pair rest lookups a selection makes."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.lookups = 0

    def resting_until(self, credential_id: str, model: str) -> float:
        self.lookups += 1
        return super().resting_until(credential_id, model)


async def test_a_large_pool_with_nothing_resting_picks_without_a_scan() -> None:
    clock = FakeClock()
    state = _CountingState(clock)
    d = Dispatcher(RetryPolicy(strategy=RoutingStrategy.ROUND_ROBIN), state)
    names = [f"c{i}" for i in range(1000)]
    big = pool_route(names)
    upstream = Upstream(**dict.fromkeys(names, "ok"))
    for _ in range(2000):
        await d.dispatch(big, upstream)
    assert state.lookups == 0
    assert upstream.calls == names + names  # round-robin over all, each once per round


async def test_a_rest_or_a_block_is_honoured_on_the_kept_tier() -> None:
    clock = FakeClock()
    d = Dispatcher(RetryPolicy(strategy=RoutingStrategy.ROUND_ROBIN), PoolState(clock=clock))
    pool = pool_route("abc")
    upstream = Upstream(a="a", b="b", c="c")
    for _ in range(3):
        await d.dispatch(pool, upstream)  # the whole tier is kept now
    d.state.record_failure("id-b", "gpt-4o", Verdict(Blame.QUOTA, 30.0, "quota"))
    d.state.block("id-c", "refresh failed")
    upstream.calls.clear()
    for _ in range(4):
        await d.dispatch(pool, upstream)
    assert upstream.calls == ["a"] * 4
    d.state.unblock("id-c")
    clock.advance(31)  # the rest is over: the kept tier serves again, all three in turn
    upstream.calls.clear()
    for _ in range(6):
        await d.dispatch(pool, upstream)
    assert sorted(upstream.calls) == ["a", "a", "b", "b", "c", "c"]


async def test_priority_tiers_hold_on_the_kept_tier() -> None:
    d = Dispatcher(RetryPolicy(strategy=RoutingStrategy.ROUND_ROBIN), PoolState(clock=FakeClock()))
    low, high = credential("low", priority=0), credential("high", priority=5)
    pool = route("gpt-4o", candidate(low), candidate(high))
    upstream = Upstream(low="low", high=failure(500))
    assert await d.dispatch(pool, upstream) == "low"  # high failed over to low
    assert upstream.calls == ["high", "low"]
