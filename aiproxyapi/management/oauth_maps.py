"""The OAuth channel maps: `oauth-excluded-models` and `oauth-model-alias`.

Both are maps from a channel (`claude`, `codex`, `gemini-cli`, ...) to a list. GET answers
`{"<map>": {...}}`; PUT replaces the map (raw or `{"items": {...}}`); PATCH upserts one channel,
an empty list deleting it; DELETE `?provider=` (or `?channel=`) removes one channel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Response, delete, get, patch, put
from litestar.handlers import HTTPRouteHandler

from aiproxyapi.management._doc import get_path, plain, remove_path, set_path
from aiproxyapi.management._http import ManagementError, MgmtRequest, json_response, ok, read_json
from aiproxyapi.management.context import context_of
from aiproxyapi.management.edit import Document

__all__ = ["oauth_map_handlers"]


def _excluded(models: Any) -> list[str]:
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ManagementError(400, "invalid body", "models must be a list of strings")
    seen: list[str] = []
    for model in models:
        name = model.strip().lower()
        if name and name not in seen:
            seen.append(name)
    return seen


def _aliases(aliases: Any) -> list[dict[str, Any]]:
    if not isinstance(aliases, list):
        raise ManagementError(400, "invalid body", "aliases must be a list")
    out: list[dict[str, Any]] = []
    for item in aliases:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ManagementError(400, "invalid body", "every alias needs a `name`")
        if not isinstance(item.get("alias", ""), str) or not isinstance(
            item.get("fork", False), bool
        ):
            raise ManagementError(400, "invalid body", "`alias` is a string, `fork` a boolean")
        if item["name"].strip():
            out.append({k: v for k, v in item.items() if k in ("name", "alias", "fork")})
    return out


_SHAPES: dict[str, tuple[Callable[[Any], list[Any]], tuple[str, ...]]] = {
    "oauth-excluded-models": (_excluded, ("models",)),
    "oauth-model-alias": (_aliases, ("aliases", "models", "items")),
}


def _map(body: Any, shape: Callable[[Any], list[Any]]) -> dict[str, list[Any]]:
    if isinstance(body, dict) and isinstance(body.get("items"), dict) and len(body) == 1:
        body = body["items"]
    if not isinstance(body, dict):
        raise ManagementError(400, "invalid body", "send a map of channel to list")
    cleaned = {str(channel).strip().lower(): shape(value) for channel, value in body.items()}
    return {channel: value for channel, value in cleaned.items() if channel and value}


def oauth_map_handlers(name: str) -> list[HTTPRouteHandler]:
    """GET, PUT, PATCH and DELETE for one channel map."""
    shape, list_fields = _SHAPES[name]
    route, slug = f"/{name}", name.replace("-", "_")

    async def read(request: MgmtRequest) -> Response[bytes]:
        document = await context_of(request).editor.read_document()
        value = plain(get_path(document, (name,), {}))
        return json_response({name: value if isinstance(value, dict) else {}})

    async def replace(request: MgmtRequest) -> Response[bytes]:
        value = _map(await read_json(request), shape)
        await context_of(request).editor.edit(lambda document: set_path(document, (name,), value))
        return ok()

    async def amend(request: MgmtRequest) -> Response[bytes]:
        body = await read_json(request)
        channel = body.get("provider") or body.get("channel") if isinstance(body, dict) else None
        field = next((f for f in list_fields if isinstance(body, dict) and f in body), None)
        if not isinstance(channel, str) or not channel.strip() or field is None:
            raise ManagementError(400, "invalid body", f"send {{provider, {list_fields[0]}}}")
        key = channel.strip().lower()
        items = shape(body[field])

        def change(document: Document) -> None:
            if items:
                set_path(document, (name, key), items)
            elif not remove_path(document, (name, key)):
                raise ManagementError(404, "item not found")

        await context_of(request).editor.edit(change)
        return ok()

    async def remove(request: MgmtRequest) -> Response[bytes]:
        channel = request.query_params.get("provider") or request.query_params.get("channel")
        if not channel:
            raise ManagementError(400, "missing provider")

        def change(document: Document) -> None:
            if not remove_path(document, (name, channel.strip().lower())):
                raise ManagementError(404, "item not found")

        await context_of(request).editor.edit(change)
        return ok()

    return [
        get(route, name=f"mgmt_get_{slug}")(read),
        put(route, name=f"mgmt_put_{slug}")(replace),
        patch(route, name=f"mgmt_patch_{slug}")(amend),
        delete(route, name=f"mgmt_delete_{slug}", status_code=200)(remove),
    ]
