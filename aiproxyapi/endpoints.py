"""Upstream URLs the OAuth executors call, each overridable by environment.

Keys read `provider.what`; the variable overriding one is `AIPROXYAPI_<PROVIDER>_<WHAT>_URL`
(`codex.api` -> `AIPROXYAPI_CODEX_API_URL`). Keys the login flows also call (the Code Assist
base) come from their table in `auth.endpoints`, so each URL has one entry and one variable.
Read at each call, so tests point every request at a local fake.
"""

from __future__ import annotations

import os

from auth import endpoints as login_endpoints

__all__ = ["UPSTREAM_URLS", "env_name", "is_overridden", "upstream_url"]

UPSTREAM_URLS: dict[str, str] = {
    "claude.api": "https://api.anthropic.com",
    "codex.api": "https://chatgpt.com/backend-api/codex",
    "qwen.api": "https://portal.qwen.ai/v1",
    "iflow.api": "https://apis.iflow.cn/v1",
    "copilot.api": "https://api.githubcopilot.com",
    "vertex.api": "https://{location}-aiplatform.googleapis.com",
}
"""key -> default; Vertex's names the record's region (`global` drops the prefix)."""

env_name = login_endpoints.env_name


def is_overridden(key: str) -> bool:
    """Whether the environment overrides this URL (it then beats the record's own)."""
    return bool(os.environ.get(env_name(key), "").strip())


def upstream_url(key: str) -> str:
    """The URL for `key`: the environment's override, else the default (no trailing slash)."""
    if key in login_endpoints.ENDPOINTS:
        return login_endpoints.url(key).rstrip("/")
    override = os.environ.get(env_name(key), "").strip()
    return (override or UPSTREAM_URLS[key]).rstrip("/")
