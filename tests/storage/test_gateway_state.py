"""On a remote backend: usage totals kept as the store's state, and `store rotate-key`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from storage.base import ChangeKind
from storage.crypto import MAGIC, EncryptedStore, key_id
from storage.postgres import PostgresStore
from tests.storage._remotes import PostgresBackend
from tests.storage.backends import PG_DSN, drop_schema, new_key, require_postgres, unique_schema
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess

BODY = {"model": "m1", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_usage_totals_survive_a_restart_through_the_store(
    tmp_path: Path, fake_upstream: FakeUpstream
) -> None:
    asyncio.run(require_postgres())
    remote = PostgresBackend()
    entry = openai_entry("up", fake_upstream.base_url, ["sk-upstream-1"])
    config = gateway_config(entry, **{"usage-statistics-enabled": True})
    gateway = GatewayProcess(config, tmp_path=tmp_path, env=remote.env(tmp_path))
    try:
        gateway.start()
        headers = {"authorization": f"Bearer {CLIENT_KEY}"}
        for _ in range(3):
            url = f"{gateway.base_url}/v1/chat/completions"
            assert httpx.post(url, json=BODY, headers=headers, timeout=20).status_code == 200
        gateway.stop()  # flushes the book at shutdown

        mirror = remote.mirror(tmp_path)
        key = "usage-" + (mirror / "instance-id").read_text().strip()
        stored = json.loads(remote.raw(ChangeKind.STATE, key) or b"{}")
        assert stored["usage"]["totals"]["requests"] == 3
        assert not (tmp_path / "auths" / "usage").exists()  # not the file backend's file
        (mirror / "auths" / ".state" / key).unlink()  # only the backend has it now

        gateway.start()
        usage = httpx.get(f"{gateway.base_url}/usage", timeout=10).json()
        assert usage["usage"]["totals"]["requests"] == 3, gateway.log_text()
    finally:
        gateway.stop()
        remote.close()


async def test_rotate_key_rewrites_every_record_under_the_new_key(tmp_path: Path) -> None:
    await require_postgres()
    schema = unique_schema()
    old, new = new_key(), new_key()
    try:
        before = EncryptedStore(PostgresStore(PG_DSN, schema), old)
        await before.start()
        await before.write_config(b"port: 8317\n")
        await before.write_auth("claude-a@b.com.json", b'{"refresh_token": "rt-canary-rot"}')
        await before.inner.write_auth("legacy.json", b'{"plain": true}')
        await before.close()

        env = {
            "PATH": "/usr/bin:/bin",
            "PGSTORE_DSN": PG_DSN,
            "PGSTORE_SCHEMA": schema,
            "PGSTORE_LOCAL_PATH": str(tmp_path),
            "AIPROXYAPI_STORE_KEY": new.hex(),
            "AIPROXYAPI_STORE_OLD_KEYS": old.hex(),
        }
        command = [sys.executable, "-m", "aiproxyapi", "store", "rotate-key"]

        def rotate() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                command,
                check=False,
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )

        first = await asyncio.to_thread(rotate)
        assert first.returncode == 0, first.stderr
        assert "rotated 3 document(s)" in first.stdout
        assert "rt-canary-rot" not in first.stdout + first.stderr
        again = await asyncio.to_thread(rotate)
        assert "rotated 0 document(s)" in again.stdout

        raw = PostgresStore(PG_DSN, schema)
        await raw.start()
        for stored in [await raw.read_config(), *(await raw.list_auth()).values()]:
            assert stored is not None
            assert stored.startswith(MAGIC + b"\x01" + key_id(new))
        await raw.close()
        after = EncryptedStore(PostgresStore(PG_DSN, schema), new)  # the old key is gone
        await after.start()
        assert await after.read_auth("claude-a@b.com.json") == b'{"refresh_token": "rt-canary-rot"}'
        assert await after.read_auth("legacy.json") == b'{"plain": true}'
        assert await after.read_config() == b"port: 8317\n"
        await after.close()
    finally:
        await drop_schema(schema)


def test_rotate_key_without_a_key_says_what_to_set(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PGSTORE_DSN": PG_DSN, "PGSTORE_LOCAL_PATH": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "aiproxyapi", "store", "rotate-key"],
        check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "AIPROXYAPI_STORE_KEY is not set" in result.stderr


def test_an_empty_backend_without_a_local_config_is_seeded_from_the_example(
    tmp_path: Path,
) -> None:
    from aiproxyapi.server import seed_config_text

    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    assert seed_config_text(tmp_path / "missing.yaml") == example.read_bytes()
    local = tmp_path / "config.yaml"
    local.write_text("port: 9999\n")
    assert seed_config_text(local) == b"port: 9999\n"
