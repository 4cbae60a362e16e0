"""Tokens derived at runtime: Copilot's from the GitHub token, Vertex's from a service account.

Neither is stored: the record keeps the long-lived secret (GitHub token, service-account key)
and the book caches the derived token in memory until shortly before it expires.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import msgspec

from aiproxyapi.accounts.book import Minted
from aiproxyapi.accounts.records import AccountRecord
from aiproxyapi.endpoints import upstream_url
from aiproxyapi.executors.openai_oauth import COPILOT_HEADERS

__all__ = ["MintError", "mint_token", "service_account_assertion"]

_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
_JWT_LIFETIME = 3600
_json = msgspec.json.Decoder()


class MintError(Exception):
    """A token could not be derived; `reason` names the step, never a secret."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


async def mint_token(record: AccountRecord, client: httpx.AsyncClient) -> Minted:
    """A fresh derived token for a Copilot or Vertex record."""
    if record.channel == "copilot":
        return await _copilot(record.data, client)
    if record.channel == "vertex":
        return await _vertex(record.data, client)
    raise MintError(f"records of type {record.channel} carry their own token", permanent=True)


async def _copilot(data: dict[str, Any], client: httpx.AsyncClient) -> Minted:
    github = data.get("github_token") or data.get("access_token")
    headers = {
        **COPILOT_HEADERS,
        "authorization": f"token {github}",
        "accept": "application/json",
    }
    body = await _call(client, "GET", upstream_url("copilot.api-token"), headers, None)
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise MintError("the Copilot token exchange answered without a token")
    expires = body.get("expires_at")
    endpoints = body.get("endpoints")
    api = endpoints.get("api") if isinstance(endpoints, dict) else None
    return Minted(
        token=token,
        expires_at=float(expires) if isinstance(expires, int | float) else time.time() + 1500,
        base_url=api if isinstance(api, str) else "",
    )


def service_account_assertion(account: dict[str, Any], audience: str, now: float) -> str:
    """The RS256-signed JWT that trades a service account for an access token."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    claims = {
        "iss": account["client_email"],
        "scope": _SCOPE,
        "aud": audience,
        "iat": int(now),
        "exp": int(now) + _JWT_LIFETIME,
    }
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if isinstance(account.get("private_key_id"), str):
        header["kid"] = account["private_key_id"]
    key = RSAKey.import_key(account["private_key"])
    return jwt.encode(header, claims, key)


async def _vertex(data: dict[str, Any], client: httpx.AsyncClient) -> Minted:
    account = data.get("service_account")
    if not isinstance(account, dict) or not isinstance(account.get("client_email"), str):
        raise MintError("the service account has no client_email", permanent=True)
    audience = account.get("token_uri") or _GOOGLE_TOKEN_URL
    url = upstream_url("vertex.token") or audience
    try:
        assertion = service_account_assertion(account, audience, time.time())
    except (ValueError, TypeError, KeyError) as exc:
        raise MintError(
            f"the service account key cannot sign ({type(exc).__name__})", permanent=True
        ) from None
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
    body = await _call(client, "POST", url, {"accept": "application/json"}, form)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise MintError("the Google token endpoint answered without an access token")
    lifetime = body.get("expires_in")
    seconds = float(lifetime) if isinstance(lifetime, int | float) else 3600.0
    return Minted(token=token, expires_at=time.time() + seconds)


async def _call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    headers: dict[str, str],
    form: dict[str, str] | None,
) -> dict[str, Any]:
    try:
        response = await client.request(method, url, headers=headers, data=form)
    except httpx.HTTPError as exc:
        raise MintError(f"token endpoint unreachable ({type(exc).__name__})") from None
    if response.status_code >= 300:
        permanent = response.status_code in (400, 401, 403)
        raise MintError(f"token endpoint answered {response.status_code}", permanent=permanent)
    try:
        decoded = _json.decode(response.content)
    except msgspec.DecodeError:
        raise MintError("token endpoint answered no JSON") from None
    return decoded if isinstance(decoded, dict) else {}
