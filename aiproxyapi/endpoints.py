"""Upstream URLs the OAuth executors and the account book call, each overridable by environment.

The variable for an entry is `AIPROXYAPI_<PROVIDER>_<WHAT>_URL` (e.g. `AIPROXYAPI_CODEX_API_URL`),
read when an executor is built, so tests point every call at a local fake.
"""

from __future__ import annotations

import os

__all__ = ["UPSTREAM_URLS", "env_name", "upstream_url"]

UPSTREAM_URLS: dict[tuple[str, str], str] = {
    ("claude", "api"): "https://api.anthropic.com",
    ("codex", "api"): "https://chatgpt.com/backend-api/codex",
    ("gemini-cli", "api"): "https://cloudcode-pa.googleapis.com",
    ("qwen", "api"): "https://portal.qwen.ai/v1",
    ("iflow", "api"): "https://apis.iflow.cn/v1",
    ("copilot", "api"): "https://api.githubcopilot.com",
    ("copilot", "token"): "https://api.github.com/copilot_internal/v2/token",
    ("vertex", "api"): "",
    ("vertex", "token"): "",
}
"""(provider, what) -> default; an empty default means "derived from the record" (Vertex)."""


def env_name(provider: str, what: str) -> str:
    """The environment variable that overrides one URL."""
    return f"AIPROXYAPI_{provider.upper().replace('-', '_')}_{what.upper()}_URL"


def upstream_url(provider: str, what: str) -> str:
    """The URL for (provider, what): the environment's override, else the default."""
    override = os.environ.get(env_name(provider, what), "").strip()
    return (override or UPSTREAM_URLS[(provider, what)]).rstrip("/")
