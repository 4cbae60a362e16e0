"""The `cache` and `conversations` sections: the response cache and shared conversations."""

from __future__ import annotations

import enum

import msgspec

__all__ = ["Cache", "CacheScope", "Conversations"]


class _Section(
    msgspec.Struct, frozen=True, kw_only=True, rename="kebab", forbid_unknown_fields=True
):
    """Base of these sections: kebab-case keys, immutable, unknown keys refused."""


class CacheScope(enum.Enum):
    """Who shares a cached answer."""

    PER_KEY = "per-key"
    SHARED = "shared"


class Cache(_Section, frozen=True):
    """The `cache` section: exact-match response cache, off unless enabled."""

    enable: bool = False
    ttl_seconds: int = 3600
    max_entries: int = 1000
    max_bytes: int = 64 * 1024 * 1024
    """Bound of the in-memory cache on the total size of the cached answers."""
    redis_url: str = ""
    """When set, answers are kept in Redis (shared by every gateway on it) instead of memory."""
    key_prefix: str = "aiproxyapi:cache:"
    scope: CacheScope = CacheScope.PER_KEY

    def __post_init__(self) -> None:
        if self.ttl_seconds <= 0:
            raise ValueError("`ttl-seconds` must be positive")
        if self.max_entries <= 0 or self.max_bytes <= 0:
            raise ValueError("`max-entries` and `max-bytes` must be positive")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("`redis-url` must start with redis://, rediss:// or unix://")


class Conversations(_Section, frozen=True):
    """The `conversations` section: how much history a shared conversation keeps."""

    max_turns: int = 100
    """Messages kept per conversation; the oldest go first."""
    max_bytes: int = 512 * 1024
    """Encoded size kept per conversation; the oldest messages go first."""

    def __post_init__(self) -> None:
        if self.max_turns <= 0 or self.max_bytes <= 0:
            raise ValueError("`max-turns` and `max-bytes` must be positive")
