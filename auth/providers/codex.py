"""Codex (ChatGPT plans): authorization code + PKCE, or the device-code variant.

Record ``codex-<email>-<plan>.json`` (plan from the id_token's ``chatgpt_plan_type`` claim):
``type, id_token, access_token, refresh_token, account_id, last_refresh, email, expired``.
"""

from __future__ import annotations

from typing import Any

import httpx

from auth._oauth import (
    TokenError,
    authorization_url,
    expiry_of,
    jwt_claims,
    obj,
    post_token,
    read_json,
    seconds,
)
from auth.endpoints import CLIENTS, url
from auth.errors import AuthFlowError
from auth.flow import AuthCodeFlow, DeviceFlow, DeviceStep, device_outcome
from auth.records import LoginResult, record_name, stamp_tokens

__all__ = ["CodexDeviceLogin", "CodexLogin", "codex_record", "refresh"]

_CLIENT = CLIENTS["codex"]
_AUTH_CLAIM = "https://api.openai.com/auth"
_DEVICE_WINDOW = 900.0  # the Codex device code lives 15 minutes


def codex_record(tokens: dict[str, Any]) -> LoginResult:
    """The record of a Codex token answer; the account comes from the id_token claims."""
    claims = jwt_claims(tokens.get("id_token"))
    auth = obj(claims.get(_AUTH_CLAIM))
    email = claims.get("email")
    if not isinstance(email, str) or not email:
        raise AuthFlowError("the Codex id_token carries no email; run the login again")
    plan = str(auth.get("chatgpt_plan_type") or "")
    record: dict[str, Any] = {
        "type": "codex",
        "id_token": tokens.get("id_token", ""),
        "access_token": tokens.get("access_token", ""),
        "refresh_token": tokens.get("refresh_token", ""),
        "account_id": str(auth.get("chatgpt_account_id") or ""),
        "email": email,
    }
    if plan:
        record["plan_type"] = plan
    stamp_tokens(record, expires=expiry_of(tokens))
    return LoginResult(record_name("codex", email, plan), email, record)


async def _exchange(
    client: httpx.AsyncClient, code: str, redirect_uri: str, verifier: str
) -> dict[str, Any]:
    return await post_token(
        client,
        url("codex.token"),
        "authorization_code",
        what="the Codex token request",
        code=code,
        redirect_uri=redirect_uri,
        client_id=_CLIENT.client_id,
        code_verifier=verifier,
    )


class CodexLogin(AuthCodeFlow):
    """``--codex-login``."""

    provider = "codex"
    label = "Codex"

    def authorization_url(self) -> str:
        """auth.openai.com's authorize page with the Codex CLI's extra parameters."""
        return authorization_url(
            url("codex.authorize"),
            client_id=_CLIENT.client_id,
            redirect_uri=self.redirect_uri,
            scope=_CLIENT.scope,
            state=self.state,
            pkce=self.pkce,
            extra={
                "prompt": "login",
                "id_token_add_organizations": "true",
                "codex_cli_simplified_flow": "true",
            },
        )

    async def exchange(self, code: str) -> LoginResult:
        """Form-encoded code exchange."""
        tokens = await _exchange(self.client, code, self.redirect_uri, self.pkce.verifier)
        return codex_record(tokens)


class CodexDeviceLogin(DeviceFlow):
    """``--codex-device-login``: a user code, then the server hands back a code + verifier."""

    provider = "codex"
    label = "Codex"

    _device_auth_id = ""
    _user_code = ""

    async def request_code(self) -> DeviceStep:
        """POST the client id; the answer holds ``device_auth_id``, ``user_code``, ``interval``."""
        response = await self.client.post(
            url("codex.device-code"), json={"client_id": _CLIENT.client_id}
        )
        data = read_json(response)
        if not response.is_success:
            raise TokenError("the Codex device-code request", response.status_code, None, None)
        self._device_auth_id = str(data.get("device_auth_id") or "")
        self._user_code = str(data.get("user_code") or data.get("usercode") or "")
        if not self._device_auth_id or not self._user_code:
            raise AuthFlowError("Codex answered the device-code request without a code")
        return DeviceStep(
            url("codex.device-verify"),
            self._user_code,
            seconds(data.get("interval"), 5),
            seconds(data.get("expires_in"), _DEVICE_WINDOW),
        )

    async def poll(self) -> dict[str, Any] | None:
        """403/404 mean not yet; 200 brings ``authorization_code`` and ``code_verifier``."""
        try:
            response = await self.client.post(
                url("codex.device-token"),
                json={"device_auth_id": self._device_auth_id, "user_code": self._user_code},
            )
        except httpx.HTTPError as exc:
            raise TokenError("the Codex device poll", None, None, type(exc).__name__) from None
        if response.status_code in (403, 404):
            return None
        data = read_json(response)
        if not response.is_success:
            error = data.get("error")
            code = error if isinstance(error, str) else None
            if code in ("authorization_pending", "slow_down", "expired_token", "access_denied"):
                device_outcome(TokenError("the Codex device poll", 400, code, None, data))
                return None
            raise TokenError("the Codex device poll", response.status_code, code, None)
        if not data.get("authorization_code"):
            return None
        return data

    async def finish(self, tokens: dict[str, Any]) -> LoginResult:
        """Exchange the handed-back code at the token endpoint."""
        answer = await _exchange(
            self.client,
            str(tokens["authorization_code"]),
            url("codex.device-callback"),
            str(tokens.get("code_verifier") or ""),
        )
        return codex_record(answer)


async def refresh(record: dict[str, Any], client: httpx.AsyncClient) -> dict[str, Any]:
    """Form refresh grant; a new id_token (and refresh token) may come back."""
    tokens = await post_token(
        client,
        url("codex.token"),
        "refresh_token",
        what="the Codex token refresh",
        refresh_token=record["refresh_token"],
        client_id=_CLIENT.client_id,
        scope="openid profile email",
    )
    updated = dict(record)
    updated["access_token"] = tokens.get("access_token", "")
    updated["refresh_token"] = tokens.get("refresh_token") or record["refresh_token"]
    if tokens.get("id_token"):
        updated["id_token"] = tokens["id_token"]
        auth = jwt_claims(tokens["id_token"]).get(_AUTH_CLAIM)
        if isinstance(auth, dict) and auth.get("chatgpt_account_id"):
            updated["account_id"] = str(auth["chatgpt_account_id"])
    stamp_tokens(updated, expires=expiry_of(tokens))
    return updated
