"""The fake authorization server's endpoints: each a small function over the fake's state.

Authorization codes and token grants here, device flows in ``_oauth_device``, shared token
minting in ``_oauth_tokens``. Called with the fake's lock held.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from auth.endpoints import CLIENTS

from ._oauth_device import codex_device_token, codex_usercode, device_code, device_grant
from ._oauth_server import Answer
from ._oauth_tokens import (
    CLIENT_OF,
    DEVICE_GRANT,
    JWT_GRANT,
    issue,
    live,
    oauth_error,
    presented,
    s256,
    unb64,
)

if TYPE_CHECKING:
    from .fake_oauth import FakeOAuth, OAuthRequest

__all__ = ["route"]


# -- authorization code -----------------------------------------------------------------------


def _authorize(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    q = req.query
    expected = CLIENTS[CLIENT_OF[provider]].client_id
    redirect = q.get("redirect_uri") or q.get("redirect")
    if q.get("client_id") != expected or q.get("response_type") != "code" or not redirect:
        return Answer.text("bad authorization request", 400)
    if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
        return Answer.text("PKCE S256 required", 400)
    if not q.get("state"):
        return Answer.text("state required", 400)
    if fake.deny_next:
        fake.deny_next = False
        query = {
            "error": "access_denied",
            "error_description": "The user denied access",
            "state": q["state"],
        }
        return Answer.redirect(f"{redirect}?{urlencode(query)}")
    code = fake.next_id(f"{provider}-code")
    fake.grants[code] = {
        "provider": provider,
        "redirect": redirect,
        "challenge": q["code_challenge"],
        "used": False,
    }
    return Answer.redirect(f"{redirect}?{urlencode({'code': code, 'state': q['state']})}")


def _code_grant(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    form = req.form
    grant = fake.grants.get(form.get("code", ""))
    if grant is None or grant["used"] or grant["provider"] != provider:
        return oauth_error("invalid_grant")
    grant["used"] = True
    if form.get("client_id") != CLIENTS[CLIENT_OF[provider]].client_id:
        return oauth_error("invalid_client", 401)
    if form.get("redirect_uri") != grant["redirect"]:
        return oauth_error("invalid_grant", error_description="redirect_uri mismatch")
    if s256(form.get("code_verifier", "")) != grant["challenge"]:
        return oauth_error("invalid_grant", error_description="code_verifier mismatch")
    if provider in ("google", "iflow"):
        secret = CLIENTS[CLIENT_OF[provider]].client_secret
        basic = req.headers.get("authorization", "")
        if form.get("client_secret") != secret and not basic.startswith("Basic "):
            return oauth_error("invalid_client", 401)
    return Answer.json(issue(fake, provider))


def _refresh_grant(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    old = req.form.get("refresh_token", "")
    entry = fake.refresh_tokens.get(old)
    if entry is None or not entry["active"] or entry["provider"] != provider:
        return oauth_error("invalid_grant")
    if fake.rotate.get(provider, False):
        entry["active"] = False
        answer = issue(fake, provider)
    else:
        answer = issue(fake, provider, refresh=old)
        if provider == "google":
            del answer["refresh_token"]
    return Answer.json(answer)


def _jwt_grant(fake: FakeOAuth, req: OAuthRequest) -> Answer:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        head, body, signature = req.form.get("assertion", "").split(".")
        claims = json.loads(unb64(body))
        key = fake.service_accounts[claims["iss"]]
        key.verify(unb64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, KeyError, InvalidSignature):
        return oauth_error("invalid_grant", error_description="bad assertion")
    if claims.get("aud") != fake.url("vertex.token") or claims.get("exp", 0) < time.time():
        return oauth_error("invalid_grant", error_description="bad audience or expired")
    if "cloud-platform" not in claims.get("scope", ""):
        return oauth_error("invalid_scope")
    token = fake.next_id("ya29.sa")
    fake.access_tokens[token] = {"provider": "vertex"}
    return Answer.json(
        {"access_token": token, "expires_in": fake.expires_in, "token_type": "Bearer"}
    )


def _token(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    if fake.token_failures:
        status, error = fake.token_failures.popleft()
        return oauth_error(error or "server_error", status)
    grant = req.form.get("grant_type")
    if grant == "authorization_code":
        return _code_grant(fake, req, provider)
    if grant == "refresh_token":
        return _refresh_grant(fake, req, provider)
    if grant == DEVICE_GRANT:
        return device_grant(fake, req, provider)
    if grant == JWT_GRANT and provider == "google":
        return _jwt_grant(fake, req)
    return oauth_error("unsupported_grant_type")


# -- account endpoints ------------------------------------------------------------------------


def _claude_profile(fake: FakeOAuth, req: OAuthRequest) -> Answer:
    if not live(fake, presented(req), "claude"):
        return oauth_error("authentication_error", 401)
    email = fake.account.email
    return Answer.json(
        {
            "account": {"uuid": "acct-uuid-1", "email": email},
            "organization": {"uuid": "org-uuid-1", "name": "Example Org"},
        }
    )


def _google(fake: FakeOAuth, req: OAuthRequest, what: str) -> Answer:
    if not live(fake, presented(req), "google"):
        return Answer.json({"error": {"code": 401, "message": "invalid credentials"}}, 401)
    if what == "userinfo":
        return Answer.json({"email": fake.account.email, "verified_email": True})
    if what == "projects":
        return Answer.json(
            {
                "projects": [
                    {"projectId": p, "lifecycleState": "ACTIVE"}
                    for p in fake.account.google_projects
                ]
            }
        )
    body = req.json if isinstance(req.json, dict) else {}
    project = body.get("cloudaicompanionProject")
    if what == "load":
        if fake.code_assist_tier and (project or fake.onboarded_projects):
            return Answer.json(
                {
                    "currentTier": {"id": fake.code_assist_tier},
                    "cloudaicompanionProject": project or fake.onboarded_projects[0],
                }
            )
        return Answer.json(
            {
                "allowedTiers": [
                    {
                        "id": "free-tier",
                        "isDefault": True,
                        "userDefinedCloudaicompanionProject": False,
                    },
                    {"id": "standard-tier", "userDefinedCloudaicompanionProject": True},
                ]
            }
        )
    calls = fake.__dict__.setdefault("_onboard_calls", 0) + 1
    fake.__dict__["_onboard_calls"] = calls
    if calls <= fake.onboard_polls:
        return Answer.json({"name": "operations/onboard-1", "done": False})
    fake.__dict__["_onboard_calls"] = 0
    found = project or "free-proj-1"
    fake.code_assist_tier = body.get("tierId", "free-tier")
    fake.onboarded_projects.append(found)
    return Answer.json(
        {
            "name": "operations/onboard-1",
            "done": True,
            "response": {"cloudaicompanionProject": {"id": found, "name": found}},
        }
    )


def _iflow_userinfo(fake: FakeOAuth, req: OAuthRequest) -> Answer:
    if not live(fake, req.query.get("accessToken", ""), "iflow"):
        return Answer.json({"success": False, "message": "invalid token"}, 401)
    return Answer.json(
        {
            "success": True,
            "data": {
                "apiKey": fake.account.iflow_api_key,
                "email": fake.account.email,
                "phone": "+10000000000",
            },
        }
    )


def _github(fake: FakeOAuth, req: OAuthRequest, what: str) -> Answer:
    if not live(fake, presented(req), "github"):
        return Answer.json({"message": "Bad credentials"}, 401)
    if what == "user":
        return Answer.json(
            {"login": fake.account.github_login, "id": 1, "email": fake.account.email}
        )
    if not fake.copilot_entitled:
        return Answer.json({"message": "Resource not accessible by integration"}, 403)
    token = fake.next_id("tid=copilot")
    fake.access_tokens[token] = {"provider": "copilot"}
    return Answer.json(
        {
            "token": token,
            "expires_at": int(time.time() + 1500),
            "refresh_in": 1440,
            "endpoints": {"api": f"{fake.root_url}/copilot"},
        }
    )


_ROUTES: dict[tuple[str, str], Callable[[FakeOAuth, OAuthRequest], Answer]] = {
    ("GET", "/claude/authorize"): lambda f, r: _authorize(f, r, "claude"),
    ("POST", "/claude/token"): lambda f, r: _token(f, r, "claude"),
    ("GET", "/claude/profile"): _claude_profile,
    ("GET", "/codex/authorize"): lambda f, r: _authorize(f, r, "codex"),
    ("POST", "/codex/token"): lambda f, r: _token(f, r, "codex"),
    ("POST", "/codex/deviceauth/usercode"): codex_usercode,
    ("POST", "/codex/deviceauth/token"): codex_device_token,
    ("GET", "/google/authorize"): lambda f, r: _authorize(f, r, "google"),
    ("POST", "/google/token"): lambda f, r: _token(f, r, "google"),
    ("GET", "/google/userinfo"): lambda f, r: _google(f, r, "userinfo"),
    ("GET", "/google/projects"): lambda f, r: _google(f, r, "projects"),
    ("POST", "/google/v1internal:loadCodeAssist"): lambda f, r: _google(f, r, "load"),
    ("POST", "/google/v1internal:onboardUser"): lambda f, r: _google(f, r, "onboard"),
    ("POST", "/qwen/device/code"): lambda f, r: device_code(f, r, "qwen"),
    ("POST", "/qwen/token"): lambda f, r: _token(f, r, "qwen"),
    ("GET", "/iflow/authorize"): lambda f, r: _authorize(f, r, "iflow"),
    ("POST", "/iflow/token"): lambda f, r: _token(f, r, "iflow"),
    ("GET", "/iflow/userinfo"): _iflow_userinfo,
    ("POST", "/github/device/code"): lambda f, r: device_code(f, r, "github"),
    ("POST", "/github/access_token"): lambda f, r: _token(f, r, "github"),
    ("GET", "/github/user"): lambda f, r: _github(f, r, "user"),
    ("GET", "/github/copilot_token"): lambda f, r: _github(f, r, "copilot"),
}


def route(fake: FakeOAuth, req: OAuthRequest) -> Answer:
    """Answer one request."""
    handler = _ROUTES.get((req.method, req.path))
    if handler is None:
        return Answer.text("not found", 404)
    return handler(fake, req)
