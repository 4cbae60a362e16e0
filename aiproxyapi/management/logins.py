"""Logins started from the management API and still remembered, by their state."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from auth.flow import FlowStatus, LoginFlow

__all__ = ["LoginSessions"]

# A login is forgotten this long after it started, finished or not (a flow times out sooner).
_SESSION_SECONDS = 20 * 60


@dataclass
class _Session:
    flow: LoginFlow
    started: float = field(default_factory=time.monotonic)


class LoginSessions:
    """Logins in progress, by state; finished ones are remembered for a while, then dropped."""

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}

    def _sweep(self) -> None:
        now = time.monotonic()
        for state, session in list(self._sessions.items()):
            if now - session.started > _SESSION_SECONDS:
                del self._sessions[state]

    def pending(self) -> int:
        """How many logins are still waiting."""
        return sum(1 for s in self._sessions.values() if s.flow.status is FlowStatus.WAIT)

    def add(self, state: str, flow: LoginFlow) -> None:
        """Track a started login."""
        self._sweep()
        self._sessions[state] = _Session(flow)

    def get(self, state: str) -> LoginFlow | None:
        """The login of a state, if it is known."""
        self._sweep()
        session = self._sessions.get(state)
        return session.flow if session else None

    def drop(self, state: str) -> LoginFlow | None:
        """Forget a login; returns it."""
        session = self._sessions.pop(state, None)
        return session.flow if session else None

    async def cancel_all(self) -> None:
        """Cancel every login still waiting and forget them all."""
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            if session.flow.status is FlowStatus.WAIT:
                await session.flow.cancel()
