"""iFlow: authorization code (with PKCE) at iflow.cn, then the account's API key.

Record ``iflow-<email>.json``: ``type, access_token, refresh_token, last_refresh, expired,
api_key, email, token_type, scope``. The API key is what the iFlow API takes; it is fetched
again after every refresh, since iFlow may replace it.
"""

from __future__ import annotations

from typing import Any

import httpx

from auth._oauth import TokenError, authorization_url, expiry_of, obj, post_token, read_json
from auth.endpoints import CLIENTS, url
from auth.errors import AuthFlowError
from auth.flow import AuthCodeFlow
from auth.records import LoginResult, record_name, stamp_tokens

__all__ = ["IFlowLogin", "fetch_account", "refresh"]

_CLIENT = CLIENTS["iflow"]


def _basic() -> httpx.BasicAuth:
    return httpx.BasicAuth(_CLIENT.client_id, _CLIENT.client_secret or "")


async def fetch_account(client: httpx.AsyncClient, access_token: str) -> tuple[str, str]:
    """(API key, email or phone) of the account behind an access token."""
    try:
        response = await client.get(url("iflow.userinfo"), params={"accessToken": access_token})
    except httpx.HTTPError as exc:
        raise TokenError("the iFlow account lookup", None, None, type(exc).__name__) from None
    data = read_json(response)
    info = obj(data.get("data"))
    key = info.get("apiKey")
    if not response.is_success or not data.get("success", True) or not key:
        raise TokenError("the iFlow API key fetch", response.status_code, None, None)
    account = str(info.get("email") or info.get("phone") or "")
    return str(key), account


class IFlowLogin(AuthCodeFlow):
    """``--iflow-login``."""

    provider = "iflow"
    label = "iFlow"

    def authorization_url(self) -> str:
        """iflow.cn's login page; it takes the callback as ``redirect``."""
        return authorization_url(
            url("iflow.authorize"),
            client_id=_CLIENT.client_id,
            redirect_uri=None,
            scope=None,
            state=self.state,
            pkce=self.pkce,
            extra={"loginMethod": "phone", "type": "phone", "redirect": self.redirect_uri},
        )

    async def exchange(self, code: str) -> LoginResult:
        """Code exchange (client credentials by Basic auth), then the API key."""
        tokens = await post_token(
            self.client,
            url("iflow.token"),
            "authorization_code",
            what="the iFlow token request",
            auth=_basic(),
            code=code,
            redirect_uri=self.redirect_uri,
            client_id=_CLIENT.client_id,
            client_secret=_CLIENT.client_secret or "",
            code_verifier=self.pkce.verifier,
        )
        self.progress("fetching the iFlow API key")
        api_key, account = await fetch_account(self.client, str(tokens.get("access_token", "")))
        if not account:
            raise AuthFlowError("iFlow did not say which account logged in; run the login again")
        record: dict[str, Any] = {
            "type": "iflow",
            "access_token": tokens.get("access_token", ""),
            "refresh_token": tokens.get("refresh_token", ""),
            "api_key": api_key,
            "email": account,
            "token_type": tokens.get("token_type", "Bearer"),
            "scope": tokens.get("scope", ""),
        }
        stamp_tokens(record, expires=expiry_of(tokens))
        return LoginResult(record_name("iflow", account), account, record)


async def refresh(record: dict[str, Any], client: httpx.AsyncClient) -> dict[str, Any]:
    """Form refresh grant with Basic client auth, then the (possibly new) API key."""
    tokens = await post_token(
        client,
        url("iflow.token"),
        "refresh_token",
        what="the iFlow token refresh",
        auth=_basic(),
        refresh_token=record["refresh_token"],
        client_id=_CLIENT.client_id,
        client_secret=_CLIENT.client_secret or "",
    )
    updated = dict(record)
    updated["access_token"] = tokens.get("access_token", "")
    updated["refresh_token"] = tokens.get("refresh_token") or record["refresh_token"]
    api_key, _ = await fetch_account(client, str(updated["access_token"]))
    updated["api_key"] = api_key
    stamp_tokens(updated, expires=expiry_of(tokens))
    return updated
