"""Cooldown policy: from one upstream outcome to a verdict. Pure functions, no state."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping

import msgspec

from aiproxyapi.errors import Blame

__all__ = [
    "AUTH_COOLDOWN",
    "MAX_QUOTA_BACKOFF",
    "NOT_FOUND_COOLDOWN",
    "Verdict",
    "judge",
    "parse_retry_after",
]

AUTH_COOLDOWN = 30 * 60.0
NOT_FOUND_COOLDOWN = 12 * 3600.0
MAX_QUOTA_BACKOFF = 30 * 60.0

# Phrases in a 400/422 body that mean the credential, not the request, is the problem.
_MODEL_UNAVAILABLE_PHRASES = (
    "model not supported",
    "model is not supported",
    "not available for your plan",
    "does not have access to model",
)
_ACCOUNT_PHRASES = (
    "credit balance",
    "insufficient_quota",
    "billing",
    "account is not active",
    "organization has been disabled",
)


class Verdict(msgspec.Struct, frozen=True):
    """What the pool does about one failed attempt."""

    blame: Blame
    cooldown: float
    """Seconds the (credential, model) pair rests; 0 for none."""
    reason: str
    escalate: bool = False
    """Whether this failure raises the quota backoff level."""

    @property
    def moves_on(self) -> bool:
        """Whether the request should try another credential."""
        return self.blame is not Blame.CLIENT


def judge(
    status: int | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    backoff_level: int,
    transient: float,
    now: float | None = None,
) -> Verdict:
    """Classify an upstream outcome: `status` None means no HTTP answer at all."""
    if status is None or status == 408 or status >= 500:
        reason = "transport" if status is None else f"upstream_{status}"
        blame = Blame.TRANSPORT if status is None else Blame.UPSTREAM
        return Verdict(blame, transient, reason)
    if status == 429:
        wait = parse_retry_after(headers, now=now)
        if wait is None:
            # 2**11 s already exceeds the cap; clamping the exponent keeps the float finite.
            wait = min(2.0 ** min(backoff_level, 11), MAX_QUOTA_BACKOFF)
        return Verdict(Blame.QUOTA, wait, "quota", escalate=True)
    if status in (401, 402, 403):
        return Verdict(Blame.CREDENTIAL, AUTH_COOLDOWN, f"unauthorized_{status}")
    if status == 404:
        return Verdict(Blame.CREDENTIAL, NOT_FOUND_COOLDOWN, "not_found")
    if status in (400, 422):
        text = body[:4096].decode("utf-8", "replace").lower()
        if any(phrase in text for phrase in _MODEL_UNAVAILABLE_PHRASES):
            return Verdict(Blame.CREDENTIAL, NOT_FOUND_COOLDOWN, "model_unavailable")
        if any(phrase in text for phrase in _ACCOUNT_PHRASES):
            return Verdict(Blame.CREDENTIAL, AUTH_COOLDOWN, "account")
    return Verdict(Blame.CLIENT, 0.0, f"client_{status}")


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    millis = _seconds(headers.get("retry-after-ms", ""))
    if millis is not None:
        return max(0.0, millis / 1000.0)
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    seconds = _seconds(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _seconds(value: str) -> float | None:
    """A finite number, or None: `inf` or `nan` from an upstream must not rest a key forever."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
