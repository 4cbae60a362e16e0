"""MirroredStore and edits of its own files: sent on once, published, never echoed back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from storage.base import Change, ChangeKind
from storage.mirror import MirroredStore
from tests.storage.contract import ChangeWatch
from tests.storage.faults import FlakyStore, eventually


async def test_an_auth_file_dropped_into_the_mirror_reaches_the_backend(tmp_path: Path) -> None:
    backend = FlakyStore(tmp_path / "remote")
    store = MirroredStore(backend, tmp_path / "local", tmp_path / "local" / "outbox")
    await store.start()
    watch = ChangeWatch(store)
    try:
        await asyncio.sleep(0.3)  # the mirror's watch and the subscriber are in place
        (store.auth_dir / "claude-x@y.com.json").write_bytes(b'{"n": 1}')

        async def arrived() -> bool:
            return await backend.inner.read_auth("claude-x@y.com.json") == b'{"n": 1}'

        await eventually(arrived)
        change = await asyncio.wait_for(watch.seen.get(), 10)
        assert change == Change(ChangeKind.AUTH, "claude-x@y.com.json")

        (store.auth_dir / "claude-x@y.com.json").unlink()

        async def removed() -> bool:
            return await backend.inner.read_auth("claude-x@y.com.json") is None

        await eventually(removed)
        assert await asyncio.wait_for(watch.seen.get(), 10) == Change(
            ChangeKind.AUTH, "claude-x@y.com.json", deleted=True
        )
    finally:
        await watch.stop()
        await store.close()


async def test_own_writes_and_config_edits_are_not_sent_twice(tmp_path: Path) -> None:
    backend = FlakyStore(tmp_path / "remote")
    store = MirroredStore(backend, tmp_path / "local", tmp_path / "local" / "outbox")
    await store.start()
    try:
        await store.write_auth("a.json", b"v1")
        await store.write_config(b"port: 1\n")
        await asyncio.sleep(1.0)  # long enough for the mirror's watch to see both files
        assert backend.received == [("auth", "a.json", b"v1"), ("config", "", b"port: 1\n")]
        assert not await store.adopt_local(ChangeKind.CONFIG)

        store.config_path.write_bytes(b"port: 2\n")  # the watch leaves config to the gateway
        await asyncio.sleep(1.0)
        assert await backend.inner.read_config() == b"port: 1\n"
        assert await store.adopt_local(ChangeKind.CONFIG)
        assert await backend.inner.read_config() == b"port: 2\n"
        assert not await store.adopt_local(ChangeKind.CONFIG)
        assert len(backend.received) == 3
    finally:
        await store.close()
