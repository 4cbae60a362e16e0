"""A fake authorization server for every login provider: a real HTTP server on 127.0.0.1.

It plays claude.ai/platform.claude.com, auth.openai.com, Google (accounts, oauth2, userinfo,
Code Assist, Cloud projects), chat.qwen.ai, iflow.cn and GitHub (device flow, user, Copilot
token exchange) at once, each under its own path prefix; ``env()`` gives the
``AIPROXYAPI_*_URL`` overrides that point every flow here::

    with FakeOAuth() as fake:
        run_cli("--claude-login", env=fake.env())        # prints the authorize URL
        fake.browser(authorize_url)                      # the user approves in the "browser"
        fake.revoke(record["refresh_token"])             # later refreshes get invalid_grant

It checks what a real server checks (client id, redirect URI, PKCE S256 verifier, state echo,
one-time codes, refresh-token rotation and revocation, device-code polling) and records every
request. Knobs: ``deny_next`` (consent refused), ``device_outcomes[provider]`` (what each poll
answers: ``pending``, ``slow_down``, ``ok``, ``expired``, ``denied``), ``fail_token(status)``,
``expires_in``, ``token_delay``, ``rotate[provider]``, the Code Assist tier, Google projects,
Copilot entitlement.
For runtime tests: ``make_record(type)`` builds a record with live tokens (as a login writes it),
``is_live(access_token)`` lets a fake upstream answer 401 to stale tokens, ``revoke_access``
expires one early, ``exchange`` of Copilot tokens answers at ``copilot.api-token``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from auth.endpoints import ENDPOINTS

from ._oauth_routes import route
from ._oauth_server import Answer, ThreadedServer
from ._oauth_tokens import issue

__all__ = ["Account", "FakeOAuth", "OAuthRequest"]

#: endpoint key -> path on the fake.
PATHS = {
    "claude.authorize": "/claude/authorize",
    "claude.token": "/claude/token",
    "claude.profile": "/claude/profile",
    "codex.authorize": "/codex/authorize",
    "codex.token": "/codex/token",
    "codex.device-code": "/codex/deviceauth/usercode",
    "codex.device-token": "/codex/deviceauth/token",
    "codex.device-verify": "/codex/device",
    "codex.device-callback": "/codex/deviceauth/callback",
    "gemini.authorize": "/google/authorize",
    "gemini.token": "/google/token",
    "gemini.userinfo": "/google/userinfo",
    "gemini.code-assist": "/google",
    "gemini.projects": "/google/projects",
    "qwen.device-code": "/qwen/device/code",
    "qwen.token": "/qwen/token",
    "iflow.authorize": "/iflow/authorize",
    "iflow.token": "/iflow/token",
    "iflow.userinfo": "/iflow/userinfo",
    "copilot.device-code": "/github/device/code",
    "copilot.token": "/github/access_token",
    "copilot.user": "/github/user",
    "copilot.api-token": "/github/copilot_token",
    "vertex.token": "/google/token",
}


@dataclass
class Account:
    """Who "logs in" at each provider."""

    email: str = "user@example.com"
    codex_plan: str = "plus"
    codex_account_id: str = "acc-1234"
    github_login: str = "octocat"
    iflow_api_key: str = "iflow-key-1"
    google_projects: list[str] = field(default_factory=lambda: ["proj-a", "proj-b"])


@dataclass(frozen=True)
class OAuthRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]
    json: Any


class FakeOAuth:
    """The fake server; ``start()``/``stop()`` or a context manager."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.account = Account()
        self.expires_in: float = 3600
        self.rotate = {"claude": True, "codex": True, "qwen": True, "iflow": True, "google": False}
        self.deny_next = False
        self.device_outcomes: dict[str, list[str]] = {}
        self.device_interval: float = 0.05
        self.slow_down_interval: float = 0.2
        self.code_assist_tier: str | None = None  # None: not onboarded yet
        self.onboard_polls = 0  # onboardUser answers done:false this many times first
        self.copilot_entitled = True
        self.token_failures: deque[tuple[int, str | None]] = deque()
        self.grants: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.devices: dict[str, dict[str, Any]] = {}
        self.service_accounts: dict[str, Any] = {}  # client_email -> RSA public key
        self.onboarded_projects: list[str] = []
        self.requests: list[OAuthRequest] = []
        self.counter = 0
        self.token_delay: float = 0.0
        """Seconds every token-endpoint call takes (a slow provider), outside the lock."""
        self._server = ThreadedServer(self._handle, "fake-oauth")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeOAuth:
        """Serve on an ephemeral port."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> FakeOAuth:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._server.port}"

    def url(self, key: str) -> str:
        """The fake's URL for an endpoint key of ``auth.endpoints``."""
        return self.root_url + PATHS[key]

    def env(self) -> dict[str, str]:
        """Every ``AIPROXYAPI_*_URL`` override, pointing at this fake."""
        return {ENDPOINTS[key].env: self.url(key) for key in ENDPOINTS}

    # -- knobs -------------------------------------------------------------------------------

    def fail_token(self, status: int = 503, error: str | None = None, *, times: int = 1) -> None:
        """The next token-endpoint calls answer this error instead."""
        with self.lock:
            self.token_failures.extend([(status, error)] * times)

    def revoke(self, refresh_token: str) -> None:
        """Revoke one refresh token: its next use gets invalid_grant."""
        with self.lock:
            if refresh_token in self.refresh_tokens:
                self.refresh_tokens[refresh_token]["active"] = False

    def is_live(self, access_token: str, provider: str | None = None) -> bool:
        """Whether the fake issued this access token (to provider) and has not revoked it.

        A fake upstream can ask this to answer 401 for stale tokens.
        """
        with self.lock:
            entry = self.access_tokens.get(access_token)
            return entry is not None and (provider is None or entry["provider"] == provider)

    def revoke_access(self, access_token: str) -> None:
        """Forget an access token, as if it expired early."""
        with self.lock:
            self.access_tokens.pop(access_token, None)

    def next_id(self, prefix: str) -> str:
        """A fresh, unique value."""
        with self.lock:
            self.counter += 1
            return f"{prefix}-{self.counter:04d}"

    def requests_to(self, key: str) -> list[OAuthRequest]:
        """Requests that hit one endpoint."""
        path = PATHS[key]
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def issue_tokens(self, provider: str) -> dict[str, Any]:
        """A token answer as the fake's token endpoint gives it (the tokens are live here).

        provider: ``claude``, ``codex``, ``google``, ``qwen``, ``iflow`` or ``github``.
        """
        with self.lock:
            return issue(self, provider)

    def make_record(self, record_type: str, *, expired: str | None = None) -> dict[str, Any]:
        """An auth record of ``record_type`` with live tokens, as a login would have written it.

        ``expired`` overrides the RFC 3339 expiry (e.g. one due for refresh).
        """
        if record_type == "vertex":
            sa = self.add_service_account()
            return {
                "type": "vertex",
                "service_account": sa,
                "project_id": sa["project_id"],
                "email": sa["client_email"],
                "location": "us-central1",
            }
        provider = {"gemini": "google", "gemini-cli": "google", "copilot": "github"}.get(
            record_type, record_type
        )
        tokens = self.issue_tokens(provider)
        until = expired or time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + self.expires_in)
        )
        email = self.account.email
        if record_type in ("gemini", "gemini-cli"):
            token = {key: tokens[key] for key in ("access_token", "refresh_token", "token_type")}
            return {
                "type": record_type,
                "token": {**token, "expiry": until},
                "project_id": "proj-a",
                "email": email,
                "auto": False,
                "checked": True,
            }
        if record_type == "copilot":
            return {
                "type": "copilot",
                "access_token": tokens["access_token"],
                "login": self.account.github_login,
                "email": email,
            }
        kept = ("access_token", "refresh_token", "id_token", "resource_url")
        record = {"type": record_type, "email": email, "expired": until}
        record.update({key: tokens[key] for key in kept if key in tokens})
        if record_type == "iflow":
            record["api_key"] = self.account.iflow_api_key
        return record

    def add_service_account(self, project: str = "vertex-proj") -> dict[str, Any]:
        """A new service-account key file (dict) whose signatures this fake accepts."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = f"runner@{project}.iam.gserviceaccount.com"
        with self.lock:
            self.service_accounts[email] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": project,
            "private_key_id": "kid-1",
            "private_key": pem,
            "client_email": email,
            "client_id": "1234567890",
            "token_uri": self.url("vertex.token"),
        }

    # -- the browser -------------------------------------------------------------------------

    def browser(self, authorize_url: str, *, deny: bool = False) -> httpx.Response:
        """What a user's browser does: open the authorize URL, approve, follow the redirect.

        Returns the callback server's answer (the login's own page).
        """
        with self.lock:
            self.deny_next = deny or self.deny_next
        with httpx.Client(timeout=10) as client:
            consent = client.get(authorize_url)
            if consent.status_code != 302:
                raise AssertionError(f"authorize refused: {consent.status_code} {consent.text}")
            target = consent.headers["location"].replace("://localhost:", "://127.0.0.1:", 1)
            return client.get(target)

    def redirect_for(self, authorize_url: str, *, deny: bool = False) -> str:
        """Approve at the authorize URL and return the redirect target without following it."""
        with self.lock:
            self.deny_next = deny or self.deny_next
        with httpx.Client(timeout=10) as client:
            consent = client.get(authorize_url)
        if consent.status_code != 302:
            raise AssertionError(f"authorize refused: {consent.status_code} {consent.text}")
        return str(consent.headers["location"])

    # -- serving -----------------------------------------------------------------------------

    def _handle(self, request: Any) -> Answer:
        split = urlsplit(request.target)
        headers: dict[str, str] = {}
        for name, value in request.headers:
            headers[name] = value
        kind = (headers.get("content-type") or "").split(";")[0].strip()
        form: dict[str, str] = {}
        body_json: Any = None
        if kind == "application/json" and request.body:
            import json

            body_json = json.loads(request.body)
            if isinstance(body_json, dict):
                form = {k: str(v) for k, v in body_json.items()}
        elif request.body:
            form = dict(parse_qsl(request.body.decode()))
        recorded = OAuthRequest(
            request.method, split.path, dict(parse_qsl(split.query)), headers, form, body_json
        )
        if self.token_delay and split.path.endswith("/token"):
            time.sleep(self.token_delay)
        with self.lock:
            self.requests.append(recorded)
            return route(self, recorded)
