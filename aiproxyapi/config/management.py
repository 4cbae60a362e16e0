"""The `remote-management` section: who may reach /v0/management and with which secret."""

from __future__ import annotations

import ipaddress

from aiproxyapi.config._node import _Node

__all__ = ["BCRYPT_PREFIXES", "RemoteManagement", "is_bcrypt_hash"]

#: How a bcrypt hash starts; any other non-empty secret-key is plaintext, hashed on first start.
BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")

# bcrypt only looks at the first 72 bytes of a secret; a longer one would be silently
# truncated by some implementations and refused by others, so it is refused here.
_BCRYPT_MAX_BYTES = 72


def is_bcrypt_hash(value: str) -> bool:
    """Whether a configured secret is already a bcrypt hash."""
    return value.startswith(BCRYPT_PREFIXES) and len(value) == 60


class RemoteManagement(_Node, frozen=True):
    """`remote-management`: the management secret and where management may be reached from."""

    secret_key: str = ""
    """bcrypt hash of the management key (a plaintext value is hashed and written back)."""
    allow_remote: bool = False
    """Accept management calls from other machines; loopback only otherwise."""
    disable_control_panel: bool = False
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks of reverse proxies whose X-Forwarded-For is believed."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names (besides IP literals, localhost and `host`) management and the panel answer
    to, and the hosts whose pages may make state-changing calls (DNS rebinding, CSRF)."""

    def __post_init__(self) -> None:
        secret = self.secret_key.strip()
        if secret and not is_bcrypt_hash(secret) and len(secret.encode()) > _BCRYPT_MAX_BYTES:
            raise ValueError("`secret-key` must be at most 72 bytes long")
        for entry in self.trusted_proxies:
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"`trusted-proxies` entry {entry!r} is not an IP address or network"
                ) from None
