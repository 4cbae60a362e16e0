"""`/config` (the running config as JSON) and `/config.yaml` (the file, read and replaced).

Both hide what must never leave the host: keys show masked, the management secret as
`[hidden]`. A masked value sent back in a PUT stands for the value it masks, so downloading,
editing and uploading the file keeps every key. `remote-management` is changed on the host
only: a PUT that changes it is refused.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response, get, put

from aiproxyapi.management._doc import get_path, plain
from aiproxyapi.management._http import (
    CPA_HEADERS,
    ManagementError,
    MgmtRequest,
    json_response,
    read_body,
)
from aiproxyapi.management.context import context_of
from aiproxyapi.management.edit import dump_document, load_document
from aiproxyapi.management.masking import mask_document, mask_in_place, restore_in_place, secrets_in

__all__ = ["get_config", "get_config_yaml", "put_config_yaml"]

# Not for the JSON view, as in CLIProxyAPI: where the gateway listens and who may manage it.
_HIDDEN_KEYS = (
    "host",
    "port",
    "auth-dir",
    "remote-management",
    "remote-management-key",
    "allow-remote-management",
)
# Sections the runtime may not model (yet); the JSON view shows them as the file has them.
_FILE_SECTIONS = ("quota-exceeded", "oauth-excluded-models", "oauth-model-alias")
_LOCKED = ("remote-management", "remote-management-key", "allow-remote-management")


@get("/config")
async def get_config(request: MgmtRequest) -> Response[bytes]:
    """The running config as JSON, secrets masked."""
    context = context_of(request)
    view: dict[str, Any] = msgspec.to_builtins(context.gateway.runtime.config)
    for key in _HIDDEN_KEYS:
        view.pop(key, None)
    document = await context.editor.read_document()
    for key in _FILE_SECTIONS:
        if key not in view and key in document:
            view[key] = plain(document[key])
    return json_response(mask_document(view))


@get("/config.yaml")
async def get_config_yaml(request: MgmtRequest) -> Response[bytes]:
    """The config file with its comments, secrets masked."""
    context = context_of(request)
    try:
        document = await context.editor.read_document()
    except ManagementError:
        raise ManagementError(
            500, "invalid_yaml", "the config file on disk is not valid YAML; fix it on the host"
        ) from None
    mask_in_place(document)
    return Response(
        dump_document(document).encode(),
        media_type="application/yaml; charset=utf-8",
        headers=CPA_HEADERS,
    )


@put("/config.yaml")
async def put_config_yaml(request: MgmtRequest) -> Response[bytes]:
    """Replace the config file; validated by the real loader before anything is written."""
    context = context_of(request)
    raw = await read_body(request)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ManagementError(400, "invalid_yaml", "the body is not UTF-8 text") from None
    incoming = load_document(text)
    current = await context.editor.read_document()
    hidden = {key: str(current[key]) for key in ("remote-management-key",) if key in current}
    section = current.get("remote-management")
    if isinstance(section, dict) and "secret-key" in section:
        hidden["secret-key"] = str(section["secret-key"])
    restore_in_place(incoming, secrets_in(plain(current)), hidden)
    for key in _LOCKED:
        if plain(get_path(incoming, (key,), None)) != plain(get_path(current, (key,), None)):
            raise ManagementError(
                422,
                "invalid_config",
                f"{key} is changed by editing config.yaml on the host, not through the API",
                path=key,
            )
    await context.editor.replace(dump_document(incoming))
    return json_response({"ok": True, "changed": ["config"]})
