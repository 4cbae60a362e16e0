"""Routes about the gateway itself: banner, health, usage."""

from __future__ import annotations

import ipaddress

import msgspec
from litestar import Response, get, head

from aiproxyapi import __version__
from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.guard import gateway_of
from aiproxyapi.errors import ClientRequestError

__all__ = ["banner", "health", "health_head", "usage"]

_JSON = "application/json"


@get("/")
async def banner(request: HttpRequest) -> Response[bytes]:
    """What this server is and where its endpoints are."""
    runtime = gateway_of(request).runtime
    body = {
        "name": "aiproxyapi",
        "version": __version__,
        "message": "AI API gateway: point any OpenAI-compatible client at /v1",
        "endpoints": ["GET /v1/models", "POST /v1/chat/completions", "GET /healthz", "GET /usage"],
        "models": len(runtime.registry.entries()),
    }
    return Response(msgspec.json.encode(body), media_type=_JSON)


@get("/healthz")
async def health() -> Response[bytes]:
    """Liveness: the process serves HTTP."""
    return Response(b'{"status":"ok"}', media_type=_JSON)


@head("/healthz", status_code=200)
async def health_head() -> None:
    """Liveness for HEAD probes."""


@get("/usage")
async def usage(request: HttpRequest) -> Response[bytes]:
    """Usage totals and breakdowns; from this machine only."""
    peer = request.client.host if request.client else ""
    if not _is_loopback(peer):
        raise ClientRequestError(
            "usage is only served to local callers", status=403, code="forbidden"
        )
    gateway = gateway_of(request)
    body = {
        "persisted": gateway.runtime.config.usage_statistics_enabled,
        "usage": gateway.book.snapshot(),
        "credentials": gateway.accounts.status(),
    }
    return Response(msgspec.json.encode(body), media_type=_JSON)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
