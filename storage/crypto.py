"""Encryption at rest: AES-256-GCM around any backend, so PostgreSQL, Git and S3 hold ciphertext.

:class:`EncryptedStore` wraps a backend and encrypts every document it writes: auth records
(tokens), state and the config too (it holds provider API keys and the management secret's
hash). The local files (the auth dir, the mirror of a remote backend) stay plain JSON/YAML
so the gateway and its file watcher read them directly; they are 0600 in 0700 directories.

Record format: ``\\x00apx`` magic, a version byte (1), a 4-byte key id (from a hash of the key,
never the key), a random 96-bit nonce, then the ciphertext and its 16-byte tag. The header,
the document kind and its name are authenticated data: a record copied under another
account's name does not decrypt. Bytes without the magic are legacy plaintext and are read
as they are; the next write of that document encrypts it.

Keys come from the environment (:func:`key_from_env`): ``AIPROXYAPI_STORE_KEY`` holds 32
bytes as 64 hex characters or base64; ``AIPROXYAPI_STORE_OLD_KEYS`` a comma list of earlier
keys, used only to decrypt. Generate a key with
``python -c "import secrets; print(secrets.token_hex(32))"`` and keep a copy outside the
backend: without it the records cannot be read back.

Key rotation:

1. Generate a new key. On every instance set ``AIPROXYAPI_STORE_KEY`` to it and add the
   previous key to ``AIPROXYAPI_STORE_OLD_KEYS``; restart the instances one by one (an
   instance that knows both keys reads records written by either).
2. Documents move to the new key as they are written; :meth:`EncryptedStore.rotate`
   rewrites every remaining one at once and returns how many it rewrote.
3. Once ``rotate()`` has run (or returns 0), remove the old key from
   ``AIPROXYAPI_STORE_OLD_KEYS``. A record still under a removed key fails with an error
   naming the document and the missing key id; put the old key back to read it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.base import Change, ChangeKind, Store, StoreError

__all__ = [
    "KEY_ENV",
    "MAGIC",
    "OLD_KEYS_ENV",
    "EncryptedStore",
    "StoreKeyError",
    "StoreKeys",
    "key_from_env",
    "key_id",
    "parse_key",
]

KEY_ENV = "AIPROXYAPI_STORE_KEY"
OLD_KEYS_ENV = "AIPROXYAPI_STORE_OLD_KEYS"
MAGIC = b"\x00apx"
_VERSION = 1
_HEADER = len(MAGIC) + 1 + 4  # magic, version, key id
_NONCE = 12
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


class StoreKeyError(StoreError):
    """A store key is malformed, missing for a record, or wrong for it."""


class StoreKeys(NamedTuple):
    """The key new records are encrypted with, and earlier keys still accepted for reading."""

    current: bytes
    old: tuple[bytes, ...] = ()


def key_id(key: bytes) -> bytes:
    """A 4-byte tag naming a key in record headers; reveals nothing useful about the key."""
    return hashlib.sha256(b"aiproxyapi store key id\x00" + key).digest()[:4]


def parse_key(text: str, *, source: str = KEY_ENV) -> bytes:
    """32 key bytes from hex or base64 text; StoreKeyError (never echoing the text) otherwise."""
    text = text.strip()
    if _HEX_KEY.match(text):
        return bytes.fromhex(text)
    try:
        padded = text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4)
        key = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise StoreKeyError(
            f"{source} must be 32 bytes written as 64 hex characters or as base64 "
            f"(got {len(text)} characters that are neither); generate one with: "
            'python -c "import secrets; print(secrets.token_hex(32))"'
        )
    return key


def key_from_env(environ: Mapping[str, str] | None = None) -> StoreKeys | None:
    """The store keys from the environment, or None when no key is set."""
    env = os.environ if environ is None else environ
    current = env.get(KEY_ENV, "").strip()
    if not current:
        return None
    old_text = env.get(OLD_KEYS_ENV, "")
    old = tuple(
        parse_key(item, source=f"{OLD_KEYS_ENV} item {n}")
        for n, item in enumerate(old_text.split(","), start=1)
        if item.strip()
    )
    return StoreKeys(parse_key(current), old)


class EncryptedStore(Store):
    """Any backend, with every document encrypted on the way in and decrypted on the way out."""

    def __init__(self, inner: Store, key: bytes, *, old_keys: Iterable[bytes] = ()) -> None:
        # cryptography loads only when a store key is configured.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.inner = inner
        self.kind = inner.kind
        self._keys: dict[bytes, AESGCM] = {}
        for k in (key, *old_keys):
            if len(k) != 32:
                raise StoreKeyError("store keys must be exactly 32 bytes")
            self._keys.setdefault(key_id(k), AESGCM(k))
        self._current = key_id(key)

    async def start(self) -> None:
        """Start the wrapped backend."""
        await self.inner.start()

    async def close(self) -> None:
        """Close the wrapped backend."""
        await self.inner.close()

    def encrypt(self, kind: ChangeKind, name: str, data: bytes) -> bytes:
        """One document's bytes as stored: header, nonce, ciphertext and tag."""
        header = MAGIC + bytes([_VERSION]) + self._current
        nonce = os.urandom(_NONCE)
        sealed = self._keys[self._current].encrypt(nonce, data, _aad(header, kind, name))
        return header + nonce + sealed

    def decrypt(self, kind: ChangeKind, name: str, stored: bytes) -> bytes:
        """The plaintext of one stored document (legacy plaintext passes through)."""
        if not stored.startswith(MAGIC):
            return stored
        label = f"{kind.value} {name}".strip()
        if len(stored) < _HEADER + _NONCE + 16 or stored[len(MAGIC)] != _VERSION:
            raise StoreKeyError(f"{label}: unknown or truncated encrypted record format")
        header, kid = stored[:_HEADER], stored[len(MAGIC) + 1 : _HEADER]
        cipher = self._keys.get(kid)
        if cipher is None:
            raise StoreKeyError(
                f"{label} is encrypted with key id {kid.hex()}, which is neither "
                f"{KEY_ENV} nor one of {OLD_KEYS_ENV}"
            )
        nonce, sealed = stored[_HEADER : _HEADER + _NONCE], stored[_HEADER + _NONCE :]
        from cryptography.exceptions import InvalidTag

        try:
            return cipher.decrypt(nonce, sealed, _aad(header, kind, name))
        except InvalidTag:
            raise StoreKeyError(f"{label} does not decrypt: wrong key or tampered record") from None

    def needs_rotation(self, stored: bytes) -> bool:
        """True when stored bytes are plaintext or under a key other than the current one."""
        return not stored.startswith(MAGIC) or stored[len(MAGIC) + 1 : _HEADER] != self._current

    async def read_config(self) -> bytes | None:
        """The decrypted config."""
        stored = await self.inner.read_config()
        return None if stored is None else self.decrypt(ChangeKind.CONFIG, "", stored)

    async def write_config(self, data: bytes) -> None:
        """Encrypt and write the config."""
        await self.inner.write_config(self.encrypt(ChangeKind.CONFIG, "", data))

    async def list_auth(self) -> dict[str, bytes]:
        """Every auth record, decrypted."""
        stored = await self.inner.list_auth()
        return {name: self.decrypt(ChangeKind.AUTH, name, data) for name, data in stored.items()}

    async def read_auth(self, name: str) -> bytes | None:
        """One decrypted auth record."""
        stored = await self.inner.read_auth(name)
        return None if stored is None else self.decrypt(ChangeKind.AUTH, name, stored)

    async def write_auth(self, name: str, data: bytes) -> None:
        """Encrypt and write one auth record."""
        await self.inner.write_auth(name, self.encrypt(ChangeKind.AUTH, name, data))

    async def delete_auth(self, name: str) -> None:
        """Delete one auth record."""
        await self.inner.delete_auth(name)

    async def read_state(self, key: str) -> bytes | None:
        """One decrypted state document."""
        stored = await self.inner.read_state(key)
        return None if stored is None else self.decrypt(ChangeKind.STATE, key, stored)

    async def write_state(self, key: str, data: bytes) -> None:
        """Encrypt and write one state document."""
        await self.inner.write_state(key, self.encrypt(ChangeKind.STATE, key, data))

    def changes(self) -> AsyncIterator[Change]:
        """The wrapped backend's changes (they carry names, never contents)."""
        return self.inner.changes()

    async def rotate(self, state_keys: Iterable[str] = ()) -> int:
        """Re-encrypt the config, every auth record and the given state documents that are
        plaintext or under an old key; return how many were rewritten."""
        rewritten = 0
        config = await self.inner.read_config()
        if config is not None and self.needs_rotation(config):
            await self.write_config(self.decrypt(ChangeKind.CONFIG, "", config))
            rewritten += 1
        for name, stored in (await self.inner.list_auth()).items():
            if self.needs_rotation(stored):
                await self.write_auth(name, self.decrypt(ChangeKind.AUTH, name, stored))
                rewritten += 1
        for key in state_keys:
            stored_state = await self.inner.read_state(key)
            if stored_state is not None and self.needs_rotation(stored_state):
                await self.write_state(key, self.decrypt(ChangeKind.STATE, key, stored_state))
                rewritten += 1
        return rewritten


def _aad(header: bytes, kind: ChangeKind, name: str) -> bytes:
    return header + kind.value.encode() + b"\x00" + name.encode()
