"""Shared upstream HTTP clients: one pooled httpx.AsyncClient per egress proxy.

Direct clients (no configured proxy and none in the environment) send through `PooledTransport`;
proxied ones keep httpx's own transport, which speaks HTTP/SOCKS proxies. `HttpClients.post`
hands a direct client's POST straight to its transport with the headers httpx would have sent:
building and sending an httpx.Request costs more than the rest of the upstream exchange.
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
        self._direct: dict[httpx.AsyncClient, _Direct] = {}
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
            client, transport = _build(chosen, timeouts, self._check_resolved)
            self._clients[key] = client
            client.event_hooks = {"request": [_stamp_sent], "response": [self._headers_arrived]}
            if transport is not None:
                self._direct[client] = _Direct(transport, client)
        return client

    def _check_resolved(self, host: str, addresses: list[str]) -> None:
        self.egress.check_resolved(host, addresses)

    async def post(
        self, client: httpx.AsyncClient, url: str, headers: dict[str, str], body: bytes
    ) -> httpx.Response:
        """POST through `client` as `send(stream=True)` would, straight to a pooled transport."""
        direct = self._direct.get(client)
        names = {name.lower() for name in headers}
        if direct is None or not names.isdisjoint(_FRAMING):
            request = client.build_request("POST", url, content=body, headers=headers)
            return await client.send(request, stream=True)
        sent = time.perf_counter()
        response = await direct.transport.post(
            url, direct.headers(headers, names, body), body, direct.timeouts
        )
        if self.on_upstream_headers is not None:
            host = direct.host_of(url)
            self.on_upstream_headers(host, time.perf_counter() - sent)
        return response

    async def _headers_arrived(self, response: httpx.Response) -> None:
        sent = response.request.extensions.get(_SENT)
        if self.on_upstream_headers is not None and isinstance(sent, float):
            self.on_upstream_headers(response.request.url.host, time.perf_counter() - sent)

    async def aclose(self) -> None:
        """Close every client (at shutdown)."""
        clients, self._clients = list(self._clients.values()), {}
        self._direct = {}
        for client in clients:
            await client.aclose()


_SENT = "aiproxyapi.sent"
_FRAMING = frozenset({"host", "content-length", "transfer-encoding"})
"""Headers that change how httpx frames a request: given any, the request goes through httpx."""


class _Direct:
    """A direct client's transport, default headers and timeouts, for `HttpClients.post`."""

    __slots__ = ("_defaults", "_hosts", "timeouts", "transport")

    def __init__(self, transport: PooledTransport, client: httpx.AsyncClient) -> None:
        self.transport = transport
        self.timeouts = client.timeout.as_dict()
        # httpx's merge: the client's headers not given by the request, then the request's.
        self._defaults = [
            (name.decode("ascii").lower(), name, value) for name, value in client.headers.raw
        ]
        self._hosts: dict[str, str] = {}

    def headers(
        self, given: dict[str, str], names: set[str], body: bytes
    ) -> list[tuple[bytes, bytes]]:
        """The header lines after Host, as httpx orders them; names and values ASCII."""
        lines = [(name, value) for low, name, value in self._defaults if low not in names]
        for name, value in given.items():
            lines.append((name.encode("ascii"), value.encode("ascii")))
        lines.append((b"Content-Length", str(len(body)).encode()))
        return lines

    def host_of(self, url: str) -> str:
        """The host of a URL, as `httpx.URL.host` gives it (for the upstream timing metric)."""
        host = self._hosts.get(url)
        if host is None:
            if len(self._hosts) >= 1024:
                self._hosts.clear()
            host = self._hosts[url] = httpx.URL(url).host
        return host


async def _stamp_sent(request: httpx.Request) -> None:
    request.extensions[_SENT] = time.perf_counter()


def _build(
    proxy: str, timeouts: UpstreamTimeouts, check_resolved: Callable[[str, list[str]], None]
) -> tuple[httpx.AsyncClient, PooledTransport | None]:
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
    client = httpx.AsyncClient(
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
    return client, transport


def _env_proxy() -> bool:
    """Whether the environment names a proxy httpx would use (HTTP(S)_PROXY, ALL_PROXY)."""
    return any(value and name.lower() in _PROXY_ENV for name, value in os.environ.items())
