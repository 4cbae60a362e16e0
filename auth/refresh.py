"""Token refresh: renew the tokens of one auth record, per provider.

The runtime's refresher calls :func:`refresh_record` for a record whose token is due (see
:func:`refresh_lead_seconds` and :func:`expires_at`) or after an upstream 401. The function only
talks to the provider's token endpoint and returns the updated record; persisting it before use
is the caller's job.
"""

from __future__ import annotations

from typing import Any

import httpx

from auth.errors import RefreshError

__all__ = ["RefreshError", "expires_at", "refresh_lead_seconds", "refresh_record"]


def refresh_lead_seconds(record_type: str) -> float:
    """How long before expiry a record of this type is renewed."""
    raise RefreshError(f"no refresh lead time is known for records of type {record_type!r}")


def expires_at(record: dict[str, Any]) -> float | None:
    """The access token's expiry as epoch seconds, or None when the record carries none."""
    raise RefreshError(f"cannot read the expiry of records of type {record.get('type')!r}")


async def refresh_record(record: dict[str, Any], *, client: httpx.AsyncClient) -> dict[str, Any]:
    """Renew the record's tokens at its provider; a new dict, or RefreshError."""
    raise RefreshError(f"records of type {record.get('type')!r} cannot be refreshed yet")
