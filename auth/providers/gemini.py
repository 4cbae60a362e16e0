"""Gemini CLI (Code Assist): Google OAuth with PKCE, then the project setup.

Record ``gemini-<email>-<project>.json`` (``gemini-<email>-all.json`` for ``ALL`` or a list):
``{type:"gemini", token:{access_token, refresh_token, token_type, expiry, scope}, project_id,
email, auto, checked}``; ``project_id`` holds the comma-joined list when there are several.
"""

from __future__ import annotations

from typing import Any

import httpx

from auth._oauth import authorization_url, expiry_of, post_token, read_json, rfc3339
from auth.endpoints import CLIENTS, url
from auth.errors import AuthFlowError
from auth.flow import AuthCodeFlow, Progress
from auth.providers.code_assist import discover_projects, setup_project
from auth.records import LoginResult, record_name
from storage import Store

__all__ = ["GeminiLogin", "refresh"]

_CLIENT = CLIENTS["gemini"]


class GeminiLogin(AuthCodeFlow):
    """``--login [--project_id ID|ALL|a,b]``."""

    provider = "gemini"
    label = "Google"

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        store: Store,
        progress: Progress | None = None,
        callback_port: int | None = None,
        timeout: float = 300.0,
        project_id: str | None = None,
    ) -> None:
        super().__init__(
            client=client,
            store=store,
            progress=progress,
            callback_port=callback_port,
            timeout=timeout,
        )
        self.project_id = (project_id or "").strip() or None

    def authorization_url(self) -> str:
        """Google's consent page, offline access so a refresh token comes back."""
        return authorization_url(
            url("gemini.authorize"),
            client_id=_CLIENT.client_id,
            redirect_uri=self.redirect_uri,
            scope=_CLIENT.scope,
            state=self.state,
            pkce=self.pkce,
            extra={"access_type": "offline", "prompt": "consent"},
        )

    async def exchange(self, code: str) -> LoginResult:
        """Tokens, the account's email, then its project(s) at Code Assist."""
        tokens = await post_token(
            self.client,
            url("gemini.token"),
            "authorization_code",
            what="the Google token request",
            code=code,
            redirect_uri=self.redirect_uri,
            client_id=_CLIENT.client_id,
            client_secret=_CLIENT.client_secret or "",
            code_verifier=self.pkce.verifier,
        )
        access = str(tokens.get("access_token") or "")
        info = await self.client.get(
            url("gemini.userinfo"), headers={"Authorization": f"Bearer {access}"}
        )
        email = read_json(info).get("email") if info.is_success else None
        if not isinstance(email, str) or not email:
            raise AuthFlowError("Google did not return the account's email; run the login again")
        projects, auto = await self._projects(access)
        several = len(projects) > 1 or (self.project_id or "").upper() == "ALL"
        expires = expiry_of(tokens)
        record: dict[str, Any] = {
            "type": "gemini",
            "token": {
                "access_token": access,
                "refresh_token": tokens.get("refresh_token", ""),
                "token_type": tokens.get("token_type", "Bearer"),
                "scope": tokens.get("scope", _CLIENT.scope),
                **({"expiry": rfc3339(expires)} if expires is not None else {}),
            },
            "project_id": ",".join(projects),
            "email": email,
            "auto": auto,
            "checked": True,
        }
        name = record_name("gemini", email, "all" if several else projects[0])
        return LoginResult(name, f"{email} [{', '.join(projects)}]", record)

    async def _projects(self, access: str) -> tuple[list[str], bool]:
        wanted = self.project_id
        if wanted is not None and wanted.upper() == "ALL":
            self.progress("listing the account's Google Cloud projects")
            names = await discover_projects(self.client, access)
        elif wanted is not None:
            names = [p.strip() for p in wanted.split(",") if p.strip()]
        else:
            names = []
        if not names:
            self.progress("finding the account's Code Assist project")
            found, auto = await setup_project(self.client, access, None)
            return [found], auto
        done = []
        for name in names:
            self.progress(f"setting up Code Assist for project {name}")
            found, _ = await setup_project(self.client, access, name)
            done.append(found)
        return done, False


async def refresh(record: dict[str, Any], client: httpx.AsyncClient) -> dict[str, Any]:
    """Google refresh grant; Google keeps the refresh token (a new one may still come)."""
    token = dict(record.get("token") or {})
    tokens = await post_token(
        client,
        url("gemini.token"),
        "refresh_token",
        what="the Google token refresh",
        refresh_token=str(token["refresh_token"]),
        client_id=_CLIENT.client_id,
        client_secret=_CLIENT.client_secret or "",
    )
    token["access_token"] = tokens.get("access_token", "")
    token["refresh_token"] = tokens.get("refresh_token") or token["refresh_token"]
    expires = expiry_of(tokens)
    if expires is not None:
        token["expiry"] = rfc3339(expires)
    updated = dict(record)
    updated["token"] = token
    return updated
