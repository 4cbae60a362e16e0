"""Upstream URLs the OAuth executors and the account book call, each overridable by environment.

Keys read `provider.what`; the variable overriding one is `AIPROXYAPI_<PROVIDER>_<WHAT>_URL`
(`codex.api` -> `AIPROXYAPI_CODEX_API_URL`), the same scheme as the login flows' table in
`auth.endpoints`. Read at each call, so tests point every request at a local fake.
"""

from __future__ import annotations

import os

__all__ = ["UPSTREAM_URLS", "env_name", "is_overridden", "upstream_url"]

UPSTREAM_URLS: dict[str, str] = {
    "claude.api": "https://api.anthropic.com",
    "codex.api": "https://chatgpt.com/backend-api/codex",
    "gemini.code-assist": "https://cloudcode-pa.googleapis.com",
    "qwen.api": "https://portal.qwen.ai/v1",
    "iflow.api": "https://apis.iflow.cn/v1",
    "copilot.api": "https://api.githubcopilot.com",
    "copilot.api-token": "https://api.github.com/copilot_internal/v2/token",
    "vertex.api": "",
    "vertex.token": "",
}
"""key -> default; an empty default means "derived from the record" (Vertex region, token_uri)."""


def env_name(key: str) -> str:
    """`claude.api` -> `AIPROXYAPI_CLAUDE_API_URL`."""
    return "AIPROXYAPI_" + key.replace(".", "_").replace("-", "_").upper() + "_URL"


def is_overridden(key: str) -> bool:
    """Whether the environment overrides this URL (it then beats the record's own)."""
    return bool(os.environ.get(env_name(key), "").strip())


def upstream_url(key: str) -> str:
    """The URL for `key`: the environment's override, else the default (no trailing slash)."""
    override = os.environ.get(env_name(key), "").strip()
    return (override or UPSTREAM_URLS[key]).rstrip("/")
