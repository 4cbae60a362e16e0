"""The `api-keys` entries: a plain key, or a key with its policy (models, budgets, rates, expiry).

A plain string is a key with no limits, as in CLIProxyAPI. The object form adds a name and
the limits the gateway enforces per key before a request reaches the pool::

    api-keys:
      - "plain-key"
      - key: "team-key"
        name: "web-app"
        models: ["gpt-4o*", "claude-*"]
        daily-budget: 5.0
        monthly-budget: 100
        rpm: 60
        tpm: 200000
        expires: "2027-01-31"
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import msgspec

__all__ = ["ClientKeyPolicy", "parse_expiry"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ClientKeyPolicy(
    msgspec.Struct, frozen=True, kw_only=True, rename="kebab", forbid_unknown_fields=True
):
    """One client key and what it may do; every limit left out (or 0 for rates) is no limit."""

    key: str
    name: str = ""
    models: tuple[str, ...] = ()
    """Model names the key may ask for; `*` matches any run of characters. Empty: every model."""
    daily_budget: float | None = None
    """USD per UTC day."""
    monthly_budget: float | None = None
    """USD per UTC calendar month."""
    rpm: int = 0
    tpm: int = 0
    expires: str = ""
    """A date (the key stops working at 00:00 UTC that day) or an RFC 3339 time."""

    def __post_init__(self) -> None:
        if not self.key.strip():
            raise ValueError("`key` must not be empty")
        for field, budget in (
            ("daily-budget", self.daily_budget),
            ("monthly-budget", self.monthly_budget),
        ):
            if budget is not None and budget < 0:
                raise ValueError(f"`{field}` must not be negative (USD)")
        if self.rpm < 0 or self.tpm < 0:
            raise ValueError("`rpm` and `tpm` must not be negative (0 means no limit)")
        if any(not pattern.strip() for pattern in self.models):
            raise ValueError("`models` must not contain an empty pattern")
        if self.expires:
            parse_expiry(self.expires)

    @property
    def expires_at(self) -> float | None:
        """Unix seconds from which the key is refused, or None when it never expires."""
        return parse_expiry(self.expires) if self.expires else None

    @property
    def limited(self) -> bool:
        """Whether any budget or rate applies (plain keys skip the ledger entirely)."""
        return bool(
            self.rpm or self.tpm or self.daily_budget is not None or self.monthly_budget is not None
        )


def parse_expiry(text: str) -> float:
    """Unix seconds of an `expires` value: a date means 00:00 UTC that day."""
    value = text.strip()
    try:
        if _DATE.match(value):
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            "`expires` must be a date (2027-01-31) or an RFC 3339 time (2027-01-31T18:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise ValueError("`expires` needs a time zone offset (Z or +hh:mm) when it has a time")
    return moment.timestamp()
