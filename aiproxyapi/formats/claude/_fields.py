"""Typed readers for the fields of an Anthropic body: each failure names the offending path."""

from __future__ import annotations

from typing import Any

from aiproxyapi.formats.codec import TranslationError

__all__ = [
    "at",
    "extras_of",
    "opt_bool",
    "opt_dict",
    "opt_int",
    "opt_list",
    "opt_num",
    "opt_str",
    "req_dict",
    "req_str",
    "with_extras",
]


def at(path: str, key: str | int) -> str:
    """The dotted path of a key or index below `path`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def req_dict(value: Any, path: str) -> dict[str, Any]:
    """`value` as an object, or a TranslationError naming `path`."""
    if not isinstance(value, dict):
        raise TranslationError(f"`{path}` must be an object", path)
    return value


def opt_dict(body: dict[str, Any], key: str, path: str = "") -> dict[str, Any] | None:
    """An optional object field."""
    value = body.get(key)
    return None if value is None else req_dict(value, at(path, key))


def opt_list(body: dict[str, Any], key: str, path: str = "") -> list[Any] | None:
    """An optional array field."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        raise TranslationError(f"`{at(path, key)}` must be an array", at(path, key))
    return value


def opt_str(body: dict[str, Any], key: str, path: str = "") -> str | None:
    """An optional string field."""
    value = body.get(key)
    if value is None or isinstance(value, str):
        return value
    raise TranslationError(f"`{at(path, key)}` must be a string", at(path, key))


def req_str(body: dict[str, Any], key: str, path: str = "") -> str:
    """A required string field."""
    value = opt_str(body, key, path)
    if value is None:
        raise TranslationError(f"`{at(path, key)}` is required", at(path, key))
    return value


def opt_int(body: dict[str, Any], key: str, path: str = "") -> int | None:
    """An optional integer field (booleans are not integers here)."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TranslationError(f"`{at(path, key)}` must be an integer", at(path, key))
    return value


def opt_num(body: dict[str, Any], key: str, path: str = "") -> float | None:
    """An optional number field."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranslationError(f"`{at(path, key)}` must be a number", at(path, key))
    return value


def opt_bool(body: dict[str, Any], key: str, path: str = "") -> bool | None:
    """An optional boolean field."""
    value = body.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise TranslationError(f"`{at(path, key)}` must be a boolean", at(path, key))


def extras_of(block: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The fields of a block the hub does not model, as a canonical `extras` bag.

    `cache_control` stays a flat key: prompt caching means the same wherever it is understood,
    so other codecs may set or read it. Every other Anthropic-only field goes under "claude" and
    comes back only when encoding to Anthropic.
    """
    extras: dict[str, Any] = {}
    own = {k: v for k, v in block.items() if k not in known and k != "cache_control"}
    if "cache_control" in block:
        extras["cache_control"] = block["cache_control"]
    if own:
        extras["claude"] = own
    return extras


def with_extras(block: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    """`block` with the fields `extras_of` set aside put back (the block's own fields win)."""
    cache = extras.get("cache_control")
    if isinstance(cache, dict):
        block["cache_control"] = cache
    own = extras.get("claude")
    if isinstance(own, dict):
        for key, value in own.items():
            block.setdefault(key, value)
    return block
