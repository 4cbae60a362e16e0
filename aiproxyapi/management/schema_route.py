"""The management API's OpenAPI document, behind the management guard like every route here."""

from __future__ import annotations

import msgspec
from litestar import Response, get

from aiproxyapi.management._http import MgmtRequest
from aiproxyapi.openapi import openapi_document

__all__ = ["management_schema"]


@get("/openapi.json")
async def management_schema(request: MgmtRequest) -> Response[bytes]:
    """The management routes as OpenAPI 3.1 (route details only for the secret's holder)."""
    routes = [(route.path, route.methods) for route in request.app.routes]
    document = openapi_document(routes, "management")
    return Response(msgspec.json.encode(document), media_type="application/json")
