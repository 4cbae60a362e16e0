"""Executor for the OpenAI Responses API with an API key (`codex-api-key`)."""

from __future__ import annotations

from aiproxyapi.credential import Credential
from aiproxyapi.executors.base import HttpExecutor, UpstreamCall, key_of
from aiproxyapi.formats.dialect import Format

__all__ = ["ResponsesExecutor"]


class ResponsesExecutor(HttpExecutor):
    """Posts to `{base-url}/responses` with a Bearer token."""

    dialect = Format.OPENAI_RESPONSES

    def url(self, call: UpstreamCall) -> str:
        """`{base-url}/responses`."""
        return f"{call.credential.base_url}/responses"

    def auth_headers(self, credential: Credential) -> dict[str, str]:
        """Bearer token."""
        return {"authorization": f"Bearer {key_of(credential)}"}
