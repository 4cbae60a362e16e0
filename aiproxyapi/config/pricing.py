"""The `pricing` section: per-model price overrides and the provider presets' base URLs.

`pricing` maps a model name to USD per million tokens; what it names replaces the shipped price
table's entry for that model (matched the same way: exact, dated suffix stripped, family prefix).
The presets let an `openai-compatibility` entry named after a known provider omit `base-url`.
"""

from __future__ import annotations

import msgspec

__all__ = ["PRESET_BASE_URLS", "ModelPrice", "preset_base_url"]

PRESET_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "mistral": "https://api.mistral.ai/v1",
    "xai": "https://api.x.ai/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "groq": "https://api.groq.com/openai/v1",
}
"""`openai-compatibility` entry name (case-insensitive) -> the provider's public API."""


def preset_base_url(name: str) -> str:
    """The preset base URL of an entry name; empty when the name is no preset."""
    return PRESET_BASE_URLS.get(name.strip().lower(), "")


class ModelPrice(
    msgspec.Struct, frozen=True, kw_only=True, rename="kebab", forbid_unknown_fields=True
):
    """One `pricing.<model>` item, USD per million tokens; omitted rates follow `input`/`output`."""

    input: float
    output: float
    cached_input: float | None = None
    """Cache reads; defaults to `input`."""
    reasoning: float | None = None
    """Reasoning (thinking) output; defaults to `output`."""
    cache_write: float | None = None
    """Cache creation (Anthropic); defaults to `input`."""

    def __post_init__(self) -> None:
        rates = (self.input, self.output, self.cached_input, self.reasoning, self.cache_write)
        if any(rate is not None and rate < 0 for rate in rates):
            raise ValueError("prices must not be negative")
