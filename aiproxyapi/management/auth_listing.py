"""One auth record as `/auth-files` lists it: who it is, how it fares, never its tokens.

The record's own JSON gives identity and refresh fields; pool state, joined by credential id
(the record name), gives counters and cooldowns; the usage book gives the recent buckets.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiproxyapi.gateway import Gateway
from aiproxyapi.management.buckets import recent_requests
from aiproxyapi.pool import PoolState
from aiproxyapi.usage import UsageRecord
from auth.errors import RefreshError
from auth.refresh import expires_at

__all__ = ["describe_record", "parse_record"]

_LAST_REFRESH_KEYS = ("last_refresh", "lastRefreshedAt", "last_refreshed_at", "last-refresh")
_EXPIRY_KEYS = ("expired", "expire", "expires_at", "expiry")


def parse_record(data: bytes) -> dict[str, Any] | None:
    """The record as a JSON object, or None when it is not one."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((record[key] for key in keys if record.get(key) not in (None, "")), None)


def _expiry(record: dict[str, Any]) -> str | None:
    try:
        epoch = expires_at(record)
    except RefreshError:
        epoch = None
    if epoch is not None:
        return _iso(epoch)
    value = _first(record, _EXPIRY_KEYS)
    return str(value) if value is not None else None


def _cooldowns(state: PoolState, name: str) -> list[dict[str, Any]]:
    credential = state.credentials.get(name)
    if credential is None:
        return []
    now_mono, now_wall = state.clock(), time.time()
    return [
        {
            "model": model,
            "reason": cooldown.reason,
            "until": _iso(now_wall + (cooldown.until - now_mono)),
            "seconds_left": round(cooldown.until - now_mono, 1),
        }
        for model, cooldown in sorted(credential.cooldowns.items())
        if cooldown.until > now_mono
    ]


def describe_record(
    gateway: Gateway,
    name: str,
    data: bytes,
    path: Path | None,
    recent: Sequence[UsageRecord] = (),
) -> dict[str, Any]:
    """The listing entry of one record; `recent` are the usage book's recent records."""
    record = parse_record(data)
    state = gateway.state.credentials.get(name)
    cooldowns = _cooldowns(gateway.state, name)
    labels = {name} | {c.label for c in gateway.runtime.credentials if c.id == name}
    entry: dict[str, Any] = {
        "id": name.removesuffix(".json"),
        "auth_index": name,
        "name": name,
        "source": "file",
        "runtime_only": False,
        "size": len(data),
        "success": state.success if state else 0,
        "failed": state.failed if state else 0,
        "last_error": state.last_error if state else "",
        "cooldowns": cooldowns,
        "recent_requests": recent_requests(recent, lambda r: r.credential in labels),
    }
    if path is not None:
        try:
            entry["modtime"] = _iso(path.lstat().st_mtime)
            entry["path"] = str(path)
        except OSError:
            pass
    if record is None:
        entry.update(status="error", status_message="not a JSON object", disabled=False)
        entry.update(unavailable=True, provider="", type="")
        return entry
    kind = str(record.get("type", ""))
    disabled = bool(record.get("disabled", False))
    # An account whose token refresh failed is out of selection until it is fixed.
    blocked = gateway.state.blocked.get(name)
    status = (
        "disabled" if disabled else "error" if blocked else "cooling" if cooldowns else "active"
    )
    entry.update(
        provider=kind,
        type=kind,
        email=str(record.get("email", "")),
        label=str(record.get("label") or record.get("email") or name.removesuffix(".json")),
        account_type=str(record.get("account_type", "")),
        account=str(record.get("account") or record.get("project_id") or ""),
        plan=str(record.get("plan_type") or record.get("plan") or ""),
        prefix=str(record.get("prefix", "")),
        priority=record.get("priority", 0),
        disabled=disabled,
        unavailable=bool(cooldowns) or blocked is not None,
        status=status,
        status_message=blocked or (state.last_error if state and state.last_error else status),
        last_refresh=_first(record, _LAST_REFRESH_KEYS),
        refresh={
            "expires_at": _expiry(record),
            "last_refresh": _first(record, _LAST_REFRESH_KEYS),
            "has_refresh_token": bool(record.get("refresh_token")),
        },
    )
    return entry
