"""The gateway's routes as its Litestar app declares them, sorted by who may call them."""

from __future__ import annotations

import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from aiproxyapi.api.app import create_app
from aiproxyapi.config import load_config
from aiproxyapi.gateway import Gateway
from aiproxyapi.management.guard import callback_guard

__all__ = ["Route", "app_routes", "concrete"]

#: Routes anyone may call without a key: banner, health, the panel's static files (which talk
#: only to the management API), the OpenAPI schema, /usage and /metrics (loopback peers only,
#: checked in their own tests).
PUBLIC = ("/", "/healthz", "/management.html", "/panel/", "/usage", "/metrics", "/schema")


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    kind: str
    """"client" (a client key), "management" (the management key), "callback" or "public"."""


def concrete(path: str) -> str:
    """A route path with each `{name:type}` parameter filled in."""
    return re.sub(r"\{[^}]+\}", "x", path)


def _public(path: str) -> bool:
    return path in PUBLIC or path.startswith(("/panel/", "/schema"))


def app_routes() -> list[Route]:
    """Every (path, method) of the app, OPTIONS and HEAD aside."""
    home = Path(tempfile.mkdtemp(prefix="routes-"))
    config = home / "config.yaml"
    config.write_text(f"host: 127.0.0.1\nauth-dir: {home / 'auths'}\napi-keys: [k-0123456789]\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        app = create_app(Gateway(load_config(config), config))
    found: list[Route] = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                if route.path.startswith("/v0/management"):
                    guarded_by_callback = callback_guard in handler.resolve_guards()
                    kind = "callback" if guarded_by_callback else "management"
                elif _public(route.path):
                    kind = "public"
                else:
                    kind = "client"
                found.append(Route(route.path, method, kind))
    return sorted(set(found), key=lambda r: (r.path, r.method))
