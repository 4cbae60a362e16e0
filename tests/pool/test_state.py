"""PoolState: rests per (credential, model), never shortened, cleared by success, pruned on reload."""

from __future__ import annotations

from aiproxyapi.config import RoutingStrategy
from aiproxyapi.errors import Blame
from aiproxyapi.pool import PoolState, Verdict, judge
from aiproxyapi.pool.selector import pick
from tests.factories import FakeClock, candidate, credential


def rest(seconds: float, *, escalate: bool = False, reason: str = "test") -> Verdict:
    return Verdict(Blame.UPSTREAM, seconds, reason, escalate=escalate)


def quota_429(state: PoolState, credential_id: str, model: str) -> float:
    """Judge a 429 without Retry-After at the pair's level and record it; the rest it got."""
    verdict = judge(
        429, {}, b"", backoff_level=state.backoff_level(credential_id, model), transient=60.0
    )
    state.record_failure(credential_id, model, verdict)
    return verdict.cooldown


def test_a_pair_rests_until_its_cooldown_ends() -> None:
    clock = FakeClock()
    state = PoolState(clock=clock)
    assert state.resting_until("c", "m") == 0.0
    state.record_failure("c", "m", rest(30))
    assert state.resting_until("c", "m") == clock.now + 30
    clock.advance(29.9)
    assert state.resting_until("c", "m") > 0
    clock.advance(0.1)
    assert state.resting_until("c", "m") == 0.0


def test_rests_are_per_credential_and_per_model() -> None:
    state = PoolState(clock=FakeClock())
    state.record_failure("c", "m1", rest(30))
    assert state.resting_until("c", "m1") > 0
    assert state.resting_until("c", "m2") == 0.0
    assert state.resting_until("other", "m1") == 0.0


def test_a_shorter_cooldown_never_shortens_a_longer_rest() -> None:
    clock = FakeClock()
    state = PoolState(clock=clock)
    state.record_failure("c", "m", rest(600))
    state.record_failure("c", "m", rest(5))
    assert state.resting_until("c", "m") == clock.now + 600
    clock.advance(100)
    state.record_failure("c", "m", rest(1000))
    assert state.resting_until("c", "m") == clock.now + 1000


def test_failures_are_counted_with_the_last_reason() -> None:
    state = PoolState(clock=FakeClock())
    state.record_failure("c", "m", rest(1, reason="upstream_500"))
    state.record_failure("c", "m", rest(0, reason="client_400"))
    assert state.of("c").failed == 2
    assert state.of("c").last_error == "client_400"


def test_zero_cooldown_rests_nothing() -> None:
    state = PoolState(clock=FakeClock())
    state.record_failure("c", "m", rest(0))
    assert state.resting_until("c", "m") == 0.0
    assert state.of("c").cooldowns == {}


def test_quota_backoff_escalates_then_success_clears_it() -> None:
    clock = FakeClock()
    state = PoolState(clock=clock)
    waits = []
    for _ in range(4):
        waits.append(quota_429(state, "c", "m"))
        clock.advance(waits[-1])  # the rest ends, the level stays
        assert state.resting_until("c", "m") == 0.0
    assert waits == [1.0, 2.0, 4.0, 8.0]
    assert state.backoff_level("c", "m") == 4
    # A non-quota failure keeps the level; it neither raises nor drops it.
    state.record_failure("c", "m", rest(1))
    assert state.backoff_level("c", "m") == 4

    state.record_success("c", "m")
    assert state.backoff_level("c", "m") == 0
    assert state.resting_until("c", "m") == 0.0
    assert state.of("c").success == 1
    assert quota_429(state, "c", "m") == 1.0


def test_success_ends_a_rest_at_once() -> None:
    state = PoolState(clock=FakeClock())
    state.record_failure("c", "m", rest(600))
    state.record_success("c", "m")
    assert state.resting_until("c", "m") == 0.0


def test_escalation_without_cooldown_still_raises_the_level_of_a_known_pair() -> None:
    clock = FakeClock()
    state = PoolState(clock=clock)
    state.record_failure("c", "m", rest(10, escalate=True))
    state.record_failure("c", "m", rest(0, escalate=True))
    assert state.backoff_level("c", "m") == 2
    assert state.resting_until("c", "m") == clock.now + 10


def test_reset_clears_one_credential_or_all() -> None:
    state = PoolState(clock=FakeClock())
    for cid in ("a", "b"):
        state.record_failure(cid, "m", rest(100, escalate=True))
    state.reset("a")
    assert state.resting_until("a", "m") == 0.0
    assert state.backoff_level("a", "m") == 0
    assert state.resting_until("b", "m") > 0
    state.reset()
    assert state.resting_until("b", "m") == 0.0
    state.reset("never-seen")  # unknown ids are ignored


def test_prune_forgets_removed_credentials_and_keeps_survivors() -> None:
    state = PoolState(clock=FakeClock())
    state.record_failure("id-a", "m", rest(100))
    state.record_failure("id-b", "m", rest(100))
    state.prune(["id-a"])
    assert set(state.credentials) == {"id-a"}
    assert state.resting_until("id-a", "m") > 0
    assert state.resting_until("id-b", "m") == 0.0


def test_prune_keeps_the_weighted_turns_of_surviving_candidates() -> None:
    # `weights` is keyed by cursor, then by candidate key "<credential id>|<model>".
    a, b, c = (credential(n, weight=w) for n, w in (("a", 3), ("b", 2), ("c", 1)))
    state = PoolState(clock=FakeClock())
    chosen = pick(
        RoutingStrategy.WEIGHTED_ROUND_ROBIN,
        state,
        "gpt-4o",
        [candidate(a), candidate(b), candidate(c)],
    )
    assert chosen == candidate(a)
    before = dict(state.weights["gpt-4o"])
    # Mid-cycle: a has paid for its turn (3 - 6), b and c carry credit (2, 1).
    assert before == {candidate(a).key: -3, candidate(b).key: 2, candidate(c).key: 1}

    state.prune([a.id, b.id])
    assert state.weights["gpt-4o"] == {candidate(a).key: -3, candidate(b).key: 2}
