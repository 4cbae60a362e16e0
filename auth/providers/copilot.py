"""GitHub Copilot: GitHub's device flow; the record keeps the GitHub token.

Record ``copilot-<github login>.json``: ``type, access_token (the GitHub OAuth token),
token_type, scope, login, email, last_refresh``. GitHub OAuth tokens of this app do not expire,
so the record has no ``expired``; the short-lived Copilot API token is exchanged at run time with
:func:`exchange_copilot_token`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from auth._oauth import TokenError, obj, post_token, read_json, seconds
from auth.endpoints import CLIENTS, url
from auth.errors import AuthFlowError, RefreshError
from auth.flow import DeviceFlow, DeviceStep, device_outcome
from auth.records import LoginResult, record_name, stamp_tokens

__all__ = ["COPILOT_HEADERS", "CopilotLogin", "CopilotToken", "exchange_copilot_token"]

_CLIENT = CLIENTS["copilot"]
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

#: Editor identification the Copilot token and chat endpoints expect.
COPILOT_HEADERS = {
    "Accept": "application/json",
    "Editor-Version": "vscode/1.96.0",
    "Editor-Plugin-Version": "copilot-chat/0.26.7",
    "User-Agent": "GitHubCopilotChat/0.26.7",
}


class CopilotLogin(DeviceFlow):
    """``--copilot-login``."""

    provider = "copilot"
    label = "GitHub"

    _device_code = ""

    async def request_code(self) -> DeviceStep:
        """POST client id and scope to GitHub's device-code endpoint."""
        try:
            response = await self.client.post(
                url("copilot.device-code"),
                data={"client_id": _CLIENT.client_id, "scope": _CLIENT.scope},
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise TokenError(
                "the GitHub device-code request", None, None, type(exc).__name__
            ) from None
        data = read_json(response)
        self._device_code = str(data.get("device_code") or "")
        if not response.is_success or not self._device_code:
            raise TokenError("the GitHub device-code request", response.status_code, None, None)
        return DeviceStep(
            str(data.get("verification_uri") or "https://github.com/login/device"),
            str(data.get("user_code") or ""),
            seconds(data.get("interval"), 5),
            seconds(data.get("expires_in"), 900),
        )

    async def poll(self) -> dict[str, Any] | None:
        """Device-code grant; GitHub answers errors with HTTP 200 and an ``error`` field."""
        try:
            return await post_token(
                self.client,
                url("copilot.token"),
                _DEVICE_GRANT,
                what="the GitHub token poll",
                client_id=_CLIENT.client_id,
                device_code=self._device_code,
            )
        except TokenError as exc:
            if exc.status is None:
                raise
            device_outcome(exc)
            return None

    async def finish(self, tokens: dict[str, Any]) -> LoginResult:
        """The GitHub account's login names the record."""
        token = str(tokens.get("access_token") or "")
        response = await self.client.get(
            url("copilot.user"),
            headers={"Authorization": f"token {token}", "Accept": "application/json"},
        )
        user = read_json(response) if response.is_success else {}
        login = user.get("login")
        if not isinstance(login, str) or not login:
            raise AuthFlowError("GitHub did not say which account logged in; run the login again")
        record: dict[str, Any] = {
            "type": "copilot",
            "access_token": token,
            "token_type": tokens.get("token_type", "bearer"),
            "scope": tokens.get("scope", _CLIENT.scope),
            "login": login,
            "email": str(user.get("email") or ""),
        }
        stamp_tokens(record, expires=None)
        return LoginResult(record_name("copilot", login), login, record)


@dataclass(frozen=True)
class CopilotToken:
    """A Copilot API token: send it as Bearer to ``api_url`` until ``expires_at``."""

    token: str
    expires_at: float
    refresh_in: float
    api_url: str

    def __repr__(self) -> str:
        return f"CopilotToken(expires_at={self.expires_at}, api_url={self.api_url!r})"


async def exchange_copilot_token(github_token: str, *, client: httpx.AsyncClient) -> CopilotToken:
    """Trade the record's GitHub token for a Copilot API token; RefreshError on failure."""
    try:
        response = await client.get(
            url("copilot.api-token"),
            headers={**COPILOT_HEADERS, "Authorization": f"token {github_token}"},
        )
    except httpx.HTTPError as exc:
        raise RefreshError(
            f"Copilot token exchange: network error ({type(exc).__name__})"
        ) from None
    data = read_json(response)
    if response.status_code == 401:
        raise RefreshError(
            "Copilot token exchange: GitHub no longer accepts the token; log in again "
            "with --copilot-login",
            permanent=True,
        )
    if response.status_code in (403, 404):
        raise RefreshError(
            f"Copilot token exchange: HTTP {response.status_code} (no active Copilot "
            "subscription for this GitHub account?)",
            permanent=True,
        )
    token = data.get("token")
    if not response.is_success or not isinstance(token, str) or not token:
        raise RefreshError(f"Copilot token exchange: HTTP {response.status_code}")
    now = time.time()
    expires = data.get("expires_at")
    expires_at = float(expires) if isinstance(expires, int | float) else now + 1500
    endpoints = obj(data.get("endpoints"))
    api_url = str(endpoints.get("api") or "https://api.githubcopilot.com")
    refresh_in = data.get("refresh_in")
    return CopilotToken(
        token,
        expires_at,
        float(refresh_in) if isinstance(refresh_in, int | float) else max(expires_at - now - 60, 0),
        api_url,
    )
