"""GET /metrics: the Prometheus exposition, for loopback callers or client keys as configured."""

from __future__ import annotations

from litestar import Response, get

from aiproxyapi.access import local_caller
from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.guard import gateway_of
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.observe.metrics import CONTENT_TYPE

__all__ = ["metrics"]


@get("/metrics")
async def metrics(request: HttpRequest) -> Response[bytes]:
    """Every metric of the gateway in Prometheus text format."""
    gateway = gateway_of(request)
    runtime = gateway.runtime
    settings = runtime.config.metrics
    if not settings.enable or gateway.metrics is None:
        raise ClientRequestError(
            "metrics are turned off (metrics.enable)", status=404, code="not_found"
        )
    if not local_caller(request.client.host if request.client else "", request.headers):
        if settings.access != "client-key" or runtime.client_keys.open:
            raise ClientRequestError(
                "metrics are only served to local callers (metrics.access)",
                status=403,
                code="forbidden",
            )
        runtime.client_keys.authenticate(request.headers, request.query_params)
    return Response(gateway.metrics.render(), media_type=CONTENT_TYPE)
