"""Which dialect and endpoint a request path names, and which credential it presented.

The whole table of served paths is here, readable on one screen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote

from ._http11 import HttpRequest
from .replies import Dialect, Endpoint

__all__ = ["Route", "match", "presented_key"]


@dataclass(frozen=True)
class Route:
    """A served path: its dialect, endpoint kind, allowed method, and the model in the path."""

    dialect: Dialect
    endpoint: Endpoint
    method: str
    action: str
    model: str | None = None


_FIXED: dict[str, Route] = {
    "/v1/chat/completions": Route("openai", "generate", "POST", "chat"),
    "/v1/embeddings": Route("openai", "embeddings", "POST", "embeddings"),
    "/v1/models": Route("openai", "models", "GET", "models"),
    "/v1/responses": Route("openai-responses", "generate", "POST", "responses"),
    "/backend-api/codex/responses": Route("codex", "generate", "POST", "responses"),
    "/backend-api/codex/models": Route("codex", "models", "GET", "models"),
    "/v1/messages": Route("claude", "generate", "POST", "messages"),
    "/v1/messages/count_tokens": Route("claude", "count_tokens", "POST", "count_tokens"),
    "/v1beta/models": Route("gemini", "models", "GET", "models"),
    # Token exchanges the OAuth runtime makes: Copilot's token for a GitHub token, and a Google
    # access token for a service account's signed JWT.
    "/copilot_internal/v2/token": Route("token-exchange", "token", "GET", "copilot"),
    "/vertex/token": Route("token-exchange", "token", "POST", "vertex"),
}

# Gemini CLI's Code Assist API (wire-formats §6): `/v1internal:{method}`.
_CODE_ASSIST: dict[str, Endpoint] = {
    "generateContent": "generate",
    "streamGenerateContent": "generate",
    "countTokens": "count_tokens",
    "loadCodeAssist": "setup",
    "onboardUser": "setup",
}

# Gemini API, Vertex publisher and Vertex project paths (§5.1); the action follows a colon.
_GEMINI = re.compile(
    r"^/(?:v1beta/models|v1/models"
    r"|(?:v1|v1beta1)(?:/projects/[^/]+/locations/[^/]+)?/publishers/google/models)"
    r"/(?P<model>[^/:]+):(?P<action>[A-Za-z]+)$"
)
_GEMINI_ENDPOINTS: dict[str, Endpoint] = {
    "generateContent": "generate",
    "streamGenerateContent": "generate",
    "countTokens": "count_tokens",
    "batchEmbedContents": "embeddings",
    "embedContent": "embeddings",
}


def match(request: HttpRequest) -> Route | None:
    """The route for the request's path (whatever its method), or None for an unknown path."""
    route = _FIXED.get(request.path)
    if route is not None:
        # The Anthropic SDK lists models on the same path as OpenAI; its version header tells.
        if route.action == "models" and request.header("anthropic-version") is not None:
            return Route("claude", "models", "GET", "models")
        return route
    if request.path.startswith("/v1internal:"):
        method = request.path.removeprefix("/v1internal:")
        return Route("code-assist", _CODE_ASSIST.get(method, "other"), "POST", method)
    found = _GEMINI.match(request.path)
    if found is None:
        return None
    action = found["action"]
    endpoint = _GEMINI_ENDPOINTS.get(action, "other")
    return Route("gemini", endpoint, "POST", action, unquote(found["model"]))


def _bearer(request: HttpRequest) -> str | None:
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def presented_key(request: HttpRequest, dialect: Dialect | None) -> str | None:
    """The credential as the dialect carries it (§1.1, §4.1, §5.1); Bearer for unknown paths."""
    if dialect == "claude":
        return request.header("x-api-key") or _bearer(request)
    if dialect == "gemini":
        from_query = parse_qs(request.query).get("key", [None])[0]
        return request.header("x-goog-api-key") or from_query or _bearer(request)
    return _bearer(request)
