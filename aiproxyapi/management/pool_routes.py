"""Pool views and actions: the models served (overall and per credential), the credentials,
and `reset-quota`, which clears a credential's cooldowns."""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post

from aiproxyapi.errors import ClientRequestError
from aiproxyapi.management._http import ManagementError, MgmtRequest, json_response, ok, read_json
from aiproxyapi.management.auth_names import checked_auth_name
from aiproxyapi.management.context import context_of
from aiproxyapi.runtime import Runtime
from storage.base import StoreError

__all__ = ["credential_models", "list_auths", "list_models", "reset_quota"]


def _models_of(runtime: Runtime, credential_id: str | None = None) -> list[dict[str, Any]]:
    found = []
    for entry in runtime.registry.entries():
        try:
            route = runtime.registry.resolve(entry.id)
        except ClientRequestError:
            continue
        served = [c for c in route.candidates if credential_id in (None, c.credential.id)]
        if served:
            found.append(
                {
                    "id": entry.id,
                    "owned_by": entry.owned_by,
                    "upstream_models": sorted({c.upstream_model for c in served}),
                    "credentials": len({c.credential.id for c in served}),
                }
            )
    return found


@get("/models")
async def list_models(request: MgmtRequest) -> Response[bytes]:
    """Every model the gateway routes, with the credentials behind it."""
    return json_response({"models": _models_of(context_of(request).gateway.runtime)})


@get("/auth-files/models")
async def credential_models(request: MgmtRequest) -> Response[bytes]:
    """The models one credential serves (`?name=` an auth record name or a credential id)."""
    gateway = context_of(request).gateway
    raw = request.query_params.get("name") or request.query_params.get("auth_index") or ""
    runtime = gateway.runtime
    if not any(c.id == raw for c in runtime.credentials):
        name = checked_auth_name(raw)
        try:
            if await gateway.store.read_auth(name) is None:
                raise ManagementError(404, "file not found")
        except StoreError as exc:
            raise ManagementError(400, "invalid name", str(exc)) from None
        raw = name
    return json_response({"models": _models_of(runtime, raw)})


@get("/auths")
async def list_auths(request: MgmtRequest) -> Response[bytes]:
    """Every credential in rotation, with its counters and whether it is cooling now."""
    gateway = context_of(request).gateway
    state = gateway.state
    now = state.clock()
    auths = []
    for credential in gateway.runtime.credentials:
        tracked = state.credentials.get(credential.id)
        cooling = tracked is not None and any(c.until > now for c in tracked.cooldowns.values())
        blocked = state.blocked.get(credential.id)
        auths.append(
            {
                "auth_index": credential.id,
                "label": credential.label,
                "provider": credential.provider,
                "kind": credential.kind.value,
                "priority": credential.priority,
                "status": "error" if blocked else "cooling" if cooling else "active",
                "success": tracked.success if tracked else 0,
                "failed": tracked.failed if tracked else 0,
                "last_error": blocked or (tracked.last_error if tracked else ""),
            }
        )
    return json_response({"auths": auths})


@post("/reset-quota", status_code=200)
async def reset_quota(request: MgmtRequest) -> Response[bytes]:
    """`{auth_index}`: clear every cooldown of that credential."""
    body = await read_json(request)
    index = None
    if isinstance(body, dict):
        index = body.get("auth_index") or body.get("authIndex") or body.get("name")
    if not isinstance(index, str) or not index:
        raise ManagementError(400, "invalid body", "send {auth_index}")
    gateway = context_of(request).gateway
    state = gateway.state
    known = index in state.credentials or any(c.id == index for c in gateway.runtime.credentials)
    if not known:
        raise ManagementError(404, "auth not found")
    tracked = state.credentials.get(index)
    models = sorted(tracked.cooldowns) if tracked else []
    state.reset(index)
    return ok(auth_index=index, models=models)
