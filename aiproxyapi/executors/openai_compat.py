"""Executor for OpenAI-compatible upstreams: Chat Completions and embeddings under `base-url`."""

from __future__ import annotations

from aiproxyapi.credential import Credential
from aiproxyapi.executors.base import Action, HttpExecutor, UpstreamCall, key_of
from aiproxyapi.formats.dialect import Format

__all__ = ["OpenAICompatExecutor"]


class OpenAICompatExecutor(HttpExecutor):
    """Sends Chat Completions (and embeddings) with the key as a Bearer token."""

    dialect = Format.OPENAI_CHAT

    def url(self, call: UpstreamCall) -> str:
        """`{base-url}/chat/completions`, or `/embeddings`."""
        path = "/embeddings" if call.action is Action.EMBED else "/chat/completions"
        return f"{call.credential.base_url}{path}"

    def auth_headers(self, credential: Credential) -> dict[str, str]:
        """Bearer token."""
        return {"authorization": f"Bearer {key_of(credential)}"}
