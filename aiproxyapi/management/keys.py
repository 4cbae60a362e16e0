"""`/api-keys`: the client keys, listed masked; PUT, PATCH and DELETE by CLIProxyAPI's rules.

PUT takes a raw array or `{"items": [...]}`; PATCH `{"old", "new"}` or `{"index", "value"}`;
DELETE `?index=` or `?value=` (also `?api-key=`). A masked key from a listing stands for the
key it masks, so a listing edited and sent back keeps every key it did not touch.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from litestar import Response, delete, get, patch, put

from aiproxyapi.management._doc import get_path, set_path
from aiproxyapi.management._http import ManagementError, MgmtRequest, json_response, ok, read_json
from aiproxyapi.management.context import context_of
from aiproxyapi.management.edit import Document
from aiproxyapi.management.masking import mask, unmask

__all__ = [
    "delete_api_key",
    "get_api_keys",
    "items_of",
    "parse_index",
    "patch_api_keys",
    "put_api_keys",
]

_KEY = "api-keys"


def items_of(body: Any) -> list[Any]:
    """A PUT body: a raw array or `{"items": [...]}`."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return list(body["items"])
    if isinstance(body, list):
        return body
    raise ManagementError(400, "invalid body", 'send an array or {"items": [...]}')


def parse_index(raw: Any, size: int) -> int:
    """A list index from a body or query value, or a 400/404."""
    try:
        index = int(raw)
    except (TypeError, ValueError):
        raise ManagementError(400, "invalid index") from None
    if not 0 <= index < size:
        raise ManagementError(404, "item not found")
    return index


def _current(document: Document) -> list[Any]:
    """The list in the document itself, so changes in place keep its comments."""
    value = get_path(document, (_KEY,), None)
    if isinstance(value, list):
        return value
    set_path(document, (_KEY,), [])
    keys: list[Any] = document[_KEY]
    return keys


def _key_of(entry: Any) -> str:
    """The key of an `api-keys` entry: the string itself, or an object's `key`."""
    if isinstance(entry, Mapping):
        return str(entry.get("key", ""))
    return str(entry)


def _replace_key(entries: list[Any], index: int, key: str) -> None:
    """Put a new key at `index`; an object entry keeps its policy fields."""
    if isinstance(entries[index], MutableMapping):
        entries[index]["key"] = key
    else:
        entries[index] = key


def _strings(values: list[Any]) -> list[str]:
    if not all(isinstance(value, str) for value in values):
        raise ManagementError(400, "invalid body", "every key must be a string")
    return [value.strip() for value in values if value.strip()]


def _one_key(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ManagementError(400, "invalid body", f"`{field}` must be a non-empty key")
    return value.strip()


@get("/api-keys")
async def get_api_keys(request: MgmtRequest) -> Response[bytes]:
    """The client keys, masked."""
    keys = context_of(request).gateway.runtime.config.api_keys
    return json_response({_KEY: [mask(key) for key in keys]})


@put("/api-keys")
async def put_api_keys(request: MgmtRequest) -> Response[bytes]:
    """Replace the whole list."""
    incoming = _strings(items_of(await read_json(request)))

    def change(document: Document) -> None:
        entries = list(_current(document))
        known = [_key_of(entry) for entry in entries]
        kept: list[Any] = []
        for key in incoming:
            real = unmask(key, known)
            # A key that is already listed keeps its entry, policy fields included.
            kept.append(entries[known.index(real)] if real in known else real)
        set_path(document, (_KEY,), kept)

    await context_of(request).editor.edit(change)
    return ok()


@patch("/api-keys")
async def patch_api_keys(request: MgmtRequest) -> Response[bytes]:
    """Change one key, found by `old` value or by `index`."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ManagementError(400, "invalid body")

    def change(document: Document) -> None:
        entries = _current(document)
        keys = [_key_of(entry) for entry in entries]
        if "old" in body and "new" in body:
            real = unmask(_one_key(body["old"], "old"), keys)
            if real not in keys:
                raise ManagementError(404, "item not found")
            _replace_key(entries, keys.index(real), unmask(_one_key(body["new"], "new"), keys))
        elif "index" in body and "value" in body:
            index = parse_index(body["index"], len(keys))
            _replace_key(entries, index, unmask(_one_key(body["value"], "value"), keys))
        else:
            raise ManagementError(400, "invalid body", 'send {"old", "new"} or {"index", "value"}')

    await context_of(request).editor.edit(change)
    return ok()


@delete("/api-keys", status_code=200)
async def delete_api_key(request: MgmtRequest) -> Response[bytes]:
    """Remove one key, by `?index=` or `?value=`."""
    query = request.query_params

    def change(document: Document) -> None:
        entries = _current(document)
        keys = [_key_of(entry) for entry in entries]
        if "index" in query:
            del entries[parse_index(query["index"], len(keys))]
        elif value := query.get("value") or query.get("api-key"):
            real = unmask(value, keys)
            if real not in keys:
                raise ManagementError(404, "item not found")
            del entries[keys.index(real)]
        else:
            raise ManagementError(400, "missing index or value")

    await context_of(request).editor.edit(change)
    return ok()
