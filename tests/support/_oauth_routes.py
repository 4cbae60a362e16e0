"""The fake authorization server's endpoints: each a small function over the fake's state.

Called with the fake's lock held; ``fake`` is the :class:`~.fake_oauth.FakeOAuth`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from auth.endpoints import CLIENTS

from ._oauth_server import Answer

if TYPE_CHECKING:
    from .fake_oauth import FakeOAuth, OAuthRequest

__all__ = ["issue", "route"]

_CLIENT_OF = {
    "claude": "claude",
    "codex": "codex",
    "google": "gemini",
    "iflow": "iflow",
    "qwen": "qwen",
    "github": "copilot",
}
_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _jwt(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(16))}"


def _s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode()).digest())


def _error(error: str, status: int = 400, **extra: Any) -> Answer:
    return Answer.json({"error": error, "error_description": f"fake: {error}", **extra}, status)


def _presented(req: OAuthRequest) -> str:
    value = req.headers.get("authorization", "")
    for scheme in ("Bearer ", "bearer ", "token "):
        if value.startswith(scheme):
            return value[len(scheme) :]
    return ""


def _live(fake: FakeOAuth, token: str, provider: str) -> bool:
    entry = fake.access_tokens.get(token)
    return entry is not None and entry["provider"] == provider


def issue(fake: FakeOAuth, provider: str, refresh: str | None = None) -> dict[str, Any]:
    """A token answer for provider (a new refresh token unless one is kept)."""
    account = fake.account
    now = time.time()
    access = fake.next_id(f"{provider}-at") + "-" + secrets.token_hex(8)
    if provider == "codex":
        access = _jwt({"exp": int(now + fake.expires_in), "sub": account.codex_account_id})
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
        answer["id_token"] = _jwt(
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


# -- authorization code -----------------------------------------------------------------------


def _authorize(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    q = req.query
    expected = CLIENTS[_CLIENT_OF[provider]].client_id
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
        return _error("invalid_grant")
    grant["used"] = True
    if form.get("client_id") != CLIENTS[_CLIENT_OF[provider]].client_id:
        return _error("invalid_client", 401)
    if form.get("redirect_uri") != grant["redirect"]:
        return _error("invalid_grant", error_description="redirect_uri mismatch")
    if _s256(form.get("code_verifier", "")) != grant["challenge"]:
        return _error("invalid_grant", error_description="code_verifier mismatch")
    if provider in ("google", "iflow"):
        secret = CLIENTS[_CLIENT_OF[provider]].client_secret
        basic = req.headers.get("authorization", "")
        if form.get("client_secret") != secret and not basic.startswith("Basic "):
            return _error("invalid_client", 401)
    return Answer.json(issue(fake, provider))


def _refresh_grant(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    old = req.form.get("refresh_token", "")
    entry = fake.refresh_tokens.get(old)
    if entry is None or not entry["active"] or entry["provider"] != provider:
        return _error("invalid_grant")
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
        claims = json.loads(_unb64(body))
        key = fake.service_accounts[claims["iss"]]
        key.verify(
            _unb64(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except (ValueError, KeyError, InvalidSignature):
        return _error("invalid_grant", error_description="bad assertion")
    if claims.get("aud") != fake.url("vertex.token") or claims.get("exp", 0) < time.time():
        return _error("invalid_grant", error_description="bad audience or expired")
    if "cloud-platform" not in claims.get("scope", ""):
        return _error("invalid_scope")
    token = fake.next_id("ya29.sa")
    fake.access_tokens[token] = {"provider": "vertex"}
    return Answer.json(
        {"access_token": token, "expires_in": fake.expires_in, "token_type": "Bearer"}
    )


def _token(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    if fake.token_failures:
        status, error = fake.token_failures.popleft()
        return _error(error or "server_error", status)
    grant = req.form.get("grant_type")
    if grant == "authorization_code":
        return _code_grant(fake, req, provider)
    if grant == "refresh_token":
        return _refresh_grant(fake, req, provider)
    if grant == _DEVICE_GRANT:
        return _device_grant(fake, req, provider)
    if grant == _JWT_GRANT and provider == "google":
        return _jwt_grant(fake, req)
    return _error("unsupported_grant_type")


# -- device flows -----------------------------------------------------------------------------


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


def _device_code(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    if req.form.get("client_id") != CLIENTS[_CLIENT_OF[provider]].client_id:
        return _error("invalid_client", 401)
    if provider == "qwen" and req.form.get("code_challenge_method") != "S256":
        return _error("invalid_request", error_description="PKCE required")
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


def _device_grant(fake: FakeOAuth, req: OAuthRequest, provider: str) -> Answer:
    session = fake.devices.get(req.form.get("device_code", ""))
    github = provider == "github"
    status = 200 if github else 400
    if session is None or session["provider"] != provider:
        return _error("invalid_grant", status)
    if provider == "qwen" and _s256(req.form.get("code_verifier", "")) != session["challenge"]:
        return _error("invalid_grant", error_description="code_verifier mismatch")
    outcome = _next_outcome(session)
    if outcome == "pending":
        return _error("authorization_pending", status)
    if outcome == "slow_down":
        extra = {"interval": fake.slow_down_interval} if github else {}
        return _error("slow_down", 200 if github else 429, **extra)
    if outcome in ("expired", "denied"):
        return _error("expired_token" if outcome == "expired" else "access_denied", status)
    fake.devices.pop(req.form["device_code"])
    answer = issue(fake, provider)
    if github:  # GitHub OAuth-app tokens do not expire and come without a refresh token
        answer = {
            "access_token": answer["access_token"],
            "token_type": "bearer",
            "scope": "read:user",
        }
    return Answer.json(answer)


def _codex_usercode(fake: FakeOAuth, req: OAuthRequest) -> Answer:
    if req.form.get("client_id") != CLIENTS["codex"].client_id:
        return _error("invalid_client", 401)
    _new_device(fake, "codex")
    device_auth_id = next(reversed(fake.devices))
    return Answer.json(
        {
            "device_auth_id": device_auth_id,
            "user_code": "ABCD-1234",
            "interval": str(fake.device_interval),
        }
    )


def _codex_device_token(fake: FakeOAuth, req: OAuthRequest) -> Answer:
    session = fake.devices.get(req.form.get("device_auth_id", ""))
    if session is None or req.form.get("user_code") != session["user_code"]:
        return _error("invalid_request", 400)
    outcome = _next_outcome(session)
    if outcome == "pending":
        return Answer.json({"error": {"message": "pending"}}, 403)
    if outcome != "ok":
        error = {"slow_down": "slow_down", "expired": "expired_token"}.get(outcome, "access_denied")
        return _error(error, 400)
    verifier = secrets.token_urlsafe(48)
    code = fake.next_id("codex-device-code")
    fake.grants[code] = {
        "provider": "codex",
        "redirect": fake.url("codex.device-callback"),
        "challenge": _s256(verifier),
        "used": False,
    }
    return Answer.json(
        {"authorization_code": code, "code_verifier": verifier, "code_challenge": _s256(verifier)}
    )


# -- account endpoints ------------------------------------------------------------------------


def _claude_profile(fake: FakeOAuth, req: OAuthRequest) -> Answer:
    if not _live(fake, _presented(req), "claude"):
        return _error("authentication_error", 401)
    email = fake.account.email
    return Answer.json(
        {
            "account": {"uuid": "acct-uuid-1", "email": email},
            "organization": {"uuid": "org-uuid-1", "name": "Example Org"},
        }
    )


def _google(fake: FakeOAuth, req: OAuthRequest, what: str) -> Answer:
    if not _live(fake, _presented(req), "google"):
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
    if not _live(fake, req.query.get("accessToken", ""), "iflow"):
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
    if not _live(fake, _presented(req), "github"):
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
    ("POST", "/codex/deviceauth/usercode"): _codex_usercode,
    ("POST", "/codex/deviceauth/token"): _codex_device_token,
    ("GET", "/google/authorize"): lambda f, r: _authorize(f, r, "google"),
    ("POST", "/google/token"): lambda f, r: _token(f, r, "google"),
    ("GET", "/google/userinfo"): lambda f, r: _google(f, r, "userinfo"),
    ("GET", "/google/projects"): lambda f, r: _google(f, r, "projects"),
    ("POST", "/google/v1internal:loadCodeAssist"): lambda f, r: _google(f, r, "load"),
    ("POST", "/google/v1internal:onboardUser"): lambda f, r: _google(f, r, "onboard"),
    ("POST", "/qwen/device/code"): lambda f, r: _device_code(f, r, "qwen"),
    ("POST", "/qwen/token"): lambda f, r: _token(f, r, "qwen"),
    ("GET", "/iflow/authorize"): lambda f, r: _authorize(f, r, "iflow"),
    ("POST", "/iflow/token"): lambda f, r: _token(f, r, "iflow"),
    ("GET", "/iflow/userinfo"): _iflow_userinfo,
    ("POST", "/github/device/code"): lambda f, r: _device_code(f, r, "github"),
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
