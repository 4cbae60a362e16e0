"""Qwen: device authorization with PKCE at chat.qwen.ai.

Record ``qwen-<email or id>.json``: ``type, access_token, refresh_token, last_refresh,
resource_url, email, expired``. Qwen's token answer names no account, so the name uses the
email claim of an id_token when one comes, else the token subject, else the login time.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from auth._oauth import Pkce, TokenError, expiry_of, jwt_claims, post_token, read_json, seconds
from auth.endpoints import CLIENTS, url
from auth.errors import AuthFlowError
from auth.flow import DeviceFlow, DeviceStep, device_outcome
from auth.records import LoginResult, record_name, stamp_tokens

__all__ = ["QwenLogin", "refresh"]

_CLIENT = CLIENTS["qwen"]
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class QwenLogin(DeviceFlow):
    """``--qwen-login``."""

    provider = "qwen"
    label = "Qwen"

    _device_code = ""
    _pkce = Pkce("", "")

    async def request_code(self) -> DeviceStep:
        """POST client id, scope and the PKCE challenge."""
        self._pkce = Pkce.new()
        try:
            response = await self.client.post(
                url("qwen.device-code"),
                data={
                    "client_id": _CLIENT.client_id,
                    "scope": _CLIENT.scope,
                    "code_challenge": self._pkce.challenge,
                    "code_challenge_method": self._pkce.method,
                },
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise TokenError(
                "the Qwen device-code request", None, None, type(exc).__name__
            ) from None
        data = read_json(response) if response.is_success else {}
        self._device_code = str(data.get("device_code") or "")
        if not self._device_code:
            raise TokenError("the Qwen device-code request", response.status_code, None, None)
        return DeviceStep(
            str(data.get("verification_uri") or ""),
            str(data.get("user_code") or ""),
            seconds(data.get("interval"), 5),
            seconds(data.get("expires_in"), 600),
            data.get("verification_uri_complete"),
        )

    async def poll(self) -> dict[str, Any] | None:
        """Device-code grant with the PKCE verifier."""
        try:
            return await post_token(
                self.client,
                url("qwen.token"),
                _DEVICE_GRANT,
                what="the Qwen token poll",
                client_id=_CLIENT.client_id,
                device_code=self._device_code,
                code_verifier=self._pkce.verifier,
            )
        except TokenError as exc:
            if exc.status is None:
                raise
            device_outcome(exc)
            return None

    async def finish(self, tokens: dict[str, Any]) -> LoginResult:
        """The record; ``resource_url`` says where the account's API lives."""
        if not tokens.get("access_token"):
            raise AuthFlowError("Qwen answered without an access token; run the login again")
        claims = jwt_claims(tokens.get("id_token")) or jwt_claims(tokens.get("access_token"))
        account = str(claims.get("email") or claims.get("sub") or int(time.time() * 1000))
        record: dict[str, Any] = {
            "type": "qwen",
            "access_token": tokens["access_token"],
            "refresh_token": tokens.get("refresh_token", ""),
            "resource_url": tokens.get("resource_url", ""),
            "email": str(claims.get("email") or ""),
        }
        stamp_tokens(record, expires=expiry_of(tokens))
        return LoginResult(record_name("qwen", account), account, record)


async def refresh(record: dict[str, Any], client: httpx.AsyncClient) -> dict[str, Any]:
    """Form refresh grant; Qwen rotates the refresh token and may move ``resource_url``."""
    tokens = await post_token(
        client,
        url("qwen.token"),
        "refresh_token",
        what="the Qwen token refresh",
        refresh_token=record["refresh_token"],
        client_id=_CLIENT.client_id,
    )
    updated = dict(record)
    updated["access_token"] = tokens.get("access_token", "")
    updated["refresh_token"] = tokens.get("refresh_token") or record["refresh_token"]
    if tokens.get("resource_url"):
        updated["resource_url"] = tokens["resource_url"]
    stamp_tokens(updated, expires=expiry_of(tokens))
    return updated
