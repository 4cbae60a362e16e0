"""The /v0/management router: every route behind one guard, errors in CLIProxyAPI's shape."""

from __future__ import annotations

import logging

from litestar import Response, Router
from litestar.exceptions import HTTPException
from litestar.handlers import HTTPRouteHandler
from litestar.types import ControllerRouterHandler

from aiproxyapi.management import (
    auth_files,
    config_routes,
    keys,
    log_routes,
    pool_routes,
    usage_routes,
)
from aiproxyapi.management._http import ManagementError, MgmtRequest, json_response
from aiproxyapi.management.context import OPT_KEY, ManagementContext
from aiproxyapi.management.guard import callback_guard, management_guard
from aiproxyapi.management.oauth_maps import oauth_map_handlers
from aiproxyapi.management.oauth_routes import callback_handlers, login_handlers
from aiproxyapi.management.providers import PROVIDER_KINDS, provider_handlers
from aiproxyapi.management.schema_route import management_schema
from aiproxyapi.management.settings import SETTINGS, setting_handlers

__all__ = ["PREFIX", "management_router"]

log = logging.getLogger("aiproxyapi.management")

PREFIX = "/v0/management"


def _render_management_error(_request: MgmtRequest, exc: Exception) -> Response[bytes]:
    assert isinstance(exc, ManagementError)
    return json_response(exc.body, status=exc.status, headers=exc.headers)


def _render_http_exception(_request: MgmtRequest, exc: Exception) -> Response[bytes]:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    message = exc.detail if status < 500 else "internal error"
    return json_response({"error": message}, status=status)


def _render_unexpected(request: MgmtRequest, exc: Exception) -> Response[bytes]:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_response({"error": "internal error; see the gateway log"}, status=500)


def _handlers() -> list[ControllerRouterHandler]:
    found: list[HTTPRouteHandler] = []
    for setting in SETTINGS:
        found.extend(setting_handlers(setting))
    for name in PROVIDER_KINDS:
        found.extend(provider_handlers(name))
    for name in ("oauth-excluded-models", "oauth-model-alias"):
        found.extend(oauth_map_handlers(name))
    found.extend(login_handlers())
    found.append(management_schema)
    modules = (config_routes, keys, auth_files, pool_routes, usage_routes, log_routes)
    for module in modules:
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, HTTPRouteHandler):
                found.append(value)
    return list(found)


def management_router(context: ManagementContext) -> Router:
    """Every management route of one gateway, under /v0/management."""
    guarded = Router(path="/", route_handlers=_handlers(), guards=[management_guard])
    callback = Router(path="/", route_handlers=callback_handlers(), guards=[callback_guard])
    return Router(
        path=PREFIX,
        route_handlers=[guarded, callback],
        opt={OPT_KEY: context},
        exception_handlers={
            ManagementError: _render_management_error,
            HTTPException: _render_http_exception,
            Exception: _render_unexpected,
        },
        include_in_schema=False,
    )
