"""Executor for Claude subscription accounts (Claude Code OAuth tokens), wire-formats §8.

Bearer token, never `x-api-key`; `anthropic-beta` carries the OAuth beta after Claude Code's own,
followed by whatever betas the client asked for; `?beta=true` on the URL; and the first system
block is Claude Code's identity line, as the upstream requires of these tokens.
"""

from __future__ import annotations

from typing import Any

import httpx
import msgspec

from aiproxyapi.credential import OAuthCredential
from aiproxyapi.endpoints import upstream_url
from aiproxyapi.executors.base import Action, UpstreamCall
from aiproxyapi.executors.claude import ANTHROPIC_VERSION
from aiproxyapi.executors.oauth import Grant, OAuthExecutor, json_body
from aiproxyapi.formats.dialect import Format

__all__ = ["CLAUDE_CODE_BETAS", "CLAUDE_CODE_IDENTITY", "ClaudeOAuthExecutor", "with_identity"]

CLAUDE_CODE_IDENTITY = "You are Claude Code, Anthropic's official CLI for Claude."
CLAUDE_CODE_BETAS = (
    "claude-code-20250219",
    "oauth-2025-04-20",
    "interleaved-thinking-2025-05-14",
    "fine-grained-tool-streaming-2025-05-14",
)
_USER_AGENT = "claude-cli/2.0.0 (external, cli)"


def with_identity(body: dict[str, Any]) -> dict[str, Any]:
    """The body with Claude Code's identity as its first system block (added once)."""
    system = body.get("system")
    identity: dict[str, Any] = {"type": "text", "text": CLAUDE_CODE_IDENTITY}
    if isinstance(system, str):
        blocks: list[Any] = [{"type": "text", "text": system}] if system.strip() else []
    elif isinstance(system, list):
        blocks = list(system)
    else:
        blocks = []
    first = blocks[0] if blocks else None
    if not (isinstance(first, dict) and first.get("text") == CLAUDE_CODE_IDENTITY):
        blocks.insert(0, identity)
    return {**body, "system": blocks}


def _betas(call: UpstreamCall) -> str:
    asked = [
        beta.strip()
        for name, value in call.forward_headers
        if name.lower() == "anthropic-beta"
        for beta in value.split(",")
        if beta.strip()
    ]
    ordered = list(CLAUDE_CODE_BETAS)
    ordered += [beta for beta in asked if beta not in ordered]
    return ",".join(ordered)


class ClaudeOAuthExecutor(OAuthExecutor):
    """Posts to `/v1/messages?beta=true` (or `/v1/messages/count_tokens?beta=true`)."""

    dialect = Format.CLAUDE
    provider = "claude"

    def _url(self, call: UpstreamCall) -> str:
        base = upstream_url("claude.api")
        if call.action is Action.COUNT_TOKENS:
            return f"{base}/v1/messages/count_tokens?beta=true"
        return f"{base}/v1/messages?beta=true"

    def dialect_headers(self, call: UpstreamCall) -> dict[str, str]:
        """Version, betas and the Claude Code client headers."""
        version = next(
            (v for n, v in call.forward_headers if n.lower() == "anthropic-version"),
            ANTHROPIC_VERSION,
        )
        return {
            "anthropic-version": version,
            "anthropic-beta": _betas(call),
            "anthropic-dangerous-direct-browser-access": "true",
            "x-app": "cli",
            "user-agent": _USER_AGENT,
        }

    async def send(
        self, call: UpstreamCall, credential: OAuthCredential, grant: Grant
    ) -> httpx.Response:
        """The Messages call with the Bearer token and the identity system block."""
        body = msgspec.json.encode(with_identity(json_body(call.body)))
        auth = {"authorization": f"Bearer {grant.access_token.reveal()}"}
        return await self.post(call, self._url(call), auth, body, secrets=grant.secrets())
