"""Executor for Anthropic Messages with an API key (`claude-api-key`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiproxyapi.credential import Credential
from aiproxyapi.executors.base import Action, HttpExecutor, UpstreamCall, key_of
from aiproxyapi.formats.dialect import Format

__all__ = ["ANTHROPIC_VERSION", "ClaudeExecutor"]

ANTHROPIC_VERSION = "2023-06-01"


class ClaudeExecutor(HttpExecutor):
    """Posts to `{base-url}/v1/messages` (or `/v1/messages/count_tokens`) with `x-api-key`."""

    dialect = Format.CLAUDE

    def url(self, call: UpstreamCall) -> str:
        """The Messages endpoint for the action."""
        base = call.credential.base_url
        if call.action is Action.COUNT_TOKENS:
            return f"{base}/v1/messages/count_tokens"
        return f"{base}/v1/messages"

    def auth_headers(self, credential: Credential) -> dict[str, str]:
        """`x-api-key`; compatible gateways on another host also get it as a Bearer token."""
        key = key_of(credential)
        headers = {"x-api-key": key}
        if urlsplit(credential.base_url).hostname != "api.anthropic.com":
            headers["authorization"] = f"Bearer {key}"
        return headers

    def dialect_headers(self, call: UpstreamCall) -> dict[str, str]:
        """`anthropic-version`, unless the client (same dialect) sent its own."""
        if any(name.lower() == "anthropic-version" for name, _ in call.forward_headers):
            return {}
        return {"anthropic-version": ANTHROPIC_VERSION}
