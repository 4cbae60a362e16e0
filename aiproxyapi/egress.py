"""Where upstream calls may go: the SSRF guard for upstream and proxy URLs.

An upstream URL that points at this machine or a private network (loopback, RFC 1918,
link-local and cloud metadata, carrier-grade NAT, ULA, the unspecified `0.0.0.0`/`::`,
IPv4-mapped IPv6 forms of any of those, multicast, reserved) is a *private destination*. The
rule, checked twice:

* **Write time.** A URL written through the management API (provider `base-url`, `proxy-url`
  at the top or per entry, an auth record's `base_url`/`proxy_url`) that the config file did not
  already hold is refused with 400 when its host is a private destination: IP literals in any
  spelling (`127.1`, `0x7f000001`, `2852039166`, `[::ffff:169.254.169.254]`) and host names,
  every address they resolve to. Only `http`/`https` are accepted (`socks5`/`socks5h` too for a
  proxy). A name that does not resolve now is accepted; the connect-time check covers it.
* **Connect time.** A host *name* is resolved, every address checked, and the connection made
  to a checked address (never resolved again), so a name that later re-points at a private
  address is refused before any socket opens. `localhost` (answered by the hosts file, never
  by DNS) and IP literals skip this check: only the operator can have put those in the config.

`allow-private-upstreams` in the config file lists hosts and networks that may be private
destinations all the same (a local model server, a company proxy); it cannot be changed
through the management API.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = [
    "DestinationRefused",
    "EgressPolicy",
    "check_url",
    "is_private_destination",
    "literal_address",
    "origin_of",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_UPSTREAM_SCHEMES = frozenset({"http", "https"})
_PROXY_SCHEMES = frozenset({"http", "https", "socks5", "socks5h"})
# The forms inet_aton reads besides dotted quads: 127.1, 0x7f000001, 2852039166, 0177.0.0.1.
_LEGACY_V4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)
_RESOLVE_TIMEOUT = 3.0


class DestinationRefused(ValueError):
    """An upstream or proxy URL that may not be used; the message says why (never a secret)."""


def literal_address(host: str) -> IPAddress | None:
    """The address a host spells directly, in any form a resolver accepts; None for a name."""
    bare = host.strip().strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if _LEGACY_V4.match(bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def is_private_destination(address: IPAddress) -> bool:
    """Whether an address is anything but a public unicast one (IPv4-mapped forms unwrapped)."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return is_private_destination(mapped)
    return not address.is_global or address.is_multicast


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL, lower-cased; None when it has no host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}.get(scheme, 0)
    return scheme, host, port or default


def _is_local_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """The operator's `allow-private-upstreams`: names and networks that may be private."""

    names: frozenset[str] = frozenset()
    networks: tuple[_Network, ...] = field(default=())

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> EgressPolicy:
        """Entries are host names, IP addresses or networks (CIDR); bad ones raise ValueError."""
        names: set[str] = set()
        networks: list[_Network] = []
        for entry in entries:
            text = entry.strip().lower().strip("[]")
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                if not text or any(ch in text for ch in "/:@ \t\r\n"):
                    raise ValueError(
                        f"`allow-private-upstreams` entry {entry!r} is not a host name, "
                        "an IP address or a network"
                    ) from None
                names.add(text)
        return cls(frozenset(names), tuple(networks))

    def permits(self, host: str, address: IPAddress) -> bool:
        """Whether `host`, found at `address`, may be called."""
        if not is_private_destination(address):
            return True
        if host.lower().strip("[]") in self.names:
            return True
        return any(address in network for network in self.networks)

    def check_resolved(self, host: str, addresses: Iterable[str]) -> None:
        """Connect time: refuse a host name whose resolved addresses include a private one."""
        if _is_local_name(host.lower()) or literal_address(host) is not None:
            return
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if not self.permits(host, address):
                raise DestinationRefused(_refusal(host, address))


def _refusal(host: str, address: IPAddress) -> str:
    where = host if str(address) == host.strip("[]") else f"{host} ({address})"
    return (
        f"upstream {where} is a private or local address; list it under "
        "`allow-private-upstreams` in the config file to allow it"
    )


async def _resolve(host: str) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_TIMEOUT):
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_url(url: str, policy: EgressPolicy, *, proxy: bool = False) -> None:
    """Write time: refuse a URL whose scheme is not allowed or whose host is private."""
    text = url.strip()
    if proxy and text.lower() in {"direct", "none"}:
        return
    origin = origin_of(text)
    schemes = _PROXY_SCHEMES if proxy else _UPSTREAM_SCHEMES
    if origin is None or origin[0] not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise DestinationRefused(f"URL must use one of {allowed} and name a host")
    host = origin[1]
    literal = literal_address(host)
    addresses = [literal] if literal is not None else await _resolve(host)
    for address in addresses:
        if not policy.permits(host, address):
            raise DestinationRefused(_refusal(host, address))
