"""Mutable pool state that outlives a config reload: cooldowns, counters, cursors.

Keyed by credential id, so a credential that survives a reload keeps its cooldowns and counters,
and a removed one is pruned. Used from one event loop only; no locking needed.

Several instances share their rests through a :class:`PoolListener` (told of every cooldown,
block and reset this instance decides) and apply each other's with the ``adopt_*`` methods,
which never tell the listener (no echo) and never shorten a rest. A :class:`TurnSource`, when
set, advances the round-robin cursors for every instance at once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from aiproxyapi.pool.cooldown import Verdict

__all__ = ["CredentialState", "ModelCooldown", "PoolListener", "PoolState", "TurnSource"]


@dataclass(slots=True)
class ModelCooldown:
    """One (credential, upstream model) pair resting after a failure."""

    until: float
    """Monotonic time at which the pair may be tried again."""
    reason: str
    level: int = 0
    """Quota backoff level: the next 429 without Retry-After waits 2**level seconds."""


@dataclass(slots=True)
class CredentialState:
    """Counters and per-model cooldowns of one credential."""

    success: int = 0
    failed: int = 0
    last_error: str = ""
    cooldowns: dict[str, ModelCooldown] = field(default_factory=dict)


class PoolListener(Protocol):
    """Told of every change of the pool's rests this instance makes (to share them)."""

    def cooled(self, credential_id: str, model: str, cooldown: ModelCooldown) -> None:
        """A pair started resting, rests longer, or its backoff level changed while resting."""

    def blocked(self, credential_id: str, reason: str) -> None:
        """A credential left selection."""

    def unblocked(self, credential_id: str) -> None:
        """A blocked credential came back."""

    def reset(self, credential_id: str | None) -> None:
        """The cooldowns of one credential (None: of all) were cleared."""


class TurnSource(Protocol):
    """Round-robin turns shared by several instances."""

    async def next_turn(self, cursor: str) -> int | None:
        """The next turn of `cursor`; None when it cannot be had now (the local cursor serves)."""


class PoolState:
    """Everything the pool remembers between requests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.credentials: dict[str, CredentialState] = {}
        self.cursors: dict[str, int] = {}
        self.weights: dict[str, dict[str, int]] = {}
        self.cooldown_events: Counter[tuple[str, str]] = Counter()
        """Cooldowns started, by (provider, reason); a monotonic count for metrics."""
        self.blocked: dict[str, str] = {}
        """Credentials out of selection altogether (an OAuth account whose refresh failed)."""
        self.listener: PoolListener | None = None
        """Told of this instance's own changes, to share them with other instances."""
        self.turns: TurnSource | None = None
        """Round-robin turns shared with other instances; None: the local cursors."""
        self.rest_horizon = 0.0
        """The latest end of any rest ever set: once the clock passes it, nothing rests."""

    def all_available(self) -> bool:
        """True when no pair rests and no credential is blocked, found without a scan."""
        return not self.blocked and self.clock() >= self.rest_horizon

    def of(self, credential_id: str) -> CredentialState:
        """The state of one credential, created on first use."""
        state = self.credentials.get(credential_id)
        if state is None:
            state = self.credentials[credential_id] = CredentialState()
        return state

    def resting_until(self, credential_id: str, model: str) -> float:
        """Monotonic time until which the pair rests; 0 when it is available."""
        state = self.credentials.get(credential_id)
        if state is None:
            return 0.0
        cooldown = state.cooldowns.get(model)
        if cooldown is None or cooldown.until <= self.clock():
            return 0.0
        return cooldown.until

    def record_success(self, credential_id: str, model: str) -> None:
        """A successful attempt clears the pair's cooldown and backoff."""
        state = self.of(credential_id)
        state.success += 1
        state.cooldowns.pop(model, None)

    def record_failure(self, credential_id: str, model: str, verdict: Verdict) -> None:
        """Count a failure and rest the pair as the verdict says; never shortens a rest."""
        state = self.of(credential_id)
        state.failed += 1
        state.last_error = verdict.reason
        previous = state.cooldowns.get(model)
        level = previous.level if previous else 0
        if verdict.escalate:
            level += 1
        now = self.clock()
        if verdict.cooldown <= 0:
            if previous is not None and previous.level != level:
                previous.level = level
                if previous.until > now and self.listener is not None:
                    self.listener.cooled(credential_id, model, previous)
            return
        until = now + verdict.cooldown
        if previous is not None and previous.until > until:
            until = previous.until
        cooldown = state.cooldowns[model] = ModelCooldown(until, verdict.reason, level)
        self.rest_horizon = max(self.rest_horizon, until)
        if self.listener is not None:
            self.listener.cooled(credential_id, model, cooldown)

    def backoff_level(self, credential_id: str, model: str) -> int:
        """The current quota backoff level of a pair."""
        state = self.credentials.get(credential_id)
        cooldown = state.cooldowns.get(model) if state else None
        return cooldown.level if cooldown else 0

    def block(self, credential_id: str, reason: str) -> None:
        """Take a credential out of selection until `unblock`."""
        changed = self.blocked.get(credential_id) != reason
        self.blocked[credential_id] = reason
        if changed and self.listener is not None:
            self.listener.blocked(credential_id, reason)

    def unblock(self, credential_id: str) -> None:
        """Return a blocked credential to selection."""
        if self.blocked.pop(credential_id, None) is not None and self.listener is not None:
            self.listener.unblocked(credential_id)

    def reset(self, credential_id: str | None = None) -> None:
        """Clear cooldowns, of one credential or of all (on every instance sharing them)."""
        self.adopt_reset(credential_id)
        if self.listener is not None:
            self.listener.reset(credential_id)

    # -- changes other instances made ------------------------------------------------------

    def adopt_cooldown(
        self, credential_id: str, model: str, until: float, reason: str, level: int
    ) -> None:
        """Rest a pair as another instance decided; a longer rest or higher level here stays."""
        state = self.of(credential_id)
        self.rest_horizon = max(self.rest_horizon, until)
        previous = state.cooldowns.get(model)
        if previous is None:
            state.cooldowns[model] = ModelCooldown(until, reason, level)
            return
        if until > previous.until:
            previous.until, previous.reason = until, reason
        previous.level = max(previous.level, level)

    def adopt_block(self, credential_id: str, reason: str) -> None:
        """Take a credential out of selection as another instance decided."""
        self.blocked[credential_id] = reason

    def adopt_unblock(self, credential_id: str) -> None:
        """Return a credential another instance found usable again."""
        self.blocked.pop(credential_id, None)

    def adopt_reset(self, credential_id: str | None) -> None:
        """Clear cooldowns, of one credential or of all, without telling the listener."""
        targets = [credential_id] if credential_id else list(self.credentials)
        for target in targets:
            if target in self.credentials:
                self.credentials[target].cooldowns.clear()

    def prune(self, keep: Iterable[str]) -> None:
        """Forget credentials that no longer exist after a reload."""
        alive = set(keep)
        for gone in [cid for cid in self.credentials if cid not in alive]:
            del self.credentials[gone]
        for weights in self.weights.values():
            # Keyed by candidate key, "<credential id>|<upstream model>".
            for gone in [key for key in weights if key.partition("|")[0] not in alive]:
                del weights[gone]
