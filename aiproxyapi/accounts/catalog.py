"""What an OAuth account serves: its channel's default models, then aliases and exclusions.

The default catalogue is a small static table per channel. Aliases come from the record's own
`model_aliases` first, then `oauth-model-alias.<channel>` (`fork: true` keeps the original name
beside the alias); exclusions from `oauth-excluded-models.<channel>` and the record's
`excluded_models` are matched with wildcards by the model registry.
"""

from __future__ import annotations

from aiproxyapi.config import Config

__all__ = ["DEFAULT_MODELS", "served_models"]

DEFAULT_MODELS: dict[str, tuple[str, ...]] = {
    "claude": (
        "claude-opus-4-1-20250805",
        "claude-opus-4-20250514",
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-20250514",
        "claude-3-7-sonnet-20250219",
        "claude-haiku-4-5-20251001",
        "claude-3-5-haiku-20241022",
    ),
    "codex": (
        "gpt-5",
        "gpt-5-codex",
        "gpt-5-codex-mini",
        "gpt-5.1",
        "gpt-5.1-codex",
        "gpt-5.1-codex-mini",
        "gpt-5.1-codex-max",
    ),
    "gemini-cli": (
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-3-pro-preview",
    ),
    "qwen": ("qwen3-coder-plus", "qwen3-coder-flash", "vision-model"),
    "iflow": (
        "qwen3-coder-plus",
        "qwen3-max",
        "kimi-k2",
        "kimi-k2-0905",
        "deepseek-v3.2",
        "deepseek-r1",
        "glm-4.6",
    ),
    "copilot": (
        "gpt-4.1",
        "gpt-4o",
        "gpt-5",
        "gpt-5-mini",
        "claude-sonnet-4",
        "claude-sonnet-4.5",
        "gemini-2.5-pro",
    ),
    "vertex": ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"),
}


def served_models(
    channel: str, config: Config, record_aliases: tuple[tuple[str, str], ...] = ()
) -> tuple[tuple[str, str], ...]:
    """(client name, upstream name) pairs an account of the channel serves."""
    upstream = list(DEFAULT_MODELS.get(channel, ()))
    # name -> [(alias, fork)]; the record's own aliases take precedence over the channel's.
    renames: dict[str, list[tuple[str, bool]]] = {}
    for name, alias in record_aliases:
        renames.setdefault(name, []).append((alias, False))
    for entry in config.channel_aliases(channel):
        name = entry.name.strip()
        if name not in {n for n, _ in record_aliases}:
            renames.setdefault(name, []).append((entry.alias.strip(), entry.fork))
    for name in renames:
        if name not in upstream:
            upstream.append(name)  # an alias may reach a model the static table lacks
    pairs: list[tuple[str, str]] = []
    for name in upstream:
        aliases = renames.get(name)
        if not aliases or any(fork for _, fork in aliases):
            pairs.append((name, name))
        pairs.extend((alias, name) for alias, _ in aliases or ())
    seen: set[str] = set()
    unique = []
    for client, model in pairs:
        if client not in seen:
            seen.add(client)
            unique.append((client, model))
    return tuple(unique)
