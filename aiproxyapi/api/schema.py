"""The client API's OpenAPI document, for callers with a client key."""

from __future__ import annotations

import msgspec
from litestar import Response, get

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.guard import begin
from aiproxyapi.openapi import CLIENT_SCHEMA_PATH, openapi_document

__all__ = ["client_schema"]


@get(CLIENT_SCHEMA_PATH)
async def client_schema(request: HttpRequest) -> Response[bytes]:
    """The proxy routes as OpenAPI 3.1; a client key is needed, as for the model list."""
    begin(request)
    routes = [(route.path, route.methods) for route in request.app.routes]
    document = openapi_document(routes, "client")
    return Response(msgspec.json.encode(document), media_type="application/json")
