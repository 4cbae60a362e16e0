"""The OAuth-channel sections: `oauth-model-alias`, `oauth-excluded-models`, `quota-exceeded`.

A channel is the kind of subscription account an auth record holds: `claude`, `codex`,
`gemini-cli`, `qwen`, `iflow`, `copilot`, `vertex`. The older `oauth-model-mappings` section has
the same shape as `oauth-model-alias`; both are read, the newer one winning for a channel.
Channels this gateway has no accounts for (CLIProxyAPI's `antigravity`, `kimi`, plugins) are
accepted and unused, so a CLIProxyAPI config loads unchanged.
"""

from __future__ import annotations

import msgspec

__all__ = ["OAUTH_CHANNELS", "OAuthModelAlias", "QuotaExceeded", "channel_of"]

OAUTH_CHANNELS = ("claude", "codex", "gemini-cli", "qwen", "iflow", "copilot", "vertex")

_CHANNEL_SPELLINGS = {"gemini": "gemini-cli", "github-copilot": "copilot"}


def channel_of(name: str) -> str:
    """The canonical channel of a section key or record type (`gemini` is `gemini-cli`)."""
    lowered = name.strip().lower()
    return _CHANNEL_SPELLINGS.get(lowered, lowered)


class _Node(msgspec.Struct, frozen=True, kw_only=True, rename="kebab", forbid_unknown_fields=True):
    """Base of these nodes: kebab-case keys, immutable, unknown keys refused."""


class OAuthModelAlias(_Node, frozen=True):
    """One alias of an OAuth channel: clients ask for `alias`, the upstream gets `name`."""

    name: str
    alias: str
    fork: bool = False
    """Keep serving `name` under itself too; without it the alias replaces the original name."""

    def __post_init__(self) -> None:
        if not self.name.strip() or not self.alias.strip():
            raise ValueError("`name` and `alias` must not be empty")


class QuotaExceeded(_Node, frozen=True):
    """The `quota-exceeded` section: what a Gemini CLI account does when it hits its quota."""

    switch_project: bool = True
    """Move an account with several projects to its next project and retry there."""
    switch_preview_model: bool = True
    """Retry once with the model's preview variant before giving the account a rest."""
