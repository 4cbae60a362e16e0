"""Routes about the gateway itself: banner, health, usage."""

from __future__ import annotations

import datetime
from typing import NoReturn

import msgspec
from litestar import Response, get, head
from litestar.response import Redirect

from aiproxyapi import __version__
from aiproxyapi.access import local_caller
from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.guard import gateway_of
from aiproxyapi.api.panel import PANEL_PATH, panel_enabled
from aiproxyapi.errors import ClientRequestError, GatewayError
from aiproxyapi.usage import export_csv
from aiproxyapi.usage.records import RecordsUnavailable

__all__ = ["banner", "health", "health_head", "usage"]

_JSON = "application/json"


@get("/")
async def banner(request: HttpRequest) -> Response[bytes] | Redirect:
    """What this server is and where its endpoints are; a browser is sent to the panel."""
    gateway = gateway_of(request)
    runtime = gateway.runtime
    panel = panel_enabled(runtime)
    if panel and _wants_html(request.headers.get("accept", "")):
        return Redirect(PANEL_PATH, status_code=302)
    body: dict[str, object] = {
        "name": "aiproxyapi",
        "version": __version__,
        "message": "AI API gateway: point any OpenAI-compatible client at /v1",
        "endpoints": ["GET /v1/models", "POST /v1/chat/completions", "GET /healthz", "GET /usage"],
        "models": len(runtime.registry.entries()),
        "storage": gateway.store_health(),
    }
    if panel:
        body["control-panel"] = PANEL_PATH
    return Response(msgspec.json.encode(body), media_type=_JSON)


def _wants_html(accept: str) -> bool:
    """A browser navigation names text/html first; an API client asks for JSON or anything."""
    first = accept.split(",", 1)[0].split(";", 1)[0].strip().lower()
    return first in {"text/html", "application/xhtml+xml"}


@get("/healthz")
async def health(request: HttpRequest) -> Response[bytes]:
    """Liveness: the process serves HTTP; ``?verbose=1`` adds the storage backend's health.

    A storage outage never fails liveness: the gateway keeps serving from its local mirror.
    """
    if request.query_params.get("verbose") in (None, "", "0", "false"):
        return Response(b'{"status":"ok"}', media_type=_JSON)
    body = {"status": "ok", "storage": gateway_of(request).store_health()}
    return Response(msgspec.json.encode(body), media_type=_JSON)


@head("/healthz", status_code=200)
async def health_head() -> None:
    """Liveness for HEAD probes."""


@get("/usage")
async def usage(request: HttpRequest) -> Response[bytes]:
    """Usage totals and breakdowns, `?from=YYYY-MM-DD&to=...`, `format=csv`; local callers only.

    `usage` is the in-memory book (since start, or since the persisted file), or with a shared
    Redis the totals of every instance (`scope` says which); `records` is the per-request
    store's breakdown of the requested day range (UTC, inclusive).
    """
    peer = request.client.host if request.client else ""
    if not local_caller(peer, request.headers):
        raise ClientRequestError(
            "usage is only served to local callers", status=403, code="forbidden"
        )
    gateway = gateway_of(request)
    start = _day(request.query_params.get("from"), "from")
    end = _day(request.query_params.get("to"), "to")
    if start and end and start > end:
        raise ClientRequestError("`from` must not be after `to`", param="from")
    kind = (request.query_params.get("format") or "json").lower()
    if kind not in ("json", "csv"):
        raise ClientRequestError("`format` is json or csv", param="format")
    # What was answered before this call is counted in it (unless the store is stuck).
    await gateway.records.flush(wait_seconds=2.0)
    try:
        if kind == "csv":
            records = await gateway.records.fetch(start, end)
            disposition = {"content-disposition": 'attachment; filename="usage.csv"'}
            return Response(export_csv(records), media_type="text/csv", headers=disposition)
        breakdown = await gateway.records.breakdown(start, end)
    except RecordsUnavailable as exc:
        raise GatewayError(
            f"usage records are unavailable: {exc}", status=503, code="usage_unavailable"
        ) from None
    snapshot, scope = await gateway.usage_snapshot()
    body = {
        "persisted": gateway.runtime.config.usage_statistics_enabled,
        "scope": scope,
        "usage": snapshot,
        "records": breakdown,
        "credentials": gateway.accounts.status(),
    }
    return Response(msgspec.json.encode(body), media_type=_JSON)


def _day(value: str | None, name: str) -> str | None:
    """A `YYYY-MM-DD` query value, checked; None when absent."""
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value).isoformat() if len(value) == 10 else _bad(name)
    except ValueError:
        return _bad(name)


def _bad(name: str) -> NoReturn:
    raise ClientRequestError(f"`{name}` must be a date written YYYY-MM-DD", param=name)
