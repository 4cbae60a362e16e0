"""The `redis` section: the Redis that several gateway instances share their state through.

Without a `url` the gateway keeps every piece of state in its own memory, exactly as a single
instance does. With one, cooldowns, round-robin cursors, the OAuth refresh lock (and the
response cache, unless `cache.redis-url` names its own Redis) live there under `key-prefix`.
"""

from __future__ import annotations

import msgspec

__all__ = ["REDIS_SCHEMES", "Redis"]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class Redis(msgspec.Struct, frozen=True, kw_only=True, rename="kebab", forbid_unknown_fields=True):
    """The `redis` section: off unless `url` is set."""

    url: str = ""
    """redis://, rediss:// (TLS) or unix:// URL; a password in it is kept out of the logs."""
    key_prefix: str = "aiproxyapi:"
    """Every key the gateway writes starts with this; instances sharing state use the same one."""
    timeout_ms: int = 100
    """Bound on one Redis call on the request path; past it the instance goes on alone."""

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(REDIS_SCHEMES):
            raise ValueError("`url` must start with redis://, rediss:// or unix://")
        if any(ch in self.url for ch in "\r\n\t "):
            raise ValueError("`url` must not contain white space")
        if not self.key_prefix or any(ch.isspace() for ch in self.key_prefix):
            raise ValueError("`key-prefix` must be a non-empty word without spaces")
        if len(self.key_prefix) > 100:
            raise ValueError("`key-prefix` must be at most 100 characters")
        if not 1 <= self.timeout_ms <= 10_000:
            raise ValueError("`timeout-ms` must be between 1 and 10000")

    @property
    def enabled(self) -> bool:
        """Whether instances share state through Redis."""
        return bool(self.url)
