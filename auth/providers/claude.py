"""Claude (Claude Code subscription): authorization code + PKCE, JSON token endpoint.

Record ``claude-<email>.json``: ``type, access_token, refresh_token, id_token, last_refresh,
email, account_uuid, organization_uuid, organization_name, expired``.
"""

from __future__ import annotations

from typing import Any

import httpx

from auth._oauth import authorization_url, expiry_of, obj, post_token, read_json
from auth.endpoints import CLIENTS, url
from auth.errors import AuthFlowError
from auth.flow import AuthCodeFlow
from auth.records import LoginResult, record_name, stamp_tokens

__all__ = ["ClaudeLogin", "refresh"]

_CLIENT = CLIENTS["claude"]
_BETA = {"anthropic-beta": "oauth-2025-04-20"}


class ClaudeLogin(AuthCodeFlow):
    """``--claude-login``."""

    provider = "claude"
    label = "Claude"

    def authorization_url(self) -> str:
        """claude.ai's authorize page; ``code=true`` asks it to show the code as well."""
        return authorization_url(
            url("claude.authorize"),
            client_id=_CLIENT.client_id,
            redirect_uri=self.redirect_uri,
            scope=_CLIENT.scope,
            state=self.state,
            pkce=self.pkce,
            extra={"code": "true"},
        )

    async def exchange(self, code: str) -> LoginResult:
        """JSON token request, then the account from the answer or the profile endpoint."""
        tokens = await post_token(
            self.client,
            url("claude.token"),
            "authorization_code",
            what="the Claude token request",
            json_body=True,
            code=code,
            state=self.state,
            client_id=_CLIENT.client_id,
            redirect_uri=self.redirect_uri,
            code_verifier=self.pkce.verifier,
        )
        account = obj(tokens.get("account"))
        org = obj(tokens.get("organization"))
        email = account.get("email_address") or account.get("email")
        if not email:
            profile = await self._profile(str(tokens.get("access_token", "")))
            account = profile.get("account") or {}
            org = org or profile.get("organization") or {}
            email = account.get("email_address") or account.get("email")
        if not isinstance(email, str) or not email:
            raise AuthFlowError("Claude did not say which account logged in; try again later")
        record: dict[str, Any] = {
            "type": "claude",
            "access_token": tokens.get("access_token", ""),
            "refresh_token": tokens.get("refresh_token", ""),
            "id_token": tokens.get("id_token", ""),
            "email": email,
            "account_uuid": account.get("uuid", ""),
            "organization_uuid": org.get("uuid", ""),
            "organization_name": org.get("name", ""),
        }
        stamp_tokens(record, expires=expiry_of(tokens))
        return LoginResult(record_name("claude", email), email, record)

    async def _profile(self, access_token: str) -> dict[str, Any]:
        response = await self.client.get(
            url("claude.profile"), headers={"Authorization": f"Bearer {access_token}", **_BETA}
        )
        return read_json(response) if response.is_success else {}


async def refresh(record: dict[str, Any], client: httpx.AsyncClient) -> dict[str, Any]:
    """JSON refresh grant; Claude rotates the refresh token."""
    tokens = await post_token(
        client,
        url("claude.token"),
        "refresh_token",
        what="the Claude token refresh",
        json_body=True,
        refresh_token=record["refresh_token"],
        client_id=_CLIENT.client_id,
    )
    updated = dict(record)
    updated["access_token"] = tokens.get("access_token", "")
    updated["refresh_token"] = tokens.get("refresh_token") or record["refresh_token"]
    stamp_tokens(updated, expires=expiry_of(tokens))
    return updated
