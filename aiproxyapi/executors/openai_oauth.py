"""Executors for the OpenAI-chat subscription upstreams: Qwen, iFlow and GitHub Copilot.

Each posts Chat Completions; they differ in base URL and in which secret goes in the Bearer
header: Qwen's OAuth token (at the record's `resource_url`), iFlow's platform key from login,
Copilot's short-lived token (exchanged from the GitHub token by the account book).
"""

from __future__ import annotations

import httpx

from aiproxyapi.credential import OAuthCredential
from aiproxyapi.endpoints import is_overridden, upstream_url
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.executors.base import Action, UpstreamCall
from aiproxyapi.executors.oauth import Grant, OAuthExecutor
from aiproxyapi.formats.dialect import Format

__all__ = ["COPILOT_HEADERS", "CopilotExecutor", "IFlowExecutor", "QwenExecutor"]

COPILOT_HEADERS = {
    "editor-version": "vscode/1.99.3",
    "editor-plugin-version": "copilot-chat/0.26.7",
    "copilot-integration-id": "vscode-chat",
    "user-agent": "GitHubCopilotChat/0.26.7",
    "openai-intent": "conversation-panel",
    "x-github-api-version": "2025-04-01",
}


class _ChatExecutor(OAuthExecutor):
    dialect = Format.OPENAI_CHAT

    def base(self, credential: OAuthCredential, grant: Grant) -> str:
        """The Chat Completions base URL for this account."""
        return upstream_url(f"{self.provider}.api")

    def bearer(self, grant: Grant) -> str:
        """The secret the Bearer header carries."""
        return grant.access_token.reveal()

    async def send(
        self, call: UpstreamCall, credential: OAuthCredential, grant: Grant
    ) -> httpx.Response:
        """`{base}/chat/completions` with the Bearer secret."""
        if call.action is not Action.GENERATE:
            raise ClientRequestError(
                f"{self.provider} accounts serve chat only, no embeddings", param="model"
            )
        url = f"{self.base(credential, grant).rstrip('/')}/chat/completions"
        auth = {"authorization": f"Bearer {self.bearer(grant)}"}
        return await self.post(call, url, auth, call.body, secrets=grant.secrets())


class QwenExecutor(_ChatExecutor):
    """Qwen: `https://{resource_url}/v1` from the record, `portal.qwen.ai` by default."""

    provider = "qwen"

    def base(self, credential: OAuthCredential, grant: Grant) -> str:
        """The environment's override, else the record's resource URL, else the portal."""
        if is_overridden("qwen.api"):
            return upstream_url("qwen.api")
        return credential.base_url or upstream_url("qwen.api")


class IFlowExecutor(_ChatExecutor):
    """iFlow: `apis.iflow.cn/v1` with the record's `api_key`."""

    provider = "iflow"

    def bearer(self, grant: Grant) -> str:
        """The platform key; the OAuth token only when the record has no key."""
        return grant.api_key.reveal() or grant.access_token.reveal()


class CopilotExecutor(_ChatExecutor):
    """GitHub Copilot: the exchanged Copilot token and the editor headers its API requires."""

    provider = "copilot"

    def base(self, credential: OAuthCredential, grant: Grant) -> str:
        """The API the token names, unless the environment overrides it."""
        if is_overridden("copilot.api"):
            return upstream_url("copilot.api")
        return grant.base_url or upstream_url("copilot.api")

    def dialect_headers(self, call: UpstreamCall) -> dict[str, str]:
        """The editor identity Copilot's chat API checks."""
        return dict(COPILOT_HEADERS)
