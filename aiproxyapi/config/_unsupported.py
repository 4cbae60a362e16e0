"""CLIProxyAPI config keys this gateway recognises but does not implement yet.

A key listed here is dropped with a warning instead of failing the load, so a config.yaml
written for CLIProxyAPI starts here too. When a feature lands in ``schema.py``, delete its
pattern (a test fails while a pattern still names a supported field).

Patterns are key paths with list indices written ``[]``; a leading ``*[]`` stands for an entry
of any provider credential list.
"""

from __future__ import annotations

import re

__all__ = ["PROVIDER_LISTS", "UNSUPPORTED", "is_unsupported", "unsupported_names_under"]

PROVIDER_LISTS: frozenset[str] = frozenset(
    {"openai-compatibility", "claude-api-key", "gemini-api-key", "codex-api-key", "vertex-api-key"}
)

_TOP_LEVEL = {
    "pprof",
    "commercial-mode",
    "redis-usage-queue-retention-seconds",
    "force-model-prefix",
    "passthrough-headers",
    "save-cooldown-status",
    "ws-auth",
    "nonstream-keepalive-interval",
    "streaming.bootstrap-retries",
    "disable-claude-cloak-mode",
    "claude-code",
    "claude-header-defaults",
    "codex-header-defaults",
    "disable-image-generation",
    "gpt-image-2-base-model",
    "video-result-auth-cache-ttl",
    "codex",
    "antigravity",
    "antigravity-signature-cache-enabled",
    "antigravity-signature-bypass-strict",
    "xai",
    "plugins",
    "credential-concurrency",
    "credential-in-flight",
    "interactions-api-key",
    "xai-api-key",
    "oauth-request-scoped-errors",
    "payload",
    # Keys only older releases read; kept so an old config still starts.
    "generative-language-api-key",
    "ampcode",
    "model-name-mappings",
}

_NESTED = {
    "remote-management.disable-auto-update-panel",
    "remote-management.panel-github-repository",
    "routing.session-affinity",
    "routing.session-affinity-ttl",
    # Fields every provider entry may carry.
    "*[].disable-cooling",
    "*[].request-retry",
    "*[].request-scoped-errors",
    "*[].models[].display-name",
    "*[].models[].max-context-length",
    "*[].models[].force-mapping",
    "*[].models[].is-compat",
    "*[].models[].thinking",
    "openai-compatibility[].support-prompt-cache-key",
    "openai-compatibility[].models[].image",
    "openai-compatibility[].models[].input-modalities",
    "openai-compatibility[].models[].output-modalities",
    "codex-api-key[].websockets",
    "codex-api-key[].alpha-search",
    "claude-api-key[].cloak",
    "claude-api-key[].fingerprint-profile",
    "claude-api-key[].rebuild-mid-system-message",
    "claude-api-key[].experimental-cch-signing",
}

UNSUPPORTED: frozenset[str] = frozenset(_TOP_LEVEL | _NESTED)

_INDEX = re.compile(r"\[\d+\]")


def _patterns(path: str) -> tuple[str, ...]:
    """The patterns a concrete key path can match: as written, and with its provider list as `*`."""
    pattern = _INDEX.sub("[]", path)
    head, brackets, rest = pattern.partition("[]")
    if brackets and head in PROVIDER_LISTS:
        return pattern, f"*[]{rest}"
    return (pattern,)


def is_unsupported(path: str) -> bool:
    """Whether the key at `path` is a known CLIProxyAPI key that this gateway ignores."""
    return any(pattern in UNSUPPORTED for pattern in _patterns(path))


def unsupported_names_under(container: str) -> list[str]:
    """Names of unsupported keys allowed directly inside the mapping at `container`."""
    prefixes = [f"{pattern}." if pattern else "" for pattern in _patterns(container)]
    names = set()
    for pattern in UNSUPPORTED:
        for prefix in prefixes:
            leaf = pattern.removeprefix(prefix)
            if pattern.startswith(prefix) and "." not in leaf and "[" not in leaf:
                names.add(leaf)
    return sorted(names)
