"""Client access: which gateway keys may call the proxy routes, and safe-defaults checks."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time
from collections.abc import Iterable, Mapping

from aiproxyapi.config.client_keys import ClientKeyPolicy
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.secret import fingerprint

__all__ = [
    "ClientKeys",
    "UnsafeConfigError",
    "check_access_safety",
    "check_model",
    "is_loopback_host",
    "local_caller",
    "model_allowed",
]

# The sample keys CLIProxyAPI and our config.example.yaml ship; a gateway that accepts them is
# open to anyone who read the docs.
_PLACEHOLDER_KEYS = frozenset(
    {
        "your-api-key-1",
        "your-api-key-2",
        "your-api-key-3",
        "replace-with-a-long-random-client-key-1",
        "replace-with-a-long-random-client-key-2",
    }
)
# The sample management secret of config.example.yaml (refused before it is hashed).
_PLACEHOLDER_SECRETS = frozenset({"replace-with-a-long-random-management-key"})


class UnsafeConfigError(ValueError):
    """The config would expose the gateway; it is refused at start and on reload."""


class ClientKeys:
    """The accepted client keys, held only as SHA-256 digests and looked up by digest.

    Looking up a digest makes the check independent of how much of a wrong key matches a right
    one, so response timing tells an attacker nothing about the keys.
    """

    __slots__ = ("_labels", "_policies")

    def __init__(self, keys: Iterable[str | ClientKeyPolicy]) -> None:
        policies = [ClientKeyPolicy(key=k) if isinstance(k, str) else k for k in keys]
        self._labels = {_digest(p.key): f"key-{fingerprint(p.key)}" for p in policies}
        # The label is how the rest of the gateway names a key, so policies are found by it.
        self._policies = {f"key-{fingerprint(p.key)}": p for p in policies}

    def policy(self, label: str) -> ClientKeyPolicy | None:
        """The policy of an authenticated caller's key (None for an open gateway)."""
        return self._policies.get(label)

    @property
    def open(self) -> bool:
        """No keys configured: every caller is allowed (only permitted on loopback)."""
        return not self._labels

    def authenticate(self, headers: Mapping[str, str], query: Mapping[str, str]) -> str:
        """The label of the caller's key; a 401 error when it is missing or wrong."""
        if not self._labels:
            return "anonymous"
        presented = _presented_key(headers, query)
        if presented is None:
            raise ClientRequestError(
                "Missing API key: send it as `Authorization: Bearer <key>`, `x-api-key`, "
                "`x-goog-api-key` or `?key=`.",
                status=401,
                code="invalid_api_key",
                kind="authentication_error",
            )
        label = self._labels.get(_digest(presented))
        if label is None:
            raise ClientRequestError(
                "Invalid API key.", status=401, code="invalid_api_key", kind="authentication_error"
            )
        expires_at = self._policies[label].expires_at
        if expires_at is not None and time.time() >= expires_at:
            raise ClientRequestError(
                f"This API key expired ({self._policies[label].expires}); ask for a new one.",
                status=401,
                code="expired_api_key",
                kind="authentication_error",
            )
        return label


def _pattern(model_glob: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(piece) for piece in model_glob.split("*")))


def model_allowed(policy: ClientKeyPolicy | None, *names: str) -> bool:
    """Whether one of the model's names is on the key's allow-list (no list: every model)."""
    if policy is None or not policy.models:
        return True
    return any(
        _pattern(glob.strip()).fullmatch(name) for glob in policy.models for name in names if name
    )


def check_model(policy: ClientKeyPolicy | None, *names: str) -> None:
    """Refuse with a 403 unless one of the model's names is on the key's allow-list."""
    if model_allowed(policy, *names):
        return
    assert policy is not None
    raise ClientRequestError(
        f"This API key may not use model {names[0]!r}; it may use: {', '.join(policy.models)}.",
        status=403,
        code="model_not_allowed",
        kind="permission_error",
        param="model",
    )


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()


def _presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization", "").strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        value = token.strip() if scheme.lower() == "bearer" else authorization
        if value:
            return value
    for name in ("x-api-key", "x-goog-api-key"):
        value = headers.get(name, "").strip()
        if value:
            return value
    value = query.get("key", "").strip()
    return value or None


def is_loopback_host(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


#: Headers a reverse proxy adds when it relays someone else's request.
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def local_caller(peer: str, headers: Mapping[str, str]) -> bool:
    """Whether a request comes from this machine itself: a loopback peer that relays no one.

    A loopback peer sending forwarding headers is a reverse proxy on this machine, and behind
    it every caller would look local.
    """
    try:
        loopback = ipaddress.ip_address(peer.strip().strip("[]")).is_loopback
    except ValueError:
        return False
    return loopback and not any(name in headers for name in FORWARDING_HEADERS)


def check_access_safety(host: str, api_keys: Iterable[str], management_secret: str = "") -> None:
    """Refuse placeholder keys and secrets, and an open gateway on a non-loopback address."""
    if management_secret.strip() in _PLACEHOLDER_SECRETS:
        raise UnsafeConfigError(
            "remote-management.secret-key is still the sample placeholder of "
            "config.example.yaml: set a long random secret of your own"
        )
    keys = list(api_keys)
    placeholders = sorted(set(keys) & _PLACEHOLDER_KEYS)
    if placeholders:
        raise UnsafeConfigError(
            "api-keys still holds the sample placeholder key(s) "
            f"{', '.join(placeholders)}: replace them with keys of your own"
        )
    if not keys and not is_loopback_host(host):
        shown = host or "all interfaces"
        raise UnsafeConfigError(
            f"api-keys is empty while the gateway binds to {shown}: anyone who can reach it "
            "could spend your credentials. Add api-keys, or set host: 127.0.0.1"
        )
