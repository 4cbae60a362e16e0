"""What every OAuth executor shares: the live grant, its source, and refresh-and-retry on 401.

The token of an OAuth account changes while runtime snapshots stay fixed, so it is not part of
the credential: a `TokenSource` (the gateway's account book) hands the current `Grant` to each
call. An upstream 401 asks the source for a renewed grant and retries the same credential once;
when the renewal fails the 401 goes to the pool like any other credential failure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import msgspec

from aiproxyapi.credential import Credential, OAuthCredential
from aiproxyapi.errors import UpstreamFailure
from aiproxyapi.executors.base import HttpExecutor, UpstreamCall
from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts
from aiproxyapi.secret import Secret

__all__ = ["Grant", "OAuthExecutor", "TokenSource", "json_body", "oauth_credential", "rewrap"]

log = logging.getLogger("aiproxyapi.executors")

_json = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class Grant:
    """The live secrets of one account for one call: the access token and what goes with it."""

    access_token: Secret
    api_key: Secret = field(default_factory=lambda: Secret(""))
    """iFlow's platform key, obtained at login; sent instead of the token."""
    base_url: str = ""
    """An API base the token itself names (Copilot's `endpoints.api`)."""
    project: str = ""
    """The Google Cloud project this call uses (Gemini CLI, Vertex)."""

    def secrets(self) -> tuple[str, ...]:
        """Every secret of the grant, for scrubbing upstream echoes."""
        return tuple(s for s in (self.access_token.reveal(), self.api_key.reveal()) if s)


class TokenSource(Protocol):
    """Where OAuth executors get live grants; implemented by the account book."""

    async def grant(self, credential: OAuthCredential) -> Grant:
        """The current grant (waits for a refresh in flight; mints one when none is cached)."""
        ...

    async def renew(self, credential: OAuthCredential, stale: Grant) -> Grant | None:
        """A grant newer than `stale` (one refresh for all callers); None when refresh failed."""
        ...

    async def next_project(self, credential: OAuthCredential, current: str) -> Grant | None:
        """Move the account to its project after `current`; None when there is none."""
        ...

    async def remember_project(self, credential: OAuthCredential, project: str) -> Grant:
        """Keep a discovered project for the account; the grant that uses it."""
        ...


def oauth_credential(credential: Credential) -> OAuthCredential:
    """The credential as an OAuth account; an API key reaching an OAuth executor is a bug."""
    if not isinstance(credential, OAuthCredential):
        raise TypeError(f"credential {credential.label} is not an OAuth account")
    return credential


def json_body(data: bytes) -> dict[str, Any]:
    """An upstream-bound JSON object body (the relay always sends one)."""
    decoded = _json.decode(data)
    if not isinstance(decoded, dict):
        raise TypeError("upstream body is not a JSON object")
    return decoded


def rewrap(response: httpx.Response, content: bytes, content_type: str) -> httpx.Response:
    """A finished response with new content, keeping the upstream's status and headers."""
    headers = [
        (name, value)
        for name, value in response.headers.items()
        if name.lower() not in ("content-length", "content-encoding", "transfer-encoding")
    ]
    headers = [(n, v) for n, v in headers if n.lower() != "content-type"]
    headers.append(("content-type", content_type))
    return httpx.Response(response.status_code, headers=headers, content=content)


class OAuthExecutor(HttpExecutor):
    """Base of the OAuth executors: a grant per call, one retry after a refreshed 401."""

    provider: str = ""
    """The channel name the account book and `endpoints` know this executor by."""

    def __init__(
        self,
        clients: HttpClients,
        global_proxy: str,
        timeouts: UpstreamTimeouts,
        tokens: TokenSource,
    ) -> None:
        super().__init__(clients, global_proxy, timeouts)
        self._tokens = tokens

    async def open(self, call: UpstreamCall) -> httpx.Response:
        """Send with the current grant; on 401 renew it and send once more."""
        credential = oauth_credential(call.credential)
        grant = await self._tokens.grant(credential)
        try:
            return await self.send(call, credential, grant)
        except UpstreamFailure as failure:
            if failure.status != 401:
                raise
            renewed = await self._tokens.renew(credential, grant)
            if renewed is None:
                raise
            log.info("upstream refused the token of %s (401): renewed, retrying", credential.id)
        return await self.send(call, credential, renewed)

    async def send(
        self, call: UpstreamCall, credential: OAuthCredential, grant: Grant
    ) -> httpx.Response:
        """One exchange with one grant; subclasses give the URL, headers and body."""
        raise NotImplementedError
