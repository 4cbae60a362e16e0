"""Executors for Gemini: the generativelanguage API (`gemini-api-key`) and Vertex (`vertex-api-key`)."""

from __future__ import annotations

from urllib.parse import quote

from aiproxyapi.credential import Credential
from aiproxyapi.executors.base import Action, HttpExecutor, UpstreamCall, key_of
from aiproxyapi.formats.dialect import Format

__all__ = ["GeminiExecutor", "VertexExecutor"]


def _method(call: UpstreamCall) -> str:
    if call.action is Action.COUNT_TOKENS:
        return ":countTokens"
    if call.action is Action.EMBED:
        return ":batchEmbedContents"
    return ":streamGenerateContent?alt=sse" if call.stream else ":generateContent"


class GeminiExecutor(HttpExecutor):
    """Posts to `{base-url}/v1beta/models/{model}:{method}` with `x-goog-api-key`."""

    dialect = Format.GEMINI

    def url(self, call: UpstreamCall) -> str:
        """The model's method URL; streams always use `alt=sse`."""
        model = quote(call.upstream_model, safe="")
        return f"{call.credential.base_url}/v1beta/models/{model}{_method(call)}"

    def auth_headers(self, credential: Credential) -> dict[str, str]:
        """The key as a header, never in the URL (URLs end up in logs)."""
        return {"x-goog-api-key": key_of(credential)}


class VertexExecutor(GeminiExecutor):
    """Vertex AI with an API key: `{base-url}/v1/publishers/google/models/{model}:{method}`."""

    def url(self, call: UpstreamCall) -> str:
        """The publisher model URL."""
        model = quote(call.upstream_model, safe="")
        return f"{call.credential.base_url}/v1/publishers/google/models/{model}{_method(call)}"
