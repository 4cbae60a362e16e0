"""Who may call /v0/management: a secret must be set, the caller local (or remote allowed),
not banned, and presenting the right key.

Whether a caller is local is decided on the socket peer. Forwarding headers count only when
the peer itself is a configured trusted proxy; then the nearest untrusted address in
X-Forwarded-For is the caller. A loopback peer that is not a trusted proxy but sends forwarding
headers is a same-host reverse proxy relaying someone else: without allow-remote it is refused. The same address is what failures and bans are counted on.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from aiproxyapi.config import RemoteManagement
from aiproxyapi.management._http import ManagementError
from aiproxyapi.management.context import OPT_KEY, ManagementContext
from aiproxyapi.management.hosts import cross_site_refusal, host_allowed

__all__ = ["callback_guard", "caller_address", "management_guard", "presented_key"]

log = logging.getLogger("aiproxyapi.management")

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FORWARDING = ("x-forwarded-for", "forwarded", "x-real-ip")


def _networks(entries: Iterable[str]) -> list[_Network]:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries]


def _within(address: str, networks: list[_Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def caller_address(connection: ASGIConnection[Any, Any, Any, Any], trusted: Iterable[str]) -> str:
    """The caller's address: the socket peer, unless that peer is a trusted proxy."""
    peer = connection.client.host if connection.client else ""
    networks = _networks(trusted)
    if not networks or not _within(peer, networks):
        return peer
    hops = [
        hop.strip()
        for header in connection.headers.getall("x-forwarded-for", [])
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _within(hop, networks):
            return hop
    return hops[0] if hops else peer


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The management key the caller sent (X-Management-Key or a Bearer token), or ""."""
    key = connection.headers.get("x-management-key", "").strip()
    if key:
        return key
    scheme, _, token = connection.headers.get("authorization", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _ban_message(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.999), 60)
    return f"IP banned due to too many failed attempts. Try again in {minutes}m{secs:02d}s"


def _admit(connection: ASGIConnection[Any, Any, Any, Any], context: ManagementContext) -> str:
    """The caller's address, once management is on and the caller may reach it from there."""
    config = context.gateway.runtime.config
    settings = config.management
    if not context.verifier.enabled(config):
        raise ManagementError(404, "not found")
    if not host_allowed(connection.headers.get("host", ""), config):
        raise ManagementError(403, "host not allowed")
    refusal = cross_site_refusal(
        str(connection.scope.get("method", "GET")), connection.headers, config
    )
    if refusal:
        raise ManagementError(403, refusal)
    address = caller_address(connection, settings.trusted_proxies)
    remote_allowed = settings.allow_remote or bool(context.verifier.env_password)
    if not remote_allowed and (not _is_loopback(address) or _relayed(connection, settings)):
        raise ManagementError(403, "remote management disabled")
    return address


def _relayed(connection: ASGIConnection[Any, Any, Any, Any], settings: RemoteManagement) -> bool:
    """A loopback peer that is no trusted proxy yet forwards for someone: a same-host proxy.

    Behind such a proxy every caller would look local, so its requests count as remote.
    """
    peer = connection.client.host if connection.client else ""
    if _within(peer, _networks(settings.trusted_proxies)):
        return False
    return any(name in connection.headers for name in _FORWARDING)


async def callback_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The OAuth callback takes no key (the login's state proves it), but the rest holds."""
    _admit(connection, handler.opt[OPT_KEY])


async def management_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Let the call through, or raise the 404/403/401 that says why not."""
    context: ManagementContext = handler.opt[OPT_KEY]
    context.notice_reload()
    config = context.gateway.runtime.config
    address = _admit(connection, context)
    remaining = context.bans.remaining(address)
    if remaining > 0:
        error = ManagementError(403, _ban_message(remaining), retry_after=int(remaining + 0.999))
        error.headers["Retry-After"] = str(int(remaining + 0.999))
        raise error
    key = presented_key(connection)
    if not key:
        raise ManagementError(401, "missing management key")
    if not await context.verifier.verify(key, config):
        context.bans.failed(address)
        banned = context.bans.remaining(address) > 0
        # An audit line for every refusal; the presented value is never part of it.
        log.warning(
            "management key refused from %s on %s%s",
            address,
            connection.scope.get("path", ""),
            " (address now banned)" if banned else "",
        )
        raise ManagementError(401, "invalid management key")
    context.bans.succeeded(address)
