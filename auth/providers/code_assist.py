"""Gemini CLI account setup at Code Assist: find or provision the project a login serves.

``loadCodeAssist`` says whether the account is onboarded (``currentTier``) and to which project;
otherwise ``onboardUser`` with the default tier (the free tier provisions a project itself) is a
long-running operation, polled until ``done``. ``ALL`` lists every Cloud project of the account.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from auth._oauth import obj, read_json
from auth.endpoints import url
from auth.errors import AuthFlowError

__all__ = ["discover_projects", "setup_project"]

_METADATA = {
    "ideType": "IDE_UNSPECIFIED",
    "platform": "PLATFORM_UNSPECIFIED",
    "pluginType": "GEMINI",
}
_ONBOARD_POLLS = 30
_ONBOARD_PAUSE = 2.0


def _project_id(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return value if isinstance(value, str) else ""


async def _call(
    client: httpx.AsyncClient, token: str, method: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        f"{url('gemini.code-assist').rstrip('/')}/v1internal:{method}",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    data = read_json(response)
    if not response.is_success:
        error = obj(data.get("error"))
        message = str(error.get("message") or f"HTTP {response.status_code}")[:200]
        raise AuthFlowError(f"Code Assist {method} failed ({message})")
    return data


def _default_tier(loaded: dict[str, Any]) -> dict[str, Any]:
    tiers = [t for t in loaded.get("allowedTiers") or [] if isinstance(t, dict)]
    for tier in tiers:
        if tier.get("isDefault"):
            return tier
    return tiers[0] if tiers else {"id": "legacy-tier", "userDefinedCloudaicompanionProject": True}


async def setup_project(
    client: httpx.AsyncClient,
    token: str,
    project: str | None,
    *,
    pause: float = _ONBOARD_PAUSE,
) -> tuple[str, bool]:
    """The project to serve (onboarding the account when needed) and whether it was discovered."""
    body: dict[str, Any] = {"metadata": _METADATA}
    if project:
        body["cloudaicompanionProject"] = project
    loaded = await _call(client, token, "loadCodeAssist", body)
    current = _project_id(loaded.get("cloudaicompanionProject"))
    if loaded.get("currentTier") and (current or project):
        return (project or current), not project
    tier = _default_tier(loaded)
    if tier.get("userDefinedCloudaicompanionProject") and not project:
        raise AuthFlowError(
            f"this account's tier ({tier.get('id')}) needs a Google Cloud project; "
            "run the login again with --project_id YOUR_PROJECT"
        )
    onboard: dict[str, Any] = {"tierId": tier.get("id") or "free-tier", "metadata": _METADATA}
    if project:
        onboard["cloudaicompanionProject"] = project
    for _ in range(_ONBOARD_POLLS):
        operation = await _call(client, token, "onboardUser", onboard)
        if operation.get("done"):
            answer = obj(operation.get("response"))
            found = _project_id(answer.get("cloudaicompanionProject")) or project or ""
            if not found:
                raise AuthFlowError("Code Assist onboarding finished without a project")
            return found, not project
        await asyncio.sleep(pause)
    raise AuthFlowError("Code Assist onboarding did not finish; run the login again later")


async def discover_projects(client: httpx.AsyncClient, token: str) -> list[str]:
    """Every active Cloud project of the account (for ``--project_id ALL``)."""
    projects: list[str] = []
    params: dict[str, str] = {}
    for _ in range(50):  # pages; a bound against a server that never stops paging
        response = await client.get(
            url("gemini.projects"), params=params, headers={"Authorization": f"Bearer {token}"}
        )
        data = read_json(response)
        if not response.is_success:
            raise AuthFlowError(
                f"listing Google Cloud projects failed (HTTP {response.status_code})"
            )
        for item in data.get("projects") or []:
            if isinstance(item, dict) and item.get("lifecycleState", "ACTIVE") == "ACTIVE":
                projects.append(str(item.get("projectId") or ""))
        token_next = data.get("nextPageToken")
        if not token_next:
            break
        params = {"pageToken": str(token_next)}
    found = [p for p in projects if p]
    if not found:
        raise AuthFlowError("this Google account has no active Cloud project; create one first")
    return found
