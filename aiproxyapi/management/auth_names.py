"""Auth-record names from a request: an allow-list, and nothing that could leave auth-dir."""

from __future__ import annotations

from aiproxyapi.management._http import ManagementError
from storage.base import StoreError, check_name

__all__ = ["checked_auth_name"]


def checked_auth_name(raw: str | None) -> str:
    """The name if it is a plain `<name>.json` record name; a 400 otherwise.

    Refused before the store sees them: separators of either kind, `..`, a leading dot, an
    absolute path, white space at the ends and any `%` (a name that still holds a percent sign
    after the query was decoded once is an encoded path, never a record name).
    """
    if raw is None or not raw:
        raise ManagementError(400, "missing name", "give the record name as ?name=<file>.json")
    if (
        raw != raw.strip()
        or any(ch in raw for ch in "/\\%\x00")
        or raw.startswith((".", "~"))
        or ".." in raw
    ):
        raise ManagementError(400, "invalid name", "a record name is a plain file name")
    if not raw.endswith(".json"):
        raise ManagementError(400, "invalid name", "a record name ends with .json")
    try:
        return check_name(raw)
    except StoreError:
        raise ManagementError(400, "invalid name", "a record name is a plain file name") from None
