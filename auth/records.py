"""Auth records: CLIProxyAPI's JSON documents, their names, and writing them through storage.

A record is one JSON object per account (``claude-<email>.json``, ``codex-<email>-<plan>.json``,
``gemini-<email>-<project>.json``, ...), its ``type`` naming the provider. It is written through a
:class:`storage.Store` (the file store: 0600, atomic), and its name is its credential id.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from auth._oauth import rfc3339
from auth.errors import AuthFlowError
from storage import Store, StoreError, check_name

__all__ = ["OPERATOR_FIELDS", "LoginResult", "record_name", "save_record", "stamp_tokens"]

#: Fields an operator sets on a record by hand; a new login of the same account keeps them.
OPERATOR_FIELDS = (
    "prefix",
    "proxy_url",
    "priority",
    "weight",
    "disabled",
    "note",
    "headers",
    "excluded_models",
    "model_aliases",
    "disable_cooling",
    "request_retry",
)

_UNSAFE = re.compile(r"[^A-Za-z0-9._@+-]+")


@dataclass(frozen=True)
class LoginResult:
    """A finished login: the record's name (its credential id), the account, the record."""

    name: str
    account: str
    record: dict[str, Any]
    where: str = ""


def record_name(*parts: str) -> str:
    """``record_name("codex", email, plan)`` -> ``codex-<email>-<plan>.json``, store-safe."""
    cleaned = [_UNSAFE.sub("_", p.strip()).strip("._-") for p in parts if p and p.strip()]
    name = "-".join(c for c in cleaned if c) + ".json"
    try:
        return check_name(name.replace("..", "."))
    except StoreError as exc:
        raise AuthFlowError(f"cannot name the auth record: {exc}") from None


def stamp_tokens(
    record: dict[str, Any], *, expires: float | None, now: float | None = None
) -> None:
    """Set ``last_refresh`` to now and ``expired`` to the token's expiry (RFC 3339)."""
    record["last_refresh"] = rfc3339(time.time() if now is None else now)
    if expires is not None:
        record["expired"] = rfc3339(expires)


def _kept_fields(old: bytes | None) -> dict[str, Any]:
    try:
        previous = json.loads(old) if old else None
    except ValueError:
        return {}
    if not isinstance(previous, dict):
        return {}
    return {key: previous[key] for key in OPERATOR_FIELDS if key in previous}


async def save_record(store: Store, name: str, record: dict[str, Any]) -> str:
    """Write the record through the store; returns where it went (a path for the file store).

    Logging in again to an account keeps the operator's fields of its old record.
    """
    try:
        kept = _kept_fields(await store.read_auth(name))
        data = json.dumps({**record, **kept}, indent=2, ensure_ascii=False).encode() + b"\n"
        await store.write_auth(name, data)
    except (StoreError, OSError) as exc:
        raise AuthFlowError(
            f"the login worked but its record {name} could not be written ({exc}); "
            "check that auth-dir is writable and run the login again"
        ) from None
    auth_dir = getattr(store, "auth_dir", None)
    return str(auth_dir / name) if auth_dir is not None else f"{store.kind} store: {name}"
