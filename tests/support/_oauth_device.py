"""The fake authorization server's device flows: RFC 8628 (Qwen, GitHub) and Codex's variant.

Each session answers its polls from the outcomes scripted in ``fake.device_outcomes``.
"""

from __future__ import annotations

import secrets
from collections import deque
from typing import TYPE_CHECKING, Any

from auth.endpoints import CLIENTS

from ._oauth_server import Answer
from ._oauth_tokens import CLIENT_OF, issue, oauth_error, s256

if TYPE_CHECKING:
    from .fake_oauth import FakeOAuth, OAuthRequest

__all__ = ["codex_device_token", "codex_usercode", "device_code", "device_grant"]


def _new_device(fake: FakeOAuth, provider: str, **extra: Any) -> dict[str, Any]:
    outcomes = fake.device_outcomes.get(provider, ["pending", "ok"])
    session = {
        "provider": provider,
        "outcomes": deque(outcomes),
        "user_code": "ABCD-1234",
        "polls": 0,
        **extra,
    }
    fake.devices[fake.next_id(f"{provider}-device")] = session
    return session


def _next_outcome(session: dict[str, Any]) -> str:
    session["polls"] += 1
    outcomes: deque[str] = session["outcomes"]
    return outcomes.popleft() if len(outcomes) > 1 else (outcomes[0] if outcomes else "ok")


def device_code(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    """Issue a device code (Qwen with its PKCE challenge, GitHub)."""
    if req.form.get("client_id") != CLIENTS[CLIENT_OF[provider]].client_id:
        return oauth_error("invalid_client", 401)
    if provider == "qwen" and req.form.get("code_challenge_method") != "S256":
        return oauth_error("invalid_request", error_description="PKCE required")
    _new_device(fake, provider, challenge=req.form.get("code_challenge"))
    device_code = next(reversed(fake.devices))
    return Answer.json(
        {
            "device_code": device_code,
            "user_code": "ABCD-1234",
            "verification_uri": f"{fake.root_url}/{provider}/verify",
            "verification_uri_complete": f"{fake.root_url}/{provider}/verify?code=ABCD-1234",
            "expires_in": 600,
            "interval": fake.device_interval,
        }
    )


def device_grant(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    """One poll of the device-code grant, answered from the scripted outcomes."""
    session = fake.devices.get(req.form.get("device_code", ""))
    github = provider == "github"
    status = 200 if github else 400
    if session is None or session["provider"] != provider:
        return oauth_error("invalid_grant", status)
    if provider == "qwen" and s256(req.form.get("code_verifier", "")) != session["challenge"]:
        return oauth_error("invalid_grant", error_description="code_verifier mismatch")
    outcome = _next_outcome(session)
    if outcome == "pending":
        return oauth_error("authorization_pending", status)
    if outcome == "slow_down":
        extra = {"interval": fake.slow_down_interval} if github else {}
        return oauth_error("slow_down", 200 if github else 429, **extra)
    if outcome in ("expired", "denied"):
        return oauth_error("expired_token" if outcome == "expired" else "access_denied", status)
    fake.devices.pop(req.form["device_code"])
    answer = issue(fake, provider)
    if github:  # GitHub OAuth-app tokens do not expire and come without a refresh token
        answer = {
            "access_token": answer["access_token"],
            "token_type": "bearer",
            "scope": "read:user",
        }
    return Answer.json(answer)


def codex_usercode(fake: FakeOAuth, req: OAuthRequest) -> Answer:
    """Codex's device-code request."""
    if req.form.get("client_id") != CLIENTS["codex"].client_id:
        return oauth_error("invalid_client", 401)
    _new_device(fake, "codex")
    device_auth_id = next(reversed(fake.devices))
    return Answer.json(
        {
            "device_auth_id": device_auth_id,
            "user_code": "ABCD-1234",
            "interval": str(fake.device_interval),
        }
    )


def codex_device_token(fake: FakeOAuth, req: OAuthRequest) -> Answer:
    """One Codex device poll: 403 while pending, then a code and its verifier."""
    session = fake.devices.get(req.form.get("device_auth_id", ""))
    if session is None or req.form.get("user_code") != session["user_code"]:
        return oauth_error("invalid_request", 400)
    outcome = _next_outcome(session)
    if outcome == "pending":
        return Answer.json({"error": {"message": "pending"}}, 403)
    if outcome != "ok":
        error = {"slow_down": "slow_down", "expired": "expired_token"}.get(outcome, "access_denied")
        return oauth_error(error, 400)
    verifier = secrets.token_urlsafe(48)
    code = fake.next_id("codex-device-code")
    fake.grants[code] = {
        "provider": "codex",
        "redirect": fake.url("codex.device-callback"),
        "challenge": s256(verifier),
        "used": False,
    }
    return Answer.json(
        {"authorization_code": code, "code_verifier": verifier, "code_challenge": s256(verifier)}
    )
