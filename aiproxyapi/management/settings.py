"""The scalar settings: `GET /<name>` → `{"<last segment>": value}`; PUT/PATCH `{"value": x}`.

Each setting is one key path of config.yaml. The answer to a GET is what the running config
holds (or the file's value, for keys the runtime does not read); a change goes through the
config editor like every other change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Response, delete, get, patch, put
from litestar.handlers import HTTPRouteHandler

from aiproxyapi.management._doc import MISSING, get_path, remove_path, set_path
from aiproxyapi.management._http import ManagementError, MgmtRequest, json_response, ok, read_json
from aiproxyapi.management.context import context_of
from aiproxyapi.management.masking import mask_document

__all__ = ["SETTINGS", "Setting", "setting_handlers"]


@dataclass(frozen=True, slots=True)
class Setting:
    """One scalar setting: its route, its key path, its type and default."""

    route: str
    kind: type
    default: Any
    deletable: bool = False

    @property
    def path(self) -> tuple[str, ...]:
        """The key path in config.yaml."""
        return tuple(self.route.split("/"))


SETTINGS: tuple[Setting, ...] = (
    Setting("debug", bool, False),
    Setting("logging-to-file", bool, False),
    Setting("usage-statistics-enabled", bool, False),
    Setting("request-retry", int, 3),
    Setting("max-retry-credentials", int, 0),
    Setting("max-retry-interval", int, 30),
    Setting("disable-cooling", bool, False),
    Setting("transient-error-cooldown-seconds", int, 0),
    Setting("routing/strategy", str, "round-robin"),
    Setting("proxy-url", str, "", deletable=True),
    Setting("quota-exceeded/switch-project", bool, True),
    Setting("quota-exceeded/switch-preview-model", bool, True),
)


def _runtime_value(config: Any, path: tuple[str, ...]) -> Any:
    node = config
    for key in path:
        name = key.replace("-", "_")
        if not isinstance(node, msgspec.Struct) or name not in node.__struct_fields__:
            return MISSING
        node = getattr(node, name)
    return node


def _typed(setting: Setting, body: Any) -> Any:
    if not isinstance(body, dict) or "value" not in body:
        raise ManagementError(400, "invalid body", 'send {"value": ...}')
    value = body["value"]
    wrong = not isinstance(value, setting.kind) or (setting.kind is int and isinstance(value, bool))
    if wrong:
        raise ManagementError(400, "invalid body", f"`value` must be a {setting.kind.__name__}")
    return value


def setting_handlers(setting: Setting) -> list[HTTPRouteHandler]:
    """GET, PUT and PATCH (and DELETE where it clears) for one setting."""
    route = f"/{setting.route}"
    label = setting.path[-1]

    async def read(request: MgmtRequest) -> Response[bytes]:
        context = context_of(request)
        value = _runtime_value(context.gateway.runtime.config, setting.path)
        if value is MISSING:
            document = await context.editor.read_document()
            value = get_path(document, setting.path, setting.default)
        if setting.route == "proxy-url":
            value = mask_document(value, "proxy-url")
        return json_response({label: value})

    async def write(request: MgmtRequest) -> Response[bytes]:
        context = context_of(request)
        value = _typed(setting, await read_json(request))
        if setting.route == "proxy-url":
            # The masked URL a GET showed, sent back unchanged, keeps the real one.
            current = context.gateway.runtime.config.proxy_url
            if value != current and value == mask_document(current, "proxy-url"):
                value = current
        await context.editor.edit(lambda document: set_path(document, setting.path, value))
        return ok()

    async def clear(request: MgmtRequest) -> Response[bytes]:
        await context_of(request).editor.edit(lambda document: remove_path(document, setting.path))
        return ok()

    name = setting.route.replace("/", "_").replace("-", "_")
    handlers = [
        get(route, name=f"mgmt_get_{name}")(read),
        put(route, name=f"mgmt_put_{name}")(write),
        patch(route, name=f"mgmt_patch_{name}")(write),
    ]
    if setting.deletable:
        handlers.append(delete(route, name=f"mgmt_delete_{name}", status_code=200)(clear))
    return handlers
