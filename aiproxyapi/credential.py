"""Credential records: what the pool chooses between (shared by routing, pool and executors).

Two tagged kinds: an API key from config.yaml carries its key; an OAuth account from an auth
record carries only what never changes at runtime. Its live token is kept by the account book
(`aiproxyapi.accounts`) and handed to the executor per call, so a refresh needs no reload.
"""

from __future__ import annotations

import enum

import msgspec

from aiproxyapi.secret import Secret

__all__ = ["ApiKeyCredential", "Credential", "OAuthCredential", "ProviderKind"]


class ProviderKind(enum.Enum):
    """Which executor speaks to a credential's upstream."""

    OPENAI_COMPAT = "openai-compatibility"
    CLAUDE = "claude"
    GEMINI = "gemini"
    CODEX = "codex"
    VERTEX = "vertex"
    CLAUDE_OAUTH = "claude-oauth"
    CODEX_OAUTH = "codex-oauth"
    GEMINI_CLI = "gemini-cli"
    QWEN = "qwen"
    IFLOW = "iflow"
    COPILOT = "copilot"
    VERTEX_SA = "vertex-sa"


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


class OAuthCredential(msgspec.Struct, frozen=True, kw_only=True, tag="oauth"):
    """A subscription account from an auth record; its token lives in the account book."""

    id: str
    """The auth record's name (`claude-a@b.com.json`), as the management API knows it."""
    kind: ProviderKind
    provider: str
    """The OAuth channel (`claude`, `codex`, `gemini-cli`, ...), as usage and `owned_by` show it."""
    label: str
    """The account's email (or the record name), never a token."""
    base_url: str = ""
    """The record's own upstream base URL (Qwen's `resource_url`); empty for the default."""
    proxy_url: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    prefix: str = ""
    priority: int = 0
    weight: int = 1
    models: tuple[tuple[str, str], ...] = ()
    excluded_models: tuple[str, ...] = ()
    account_id: str = ""
    """The ChatGPT account id of a Codex record."""
    projects: tuple[str, ...] = ()
    """Google Cloud projects of a Gemini CLI or Vertex record, in the order they are tried."""
    location: str = ""
    """Vertex region (`us-central1`, `global`)."""


Credential = ApiKeyCredential | OAuthCredential
