"""DNS rebinding and cross-site request defences for management, the panel and open gateways.

A page on another site can make a browser send requests to the gateway in two ways: with its
own name re-pointed at 127.0.0.1 (DNS rebinding: the `Host` header then carries the page's
name), or as a cross-site form or fetch (the `Origin` header names the page). So:

* `Host` must be an IP literal, `localhost` (or a `*.localhost` name), the configured `host`, or
  a name listed in `remote-management.allowed-hosts`. A rebinding attack always presents a
  name of the attacker's, never an IP literal.
* A state-changing call (anything but GET, HEAD, OPTIONS) that carries `Origin` must come from
  the origin it is sent to (same host and port as `Host`) or from a host in `allowed-hosts`;
  `Origin: null` and `Sec-Fetch-Site: cross-site` are refused. Callers without a browser send
  no Origin and are unaffected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from aiproxyapi.config import Config

__all__ = ["cross_site_refusal", "host_allowed"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _split(authority: str) -> tuple[str, str]:
    """(host, port) of a Host header value; the host lower-cased, IPv6 without brackets."""
    text = authority.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, rest.removeprefix(":")
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, ""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _listed(host: str, config: Config) -> bool:
    return host in {entry.strip().lower() for entry in config.remote_management.allowed_hosts}


def host_allowed(host_header: str, config: Config) -> bool:
    """Whether a request's `Host` may reach management (a missing Host is no browser's)."""
    host, _ = _split(host_header)
    if not host or _is_ip(host) or host == "localhost" or host.endswith(".localhost"):
        return True
    return host == config.host.strip().lower() or _listed(host, config)


def cross_site_refusal(method: str, headers: Mapping[str, str], config: Config) -> str:
    """Why a state-changing browser call from another site is refused ("" when it is not)."""
    if method.upper() in _SAFE_METHODS:
        return ""
    if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        return "cross-site request refused"
    origin = headers.get("origin")
    if origin is None:
        return ""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return "cross-origin request refused"
    if _split(parts.netloc) == _split(headers.get("host", "")):
        return ""
    if _listed(_split(parts.netloc)[0], config):
        return ""
    return "cross-origin request refused"
