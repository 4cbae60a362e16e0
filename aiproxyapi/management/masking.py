"""Secrets in management answers: shown masked, and a masked value sent back means "unchanged".

A listing shows a key as its first and last few characters (`sk-a...7f1c`), enough to tell
keys apart and never enough to use one. The control panel edits a listing and sends it back,
so an incoming value that equals the mask of a key already configured is replaced by that key:
a round trip through the panel never overwrites a key with its mask.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "HIDDEN",
    "MASKED_FIELDS",
    "mask",
    "mask_document",
    "mask_in_place",
    "restore_in_place",
    "secrets_in",
    "unmask",
    "unmask_document",
]

#: Config fields whose string values (or map values) are secrets.
MASKED_FIELDS = frozenset(
    {"api-key", "api-keys", "headers", "secret-key", "proxy-url", "url", "redis-url"}
)
#: Of those, URLs that may carry a password: only the password is hidden (`redis.url` too).
_URL_FIELDS = frozenset({"proxy-url", "url", "redis-url"})

_MARK = "..."


def mask(secret: str) -> str:
    """The secret with its middle hidden; short secrets show less."""
    if not secret:
        return ""
    if len(secret) >= 16:
        return f"{secret[:4]}{_MARK}{secret[-4:]}"
    if len(secret) >= 8:
        return f"{secret[:2]}{_MARK}{secret[-2:]}"
    return _MARK  # too short to show any of it


def unmask(value: str, known: Iterable[str]) -> str:
    """The configured secret whose mask `value` is, or `value` itself."""
    if _MARK not in value:
        return value
    matches = {secret for secret in known if mask(secret) == value}
    if len(matches) == 1:
        return matches.pop()
    return value


def _mask_url(url: str) -> str:
    # A proxy URL may carry a password (`socks5://user:pass@host`); only that part is hidden.
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at:
        return url
    user, colon, _password = userinfo.partition(":")
    return f"{scheme}://{user}{':' + _MARK if colon else ''}@{host}"


def mask_document(value: Any, field: str = "") -> Any:
    """A copy of a config subtree with every secret field masked."""
    if isinstance(value, dict):
        if field == "headers":
            return {name: mask(str(v)) for name, v in value.items()}
        return {key: mask_document(item, key) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_document(item, field) for item in value]
    if isinstance(value, str) and field in MASKED_FIELDS:
        return _mask_url(value) if field in _URL_FIELDS else mask(value)
    return value


def secrets_in(value: Any, field: str = "") -> list[str]:
    """Every secret string in a config subtree (what `unmask_document` can restore)."""
    if isinstance(value, dict):
        if field == "headers":
            return [str(v) for v in value.values()]
        return [s for key, item in value.items() for s in secrets_in(item, key)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in secrets_in(item, field)]
    if isinstance(value, str) and field in MASKED_FIELDS:
        return [value]
    return []


def unmask_document(value: Any, known: Iterable[str], field: str = "") -> Any:
    """An incoming subtree with masked secrets replaced by the configured ones they stand for."""
    pool = list(known)
    if isinstance(value, dict):
        if field == "headers":
            return {name: unmask(v, pool) if isinstance(v, str) else v for name, v in value.items()}
        return {key: unmask_document(item, pool, key) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [unmask_document(item, pool, field) for item in value]
    if isinstance(value, str) and field in MASKED_FIELDS:
        if field in _URL_FIELDS:
            return next((s for s in pool if _mask_url(s) == value and s != value), value)
        return unmask(value, pool)
    return value


#: What a listing shows instead of the management secret (or its hash).
HIDDEN = "[hidden]"
_HIDDEN_FIELDS = frozenset({"secret-key", "remote-management-key"})


def mask_in_place(node: Any, field: str = "") -> None:
    """Mask every secret of a mutable document (a round-trip YAML tree) where it stands."""
    if isinstance(node, dict):
        for key in list(node):
            item = node[key]
            if key in _HIDDEN_FIELDS and isinstance(item, str) and item:
                node[key] = HIDDEN
            elif field == "headers" and isinstance(item, str):
                node[key] = mask(item)
            elif isinstance(item, str) and key in MASKED_FIELDS:
                node[key] = mask_document(item, str(key))
            else:
                mask_in_place(item, str(key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, str) and field in MASKED_FIELDS:
                node[index] = mask(item)
            else:
                mask_in_place(item, field)


def restore_in_place(node: Any, known: list[str], hidden: dict[str, str], field: str = "") -> None:
    """Undo :func:`mask_in_place` on an incoming document: masks become the secrets they mask."""
    if isinstance(node, dict):
        for key in list(node):
            item = node[key]
            if key in _HIDDEN_FIELDS and item == HIDDEN:
                node[key] = hidden.get(str(key), "")
            elif isinstance(item, str) and (field == "headers" or key in MASKED_FIELDS):
                node[key] = unmask_document(
                    item, known, "headers" if field == "headers" else str(key)
                )
            else:
                restore_in_place(item, known, hidden, str(key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, str) and field in MASKED_FIELDS:
                node[index] = unmask(item, known)
            else:
                restore_in_place(item, known, hidden, field)
