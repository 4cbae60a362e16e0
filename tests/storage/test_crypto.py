"""Encryption at rest: what reaches the backend, key rotation, wrong keys, legacy plaintext."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.base import ChangeKind
from storage.crypto import (
    KEY_ENV,
    MAGIC,
    OLD_KEYS_ENV,
    EncryptedStore,
    StoreKeyError,
    key_from_env,
    key_id,
)
from storage.file import FileStore
from storage.postgres import PostgresStore
from tests.storage.backends import PG_DSN, drop_schema, require_postgres, unique_schema

CANARY = b"sk-ant-canary-0123456789abcdef"
RECORD = b'{"type": "claude", "refresh_token": "' + CANARY + b'"}'


@pytest.fixture
async def files(tmp_path: Path) -> AsyncIterator[FileStore]:
    store = FileStore(tmp_path / "auths", tmp_path / "config.yaml")
    await store.start()
    yield store
    await store.close()


@pytest.mark.invariant(4, 17)
async def test_no_canary_reaches_the_files(files: FileStore) -> None:
    store = EncryptedStore(files, secrets.token_bytes(32))
    await store.write_auth("claude-a@b.com.json", RECORD)
    await store.write_config(b"api-keys: [" + CANARY + b"]\n")
    await store.write_state("usage", CANARY)
    raw = [
        *(await files.list_auth()).values(),
        await files.read_config() or b"",
        await files.read_state("usage") or b"",
    ]
    assert all(item.startswith(MAGIC) and CANARY not in item for item in raw)
    assert await store.read_auth("claude-a@b.com.json") == RECORD
    assert await store.read_config() == b"api-keys: [" + CANARY + b"]\n"
    assert await store.read_state("usage") == CANARY


async def test_no_canary_reaches_postgres() -> None:
    await require_postgres()
    schema = unique_schema()
    raw = PostgresStore(PG_DSN, schema)
    store = EncryptedStore(PostgresStore(PG_DSN, schema), secrets.token_bytes(32))
    try:
        await store.start()
        await store.write_auth("codex-a@b.com.json", RECORD)
        await store.write_config(CANARY)
        stored = await raw.read_auth("codex-a@b.com.json")
        assert stored is not None
        assert CANARY not in stored
        assert CANARY not in (await raw.read_config() or b"")
        assert await store.read_auth("codex-a@b.com.json") == RECORD
    finally:
        await store.close()
        await raw.close()
        await drop_schema(schema)


async def test_every_write_uses_a_fresh_nonce(files: FileStore) -> None:
    store = EncryptedStore(files, secrets.token_bytes(32))
    await store.write_auth("a.json", RECORD)
    first = await files.read_auth("a.json")
    await store.write_auth("a.json", RECORD)
    assert await files.read_auth("a.json") != first


async def test_rotation_reads_old_records_and_rewrites_them(files: FileStore) -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    await EncryptedStore(files, old).write_auth("a.json", RECORD)
    await EncryptedStore(files, old).write_config(b"port: 1\n")
    await EncryptedStore(files, old).write_state("usage", b"9")

    rotating = EncryptedStore(files, new, old_keys=[old])
    assert await rotating.read_auth("a.json") == RECORD
    assert await rotating.rotate(state_keys=["usage"]) == 3
    assert await rotating.rotate(state_keys=["usage"]) == 0  # nothing left under the old key

    only_new = EncryptedStore(files, new)
    assert await only_new.read_auth("a.json") == RECORD
    assert await only_new.read_config() == b"port: 1\n"
    assert await only_new.read_state("usage") == b"9"


async def test_a_wrong_key_fails_clearly(files: FileStore) -> None:
    right, wrong = secrets.token_bytes(32), secrets.token_bytes(32)
    await EncryptedStore(files, right).write_auth("a.json", RECORD)
    with pytest.raises(StoreKeyError) as caught:
        await EncryptedStore(files, wrong).read_auth("a.json")
    message = str(caught.value)
    assert "auth a.json" in message
    assert key_id(right).hex() in message
    assert KEY_ENV in message
    assert OLD_KEYS_ENV in message


async def test_tampering_and_moving_records_are_detected(files: FileStore) -> None:
    key = secrets.token_bytes(32)
    store = EncryptedStore(files, key)
    await store.write_auth("alice.json", RECORD)
    stolen = await files.read_auth("alice.json")
    assert stolen is not None
    await files.write_auth("mallory.json", stolen)  # alice's token filed under another name
    with pytest.raises(StoreKeyError, match="wrong key or tampered"):
        await store.read_auth("mallory.json")
    flipped = stolen[:-1] + bytes([stolen[-1] ^ 1])
    await files.write_auth("alice.json", flipped)
    with pytest.raises(StoreKeyError, match="wrong key or tampered"):
        await store.read_auth("alice.json")
    with pytest.raises(StoreKeyError, match="truncated"):
        store.decrypt(ChangeKind.AUTH, "x.json", MAGIC + b"\x01")


async def test_legacy_plaintext_is_read_then_encrypted_on_the_next_write(files: FileStore) -> None:
    await files.write_auth("legacy.json", RECORD)
    store = EncryptedStore(files, secrets.token_bytes(32))
    assert await store.read_auth("legacy.json") == RECORD
    assert await store.list_auth() == {"legacy.json": RECORD}
    await store.write_auth("legacy.json", RECORD)
    stored = await files.read_auth("legacy.json")
    assert stored is not None
    assert stored.startswith(MAGIC)
    assert CANARY not in stored
    assert await store.rotate() == 0


def test_keys_from_the_environment() -> None:
    key, old = secrets.token_bytes(32), secrets.token_bytes(32)
    assert key_from_env({}) is None
    assert key_from_env({KEY_ENV: "  "}) is None
    env = {KEY_ENV: key.hex(), OLD_KEYS_ENV: f"{base64.b64encode(old).decode()}, "}
    assert key_from_env(env) == (key, (old,))
    urlsafe = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert key_from_env({KEY_ENV: urlsafe}) == (key, ())


@pytest.mark.parametrize("text", ["short", "zz" * 32, base64.b64encode(b"x" * 16).decode()])
def test_a_malformed_key_is_refused_without_echoing_it(text: str) -> None:
    with pytest.raises(StoreKeyError, match=KEY_ENV) as caught:
        key_from_env({KEY_ENV: text})
    assert text not in str(caught.value)
    assert "token_hex(32)" in str(caught.value)


def test_a_malformed_old_key_names_its_position() -> None:
    env = {KEY_ENV: secrets.token_hex(32), OLD_KEYS_ENV: f"{secrets.token_hex(32)},nope"}
    with pytest.raises(StoreKeyError, match=f"{OLD_KEYS_ENV} item 2"):
        key_from_env(env)
