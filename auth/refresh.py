"""Token refresh: renew the tokens of one auth record, per provider.

The runtime's refresher calls :func:`refresh_record` for a record whose token is due (see
:func:`refresh_lead_seconds` and :func:`expires_at`) or after an upstream 401. The function only
talks to the provider's token endpoint and returns the updated record; persisting it before use
is the caller's job.

Per type: ``claude`` (JSON refresh grant, rotating), ``codex``, ``gemini`` / ``gemini-cli``
(Google), ``qwen`` and ``iflow`` (form refresh grants; iFlow's API key is fetched again),
``vertex`` (a new access token minted from the service account: ``access_token`` and
``expired`` are set on the record), ``copilot`` (GitHub OAuth tokens do not expire: the record
comes back unchanged; the Copilot API token is exchanged per use by
:func:`auth.providers.copilot.exchange_copilot_token`). A revoked or unknown refresh token
raises ``RefreshError(permanent=True)``; network trouble, 429 and 5xx are transient.
Messages never carry a token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from auth._oauth import TokenError, parse_time, rfc3339
from auth.errors import AuthFlowError, RefreshError
from auth.providers import claude, codex, gemini, iflow, qwen, vertex

__all__ = ["RefreshError", "expires_at", "refresh_lead_seconds", "refresh_record"]

_HOUR = 3600.0

_LEADS: dict[str, float] = {
    "claude": 4 * _HOUR,
    "codex": 5 * 24 * _HOUR,
    "qwen": 3 * _HOUR,
    "iflow": 24 * _HOUR,
    "gemini": 5 * 60.0,
    "gemini-cli": 5 * 60.0,
    "vertex": 5 * 60.0,
    # GitHub OAuth tokens do not expire; nothing is renewed ahead of time.
    "copilot": 0.0,
}

_Refresher = Callable[[dict[str, Any], httpx.AsyncClient], Awaitable[dict[str, Any]]]


async def _vertex(record: dict[str, Any], client: httpx.AsyncClient) -> dict[str, Any]:
    service_account = record.get("service_account")
    if not isinstance(service_account, dict):
        raise RefreshError("the vertex record has no service_account", permanent=True)
    token, expiry = await vertex.mint_access_token(service_account, client=client)
    updated = dict(record)
    updated["access_token"] = token
    updated["expired"] = rfc3339(expiry)
    return updated


async def _copilot(record: dict[str, Any], _client: httpx.AsyncClient) -> dict[str, Any]:
    return dict(record)


_REFRESHERS: dict[str, _Refresher] = {
    "claude": claude.refresh,
    "codex": codex.refresh,
    "gemini": gemini.refresh,
    "gemini-cli": gemini.refresh,
    "qwen": qwen.refresh,
    "iflow": iflow.refresh,
    "vertex": _vertex,
    "copilot": _copilot,
}


def refresh_lead_seconds(record_type: str) -> float:
    """How long before expiry a record of this type is renewed."""
    try:
        return _LEADS[record_type]
    except KeyError:
        raise RefreshError(
            f"no refresh lead time is known for records of type {record_type!r}"
        ) from None


def expires_at(record: dict[str, Any]) -> float | None:
    """The access token's expiry as epoch seconds, or None when the record carries none.

    Read, in order: ``expired`` (RFC 3339, CLIProxyAPI), ``expiry`` and ``expires_at`` (RFC 3339
    or epoch s/ms), the nested Google ``token.expiry`` / ``token.expiry_date``, ``expiry_date``
    (epoch ms), and ``timestamp`` (ms) + ``expires_in``.
    """
    for key in ("expired", "expiry", "expires_at", "expiry_date"):
        found = parse_time(record.get(key))
        if found is not None:
            return found
    token = record.get("token")
    if isinstance(token, dict):
        for key in ("expiry", "expires_at", "expiry_date"):
            found = parse_time(token.get(key))
            if found is not None:
                return found
    stamp, lifetime = parse_time(record.get("timestamp")), record.get("expires_in")
    if stamp is not None and isinstance(lifetime, int | float) and not isinstance(lifetime, bool):
        return stamp + float(lifetime)
    return None


def _has_refresh_token(record: dict[str, Any], record_type: str) -> bool:
    if record_type in ("vertex", "copilot"):
        return True
    holder = record.get("token") if record_type in ("gemini", "gemini-cli") else record
    if not isinstance(holder, dict):
        return False
    value = holder.get("refresh_token")
    return isinstance(value, str) and bool(value)


async def refresh_record(record: dict[str, Any], *, client: httpx.AsyncClient) -> dict[str, Any]:
    """Renew the record's tokens at its provider; a new dict, or RefreshError."""
    record_type = str(record.get("type") or "")
    refresher = _REFRESHERS.get(record_type)
    if refresher is None:
        raise RefreshError(f"records of type {record_type!r} cannot be refreshed", permanent=True)
    if not _has_refresh_token(record, record_type):
        raise RefreshError(
            f"the {record_type} record has no refresh token; log in again", permanent=True
        )
    try:
        return await refresher(record, client)
    except TokenError as exc:
        raise RefreshError(_scrub(exc.message, record), permanent=exc.permanent) from None
    except AuthFlowError as exc:
        raise RefreshError(_scrub(str(exc), record), permanent=True) from None
    except httpx.HTTPError as exc:
        raise RefreshError(f"{record_type} refresh: network error ({type(exc).__name__})") from None


def _secrets_in(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _secrets_in(v)]
    return [value] if isinstance(value, str) and len(value) >= 8 else []


def _scrub(message: str, record: dict[str, Any]) -> str:
    """The message with any token of the record cut out (a server may echo one back)."""
    for key in ("access_token", "refresh_token", "id_token", "api_key", "token"):
        for secret in _secrets_in(record.get(key)):
            message = message.replace(secret, "[redacted]")
    return message
