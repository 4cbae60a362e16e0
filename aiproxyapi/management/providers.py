"""The provider lists: `gemini-api-key`, `claude-api-key`, `codex-api-key`, `vertex-api-key`,
`openai-compatibility`. GET lists entries masked, with the runtime `auth-index` of each key.

PUT replaces the list (raw array or `{"items": [...]}`); PATCH changes one entry found by
`index`, `match` (its api-key; `name` for openai-compatibility), merging the fields of
`value` into it; DELETE removes one by `?index=`, `?api-key=` (`&base-url=` to tell two apart)
or `?name=`. Entries of codex and openai-compatibility without a base-url are dropped, as in
CLIProxyAPI. Masked keys sent back stand for the keys they mask.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, delete, get, patch, put
from litestar.handlers import HTTPRouteHandler

from aiproxyapi.config import Config
from aiproxyapi.credential import ApiKeyCredential, ProviderKind
from aiproxyapi.management._doc import get_path, plain, set_path
from aiproxyapi.management._http import ManagementError, MgmtRequest, json_response, ok, read_json
from aiproxyapi.management.context import context_of
from aiproxyapi.management.edit import Document
from aiproxyapi.management.keys import items_of, parse_index
from aiproxyapi.management.masking import mask_document, secrets_in, unmask, unmask_document
from aiproxyapi.runtime import Runtime

__all__ = ["PROVIDER_KINDS", "provider_handlers"]

OPENAI_COMPAT = "openai-compatibility"

#: Each list and the kind of credential its entries become.
PROVIDER_KINDS: dict[str, ProviderKind] = {
    "gemini-api-key": ProviderKind.GEMINI,
    "claude-api-key": ProviderKind.CLAUDE,
    "codex-api-key": ProviderKind.CODEX,
    "vertex-api-key": ProviderKind.VERTEX,
    OPENAI_COMPAT: ProviderKind.OPENAI_COMPAT,
}
_NEEDS_BASE_URL = frozenset({"codex-api-key", OPENAI_COMPAT})
_RUNTIME_ONLY = "auth-index"


def _auth_index(runtime: Runtime, kind: ProviderKind, key: str, provider: str = "") -> str:
    for credential in runtime.credentials:
        if not isinstance(credential, ApiKeyCredential):
            continue
        same_key = credential.kind is kind and credential.api_key.reveal() == key.strip()
        if same_key and (not provider or credential.provider == provider):
            return credential.id
    return ""


def _listing(runtime: Runtime, name: str) -> list[dict[str, Any]]:
    config: Config = runtime.config
    entries = msgspec.to_builtins(list(getattr(config, name.replace("-", "_"))))
    kind = PROVIDER_KINDS[name]
    for entry in entries:
        if name == OPENAI_COMPAT:
            for item in entry.get("api-key-entries", []):
                item[_RUNTIME_ONLY] = _auth_index(runtime, kind, item["api-key"], entry["name"])
        else:
            entry[_RUNTIME_ONLY] = _auth_index(runtime, kind, entry["api-key"])
    masked: list[dict[str, Any]] = mask_document(entries)
    return masked


def _clean(entry: Any, known: list[str]) -> dict[str, Any]:
    """An incoming entry: a mapping, runtime-only fields dropped, masked secrets restored."""
    if not isinstance(entry, dict):
        raise ManagementError(400, "invalid body", "every entry must be an object")
    entry = {key: value for key, value in entry.items() if key != _RUNTIME_ONLY}
    if isinstance(entry.get("api-key-entries"), list):
        entry["api-key-entries"] = [
            {k: v for k, v in item.items() if k != _RUNTIME_ONLY}
            if isinstance(item, dict)
            else item
            for item in entry["api-key-entries"]
        ]
    restored: dict[str, Any] = unmask_document(entry, known)
    return restored


def _keep(name: str, entry: Any) -> bool:
    return name not in _NEEDS_BASE_URL or bool(str(entry.get("base-url", "")).strip())


def _entries(document: Document, name: str) -> list[Any]:
    """The list in the document itself, so changes in place keep its comments."""
    value = get_path(document, (name,), None)
    if isinstance(value, list):
        return value
    set_path(document, (name,), [])
    entries: list[Any] = document[name]
    return entries


def _find(name: str, entries: list[Any], body: dict[str, Any], known: list[str]) -> int:
    if "index" in body:
        return parse_index(body["index"], len(entries))
    wanted = body.get("name") if name == OPENAI_COMPAT else None
    match = body.get("match")
    label = wanted if wanted is not None else match
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        if name == OPENAI_COMPAT and label == entry.get("name"):
            return index
        if isinstance(match, str) and str(entry.get("api-key", "")) == unmask(match, known):
            return index
    if wanted is None and match is None:
        raise ManagementError(400, "invalid body", "send `index` or `match` with `value`")
    raise ManagementError(404, "item not found")


def provider_handlers(name: str) -> list[HTTPRouteHandler]:
    """GET, PUT, PATCH and DELETE for one provider list."""
    route = f"/{name}"
    slug = name.replace("-", "_")

    async def read(request: MgmtRequest) -> Response[bytes]:
        return json_response({name: _listing(context_of(request).gateway.runtime, name)})

    async def replace(request: MgmtRequest) -> Response[bytes]:
        incoming = items_of(await read_json(request))

        def change(document: Document) -> None:
            known = secrets_in(plain(_entries(document, name)))
            cleaned = [_clean(entry, known) for entry in incoming]
            set_path(document, (name,), [entry for entry in cleaned if _keep(name, entry)])

        await context_of(request).editor.edit(change)
        return ok()

    async def amend(request: MgmtRequest) -> Response[bytes]:
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("value"), dict):
            raise ManagementError(400, "invalid body", "send {index|match, value: {...}}")

        def change(document: Document) -> None:
            entries = _entries(document, name)
            known = secrets_in(plain(entries))
            index = _find(name, entries, body, known)
            target = entries[index]
            for key, value in _clean(body["value"], known).items():
                target[key] = value
            if not _keep(name, target):
                del entries[index]

        await context_of(request).editor.edit(change)
        return ok()

    async def remove(request: MgmtRequest) -> Response[bytes]:
        query = request.query_params

        def change(document: Document) -> None:
            entries = _entries(document, name)
            known = secrets_in(plain(entries))
            if "index" in query:
                index = parse_index(query["index"], len(entries))
            elif name == OPENAI_COMPAT and "name" in query:
                index = _find(name, entries, {"name": query["name"]}, known)
            elif "api-key" in query:
                key, base_url = unmask(query["api-key"], known), query.get("base-url")
                found = [
                    i
                    for i, entry in enumerate(entries)
                    if isinstance(entry, dict)
                    and str(entry.get("api-key", "")) == key
                    and (base_url is None or str(entry.get("base-url", "")) == base_url)
                ]
                if not found:
                    raise ManagementError(404, "item not found")
                index = found[0]
            else:
                raise ManagementError(400, "missing index, api-key or name")
            del entries[index]

        await context_of(request).editor.edit(change)
        return ok()

    return [
        get(route, name=f"mgmt_get_{slug}")(read),
        put(route, name=f"mgmt_put_{slug}")(replace),
        patch(route, name=f"mgmt_patch_{slug}")(amend),
        delete(route, name=f"mgmt_delete_{slug}", status_code=200)(remove),
    ]
