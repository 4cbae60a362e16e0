"""Shared upstream HTTP clients: one pooled httpx.AsyncClient per egress proxy.

Direct clients (no configured proxy and none in the environment) send through `PooledTransport`;
proxied ones keep httpx's own transport, which speaks HTTP/SOCKS proxies.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from aiproxyapi.egress import EgressPolicy
from aiproxyapi.executors.transport import PooledTransport

__all__ = ["HttpClients", "UpstreamTimeouts"]

_DIRECT = {"direct", "none"}
_PROXY_ENV = {"http_proxy", "https_proxy", "all_proxy"}


class UpstreamTimeouts:
    """Connect timeout, and an idle timeout that bounds every wait for bytes (not the total)."""

    __slots__ = ("connect", "idle")

    def __init__(self, connect: float = 10.0, idle: float = 300.0) -> None:
        self.connect = connect
        self.idle = idle

    def as_httpx(self) -> httpx.Timeout:
        """The httpx form: read and write are per-operation, so they act as idle timeouts."""
        return httpx.Timeout(connect=self.connect, read=self.idle, write=self.idle, pool=self.idle)


class HttpClients:
    """Lazily created clients keyed by effective proxy; they outlive config reloads."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, float, float], httpx.AsyncClient] = {}
        self.on_upstream_headers: Callable[[str, float], None] | None = None
        """Told (upstream host, seconds) when an upstream answer's headers arrive."""
        self.egress = EgressPolicy()
        """Where direct connections may go; the gateway sets it from each new runtime."""

    def get(
        self, proxy_url: str, global_proxy: str, timeouts: UpstreamTimeouts
    ) -> httpx.AsyncClient:
        """The client for a credential's proxy, falling back to the global one, then the env."""
        chosen = proxy_url.strip() or global_proxy.strip()
        key = (chosen, timeouts.connect, timeouts.idle)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = _build(chosen, timeouts, self._check_resolved)
            client.event_hooks = {"request": [_stamp_sent], "response": [self._headers_arrived]}
        return client

    def _check_resolved(self, host: str, addresses: list[str]) -> None:
        self.egress.check_resolved(host, addresses)

    async def _headers_arrived(self, response: httpx.Response) -> None:
        sent = response.request.extensions.get(_SENT)
        if self.on_upstream_headers is not None and isinstance(sent, float):
            self.on_upstream_headers(response.request.url.host, time.perf_counter() - sent)

    async def aclose(self) -> None:
        """Close every client (at shutdown)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


_SENT = "aiproxyapi.sent"


async def _stamp_sent(request: httpx.Request) -> None:
    request.extensions[_SENT] = time.perf_counter()


def _build(
    proxy: str, timeouts: UpstreamTimeouts, check_resolved: Callable[[str, list[str]], None]
) -> httpx.AsyncClient:
    direct = proxy.lower() in _DIRECT
    # Environment proxies apply only when nothing explicit is configured.
    trust_env = not proxy
    transport = None
    if direct or (not proxy and not _env_proxy()):
        transport = PooledTransport(
            max_connections=1000,
            keepalive_expiry=60,
            trust_env=trust_env,
            check_resolved=check_resolved,
        )
    return httpx.AsyncClient(
        # One client serves every credential behind a proxy: a cookie one upstream account sets
        # must never ride along on another account's request, so the jar keeps nothing.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        proxy=None if direct or not proxy else proxy,
        trust_env=trust_env,
        transport=transport,
        timeout=timeouts.as_httpx(),
        follow_redirects=False,
        limits=httpx.Limits(
            max_connections=1000, max_keepalive_connections=200, keepalive_expiry=60
        ),
        headers={"user-agent": "aiproxyapi"},
    )


def _env_proxy() -> bool:
    """Whether the environment names a proxy httpx would use (HTTP(S)_PROXY, ALL_PROXY)."""
    return any(value and name.lower() in _PROXY_ENV for name, value in os.environ.items())
