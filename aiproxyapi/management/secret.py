"""The management secret: bcrypt-hashed in config.yaml, checked off the event loop.

The configured `secret-key` is a bcrypt hash; a plaintext value still works until
:func:`hash_plaintext_secret` has replaced it in the file (at start, and after a reload brings
one in). `MANAGEMENT_PASSWORD` from the environment is a second, plaintext secret that lives
in memory only. Comparisons of plaintext run on SHA-256 digests with `hmac.compare_digest`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

import bcrypt

from aiproxyapi.config import Config, is_bcrypt_hash
from aiproxyapi.management.edit import ConfigEditor, Document

__all__ = ["ENV_PASSWORD", "KeyVerifier", "hash_plaintext_secret", "hash_secret"]

log = logging.getLogger("aiproxyapi.management")

ENV_PASSWORD = "MANAGEMENT_PASSWORD"  # noqa: S105 - the variable's name, not a secret

# bcrypt is slow by design; a few wrong-key callers must not take every worker thread.
_BCRYPT_SLOTS = 2


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).digest()


async def hash_secret(plain: str) -> str:
    """The bcrypt hash of a secret, computed in a worker thread."""
    hashed = await asyncio.to_thread(bcrypt.hashpw, plain.encode(), bcrypt.gensalt())
    return hashed.decode()


def _checkpw(presented: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(presented, hashed)
    except ValueError:  # longer than bcrypt's 72 bytes, or a malformed hash: no match
        return False


class KeyVerifier:
    """Decides whether a presented management key is right."""

    def __init__(self, env_password: str = "") -> None:
        self.env_password = env_password
        self._slots = asyncio.Semaphore(_BCRYPT_SLOTS)
        # The digest of the key last proven against a hash: the panel sends the key with every
        # call, and one bcrypt per call would make it crawl.
        self._proven: dict[str, bytes] = {}

    def enabled(self, config: Config) -> bool:
        """Whether any secret is set; without one, management is off."""
        return bool(config.management.secret_key.strip() or self.env_password)

    async def verify(self, presented: str, config: Config) -> bool:
        """Whether `presented` is the configured secret or the environment password."""
        digest = _digest(presented)
        matched = bool(self.env_password) and hmac.compare_digest(
            digest, _digest(self.env_password)
        )
        secret = config.management.secret_key.strip()
        if not secret or matched:
            return matched
        if not is_bcrypt_hash(secret):
            return hmac.compare_digest(digest, _digest(secret))
        proven = self._proven.get(secret)
        if proven is not None:
            return hmac.compare_digest(digest, proven)
        async with self._slots:
            good = await asyncio.to_thread(_checkpw, presented.encode(), secret.encode())
        if good:
            self._proven = {secret: digest}
        return good


def _plaintext_locations(config: Config) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    secret = config.remote_management.secret_key.strip()
    if secret and not is_bcrypt_hash(secret):
        found.append(("remote-management", "secret-key"))
    legacy = config.remote_management_key.strip()
    if legacy and not is_bcrypt_hash(legacy):
        found.append(("remote-management-key",))
    return found


async def hash_plaintext_secret(config: Config, editor: ConfigEditor) -> bool:
    """Replace a plaintext secret in config.yaml by its bcrypt hash; True when it wrote."""
    locations = _plaintext_locations(config)
    if not locations:
        return False
    hashes = {path: await hash_secret(_value(config, path)) for path in locations}

    def change(document: Document) -> None:
        for path, hashed in hashes.items():
            parent = document
            for key in path[:-1]:
                parent = parent.get(key)
                if not isinstance(parent, dict):
                    return
            current = parent.get(path[-1])
            if isinstance(current, str) and current.strip() == _value(config, path):
                parent[path[-1]] = hashed

    await editor.edit(change)
    log.info("management secret-key hashed with bcrypt and written back to the config file")
    return True


def _value(config: Config, path: tuple[str, ...]) -> str:
    if path == ("remote-management-key",):
        return config.remote_management_key.strip()
    return config.remote_management.secret_key.strip()
