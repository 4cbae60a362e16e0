"""Executor for Vertex AI with a service account: regional publisher-model URLs, Bearer token.

The access token is minted from the service account by the account book (signed JWT); this
executor only builds `https://{location}-aiplatform.googleapis.com/v1/projects/{p}/locations/
{location}/publishers/google/models/{m}:{action}` (`global` has no location prefix).
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from aiproxyapi.credential import OAuthCredential
from aiproxyapi.endpoints import upstream_url
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.executors.base import Action, UpstreamCall
from aiproxyapi.executors.oauth import Grant, OAuthExecutor
from aiproxyapi.formats.dialect import Format

__all__ = ["VertexServiceAccountExecutor", "vertex_url"]

DEFAULT_LOCATION = "us-central1"


def _method(call: UpstreamCall) -> str:
    if call.action is Action.COUNT_TOKENS:
        return ":countTokens"
    return ":streamGenerateContent?alt=sse" if call.stream else ":generateContent"


def vertex_url(call: UpstreamCall, project: str, location: str) -> str:
    """The regional (or global) publisher-model URL of one call."""
    location = location or DEFAULT_LOCATION
    prefix = "" if location == "global" else f"{location}-"
    host = upstream_url("vertex.api").replace("{location}-", prefix)
    model = quote(call.upstream_model, safe="")
    return (
        f"{host}/v1/projects/{quote(project, safe='')}/locations/{location}"
        f"/publishers/google/models/{model}{_method(call)}"
    )


class VertexServiceAccountExecutor(OAuthExecutor):
    """Gemini on Vertex with a token minted from the account's service account."""

    dialect = Format.GEMINI
    provider = "vertex"

    async def send(
        self, call: UpstreamCall, credential: OAuthCredential, grant: Grant
    ) -> httpx.Response:
        """The publisher-model call with the minted Bearer token."""
        if call.action is Action.EMBED:
            raise ClientRequestError("vertex accounts serve generation only", param="model")
        project = grant.project or (credential.projects[0] if credential.projects else "")
        url = vertex_url(call, project, credential.location)
        auth = {"authorization": f"Bearer {grant.access_token.reveal()}"}
        return await self.post(call, url, auth, call.body, secrets=grant.secrets())
