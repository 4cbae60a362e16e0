"""Credential records: what the pool chooses between (shared by routing, pool and executors)."""

from __future__ import annotations

import enum

import msgspec

from aiproxyapi.secret import Secret

__all__ = ["ApiKeyCredential", "Credential", "ProviderKind"]


class ProviderKind(enum.Enum):
    """Which executor speaks to a credential's upstream."""

    OPENAI_COMPAT = "openai-compatibility"
    CLAUDE = "claude"
    GEMINI = "gemini"
    CODEX = "codex"
    VERTEX = "vertex"


class ApiKeyCredential(msgspec.Struct, frozen=True, kw_only=True, tag="api-key"):
    """A provider API key declared in config.yaml."""

    id: str
    """Stable across reloads and reorderings: a digest of kind, base URL and key."""
    kind: ProviderKind
    provider: str
    """The provider name clients see in `owned_by` and usage: the entry name or the kind."""
    label: str
    """Human label for logs and usage; never contains the key."""
    api_key: Secret
    base_url: str
    proxy_url: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    prefix: str = ""
    priority: int = 0
    weight: int = 1
    models: tuple[tuple[str, str], ...] = ()
    """(client name, upstream name) pairs; empty means the provider's own catalogue."""
    excluded_models: tuple[str, ...] = ()


Credential = ApiKeyCredential
