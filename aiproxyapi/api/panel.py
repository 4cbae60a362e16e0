"""The control panel's static files: `/management.html` and its assets under `/panel/`.

The files ship inside the top-level `web` package and are read once, on first use, into an
immutable table keyed by their path; a request can only ever name a file of that table, so no
path it sends reaches the file system. Every answer carries a strict Content-Security-Policy
(scripts and styles from this origin only, no inline code, no framing) and an ETag, and is
revalidated on each load so an upgraded gateway never serves a stale panel.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from litestar import Response, get

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.guard import gateway_of
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.management.hosts import host_allowed
from aiproxyapi.runtime import Runtime

__all__ = ["PANEL_PATH", "panel_asset", "panel_enabled", "panel_page"]

PANEL_PATH = "/management.html"
"""Where the panel's page is served; the banner links to it."""

_PAGE = "management.html"
_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # Revalidate every time: the ETag makes that a 304 when nothing changed.
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


def _walk(folder: Traversable, prefix: str) -> dict[str, _Asset]:
    found: dict[str, _Asset] = {}
    for entry in folder.iterdir():
        name = f"{prefix}{entry.name}"
        if entry.is_dir():
            if not entry.name.startswith(("_", ".")):
                found.update(_walk(entry, f"{name}/"))
            continue
        suffix = entry.name[entry.name.rfind(".") :] if "." in entry.name else ""
        media_type = _TYPES.get(suffix)
        if media_type is None:
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        found[name] = _Asset(body, media_type, etag)
    return found


@functools.cache
def _assets() -> dict[str, _Asset]:
    return _walk(resources.files("web"), "")


def panel_enabled(runtime: Runtime) -> bool:
    """Whether this config serves the panel (`remote-management.disable-control-panel`)."""
    return not runtime.config.remote_management.disable_control_panel


def _serve(request: HttpRequest, name: str) -> Response[bytes]:
    runtime = gateway_of(request).runtime
    if not panel_enabled(runtime):
        raise ClientRequestError("the control panel is disabled", status=404, code="not_found")
    if not host_allowed(request.headers.get("host", ""), runtime.config):
        raise ClientRequestError("host not allowed", status=403, code="host_not_allowed")
    asset = _assets().get(name)
    if asset is None:
        raise ClientRequestError(f"no panel file {name!r}", status=404, code="not_found")
    headers = {**_HEADERS, "ETag": asset.etag}
    if _matches(request.headers.get("if-none-match", ""), asset.etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 If-None-Match: a list of tags, weak ones compared by their opaque part too."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


@get(PANEL_PATH)
async def panel_page(request: HttpRequest) -> Response[bytes]:
    """The panel's single page."""
    return _serve(request, _PAGE)


@get("/panel/{name:path}")
async def panel_asset(request: HttpRequest, name: str) -> Response[bytes]:
    """One of the panel's scripts, styles or images."""
    return _serve(request, name.lstrip("/"))
