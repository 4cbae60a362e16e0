"""Shared pieces of the fake authorization server: token minting, errors, PKCE checks.

Called with the fake's lock held; ``fake`` is the :class:`~.fake_oauth.FakeOAuth`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import TYPE_CHECKING, Any

from auth.endpoints import CLIENTS

from ._oauth_server import Answer

if TYPE_CHECKING:
    from .fake_oauth import FakeOAuth, OAuthRequest

__all__ = [
    "CLIENT_OF",
    "DEVICE_GRANT",
    "JWT_GRANT",
    "b64",
    "issue",
    "jwt",
    "live",
    "oauth_error",
    "presented",
    "s256",
    "unb64",
]

CLIENT_OF = {
    "claude": "claude",
    "codex": "codex",
    "google": "gemini",
    "iflow": "iflow",
    "qwen": "qwen",
    "github": "copilot",
}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def b64(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped token carrying claims (its signature is random: nobody verifies it)."""
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}.{b64(secrets.token_bytes(16))}"


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier."""
    return b64(hashlib.sha256(verifier.encode()).digest())


def oauth_error(error: str, status: int = 400, **extra: Any) -> Answer:
    """An RFC 6749 error answer."""
    return Answer.json({"error": error, "error_description": f"fake: {error}", **extra}, status)


def presented(req: OAuthRequest) -> str:
    """The token of the Authorization header (Bearer or GitHub's "token")."""
    value = req.headers.get("authorization", "")
    for scheme in ("Bearer ", "bearer ", "token "):
        if value.startswith(scheme):
            return value[len(scheme) :]
    return ""


def live(fake: FakeOAuth, token: str, provider: str) -> bool:
    """Whether the fake issued this access token to provider."""
    entry = fake.access_tokens.get(token)
    return entry is not None and entry["provider"] == provider


def issue(fake: FakeOAuth, provider: str, refresh: str | None = None) -> dict[str, Any]:
    """A token answer for provider (a new refresh token unless one is kept)."""
    account = fake.account
    now = time.time()
    access = fake.next_id(f"{provider}-at") + "-" + secrets.token_hex(8)
    if provider == "codex":
        access = jwt({"exp": int(now + fake.expires_in), "sub": account.codex_account_id})
    refresh = refresh or fake.next_id(f"{provider}-rt") + "-" + secrets.token_hex(8)
    fake.access_tokens[access] = {"provider": provider}
    fake.refresh_tokens.setdefault(refresh, {"provider": provider, "active": True})
    answer: dict[str, Any] = {
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": fake.expires_in,
        "token_type": "Bearer",
    }
    if provider == "claude":
        answer["account"] = {"uuid": "acct-uuid-1", "email_address": account.email}
        answer["organization"] = {"uuid": "org-uuid-1", "name": "Example Org"}
    elif provider == "codex":
        answer["id_token"] = jwt(
            {
                "email": account.email,
                "exp": int(now + fake.expires_in),
                "https://api.openai.com/auth": {
                    "chatgpt_plan_type": account.codex_plan,
                    "chatgpt_account_id": account.codex_account_id,
                },
            }
        )
    elif provider == "qwen":
        answer["resource_url"] = "portal.qwen.ai"
    elif provider == "google":
        answer["scope"] = CLIENTS["gemini"].scope
    return answer
