"""MirroredStore under backend outages: at start, mid-run, across a restart; no write lost.

Outages are simulated two ways: a wrapper backend that raises StoreUnavailable while switched
off (fast, deterministic), and the real PostgreSQL behind a TCP relay that is stopped and
started again (connections cut, then a closed port, then the same port back).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from pathlib import Path

import pytest

from storage.base import ChangeKind, Store, StoreError, StoreUnavailable
from storage.file import FileStore
from storage.mirror import MirroredStore, redact
from storage.postgres import PostgresStore
from tests.storage.backends import PG_DSN, drop_schema, require_postgres, unique_schema
from tests.storage.faults import FlakyStore, TcpRelay, closed_port, eventually, with_port


def mirrored(backend: Store, local: Path, **options: object) -> MirroredStore:
    return MirroredStore(
        backend,
        local,
        local / "outbox",
        retry_min=0.05,
        retry_max=0.2,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def flaky(tmp_path: Path) -> FlakyStore:
    return FlakyStore(tmp_path / "remote")


async def test_down_at_start_without_a_mirror_fails_clearly(
    flaky: FlakyStore, tmp_path: Path
) -> None:
    flaky.down = True
    store = mirrored(flaky, tmp_path / "local")
    with pytest.raises(StoreUnavailable, match="no local mirror"):
        await asyncio.wait_for(store.start(), 10)


async def test_down_at_start_with_a_mirror_starts_degraded_then_catches_up(
    flaky: FlakyStore, tmp_path: Path
) -> None:
    first = mirrored(flaky, tmp_path / "local")
    await first.start()
    await first.write_config(b"port: 1\n")
    await first.write_auth("a.json", b"v1")
    await first.close()

    flaky.down = True
    store = mirrored(flaky, tmp_path / "local")
    await asyncio.wait_for(store.start(), 10)
    try:
        assert store.health().state == "degraded"
        assert "switched off" in store.health().last_error
        assert await store.read_auth("a.json") == b"v1"
        await store.write_auth("a.json", b"v2")  # accepted locally while the backend is down
        assert store.health().queued == 1
        assert await flaky.inner.read_auth("a.json") == b"v1"

        flaky.down = False

        async def caught_up() -> bool:
            return store.health().state == "ok" and store.health().queued == 0

        await eventually(caught_up)
        assert await flaky.inner.read_auth("a.json") == b"v2"
    finally:
        await store.close()


async def test_outage_mid_run_queues_durably_and_flushes_in_order(
    flaky: FlakyStore, tmp_path: Path
) -> None:
    store = mirrored(flaky, tmp_path / "local")
    await store.start()
    await store.write_auth("a.json", b"v1")
    await store.write_auth("c.json", b"to delete")
    flaky.received.clear()

    flaky.down = True
    await store.write_auth("a.json", b"v2")
    await store.write_auth("b.json", b"b1")
    await store.write_auth("a.json", b"v3")
    await store.delete_auth("c.json")
    await store.write_state("usage", b"7")
    assert store.health().state == "degraded"
    assert store.health().queued == 4  # one entry per document: a, b, c, usage
    assert await store.read_auth("a.json") == b"v3"  # served locally
    assert await store.read_auth("c.json") is None

    # The queue survives a restart while the backend is still down.
    await store.close()
    store = mirrored(flaky, tmp_path / "local")
    await asyncio.wait_for(store.start(), 10)
    try:
        assert store.health().state == "degraded"
        assert store.health().queued == 4
        assert await store.read_auth("a.json") == b"v3"

        flaky.down = False

        async def flushed() -> bool:
            return store.health().queued == 0 and store.health().state == "ok"

        await eventually(flushed)
        assert flaky.received == [
            ("auth", "b.json", b"b1"),
            ("auth", "a.json", b"v3"),  # latest write per name, in write order
            ("auth", "c.json", None),
            ("state", "usage", b"7"),
        ]
        assert await flaky.inner.list_auth() == {"a.json": b"v3", "b.json": b"b1"}
        assert await flaky.inner.read_state("usage") == b"7"
    finally:
        await store.close()


async def test_a_queued_local_write_beats_a_remote_change(
    flaky: FlakyStore, tmp_path: Path
) -> None:
    store = mirrored(flaky, tmp_path / "local")
    await store.start()
    try:
        await store.write_auth("token.json", b"old")
        flaky.down = True
        await store.write_auth("token.json", b"refreshed locally")
        await flaky.inner.write_auth("token.json", b"edited remotely")
        flaky.down = False

        async def flushed() -> bool:
            return store.health().queued == 0 and store.health().state == "ok"

        await eventually(flushed)
        assert await store.read_auth("token.json") == b"refreshed locally"
        assert await flaky.inner.read_auth("token.json") == b"refreshed locally"
    finally:
        await store.close()


async def test_a_write_journaled_before_a_crash_is_sent_at_start(
    flaky: FlakyStore, tmp_path: Path
) -> None:
    store = mirrored(flaky, tmp_path / "local")
    await store.start()
    await store.write_auth("token.json", b"r1")
    await store.close()
    # A crash between the journal and the backend: the outbox and mirror hold r2, the backend r1.
    crashed = mirrored(flaky, tmp_path / "local")
    crashed.outbox.load()
    crashed.outbox.put(ChangeKind.AUTH, "token.json", b"r2")
    await crashed.mirror.write_auth("token.json", b"r2")

    store = mirrored(flaky, tmp_path / "local")
    await store.start()
    try:
        assert await flaky.inner.read_auth("token.json") == b"r2"
        assert await store.read_auth("token.json") == b"r2"  # never rolled back to r1
        assert store.health().queued == 0
    finally:
        await store.close()


async def test_the_queue_bound_drops_old_state_never_auth_records(
    flaky: FlakyStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = mirrored(flaky, tmp_path / "local", max_queued=3)
    await store.start()
    flaky.down = True
    try:
        await store.write_state("s1", b"1")
        await store.write_state("s2", b"2")
        await store.write_auth("a.json", b"a")
        with caplog.at_level(logging.WARNING, logger="aiproxyapi.storage"):
            await store.write_auth("b.json", b"b")
            await store.write_state("s3", b"3")
            await store.write_auth("c.json", b"c")
            await store.write_auth("d.json", b"d")  # no state left to drop: kept anyway
        queued = [(e.kind.value, e.name) for e in store.outbox.pending()]
        assert queued == [
            ("auth", "a.json"),
            ("auth", "b.json"),
            ("auth", "c.json"),
            ("auth", "d.json"),
        ]
        assert "dropped the queued write of state s1" in caplog.text
        assert await store.read_state("s1") == b"1"  # the mirror still has it
    finally:
        await store.close()


async def test_health_never_shows_credentials() -> None:
    text = redact(
        "connect to postgresql://app:hunter2@db:5432/x failed; password=hunter2 token=t0k"
    )
    assert "hunter2" not in text
    assert "t0k" not in text
    assert "db:5432" in text


async def test_real_postgres_down_at_start_without_a_mirror(tmp_path: Path) -> None:
    dsn = with_port(PG_DSN, closed_port(), password="hunter2")
    store = mirrored(PostgresStore(dsn, timeout=2), tmp_path / "local")
    with pytest.raises(StoreUnavailable) as caught:
        await asyncio.wait_for(store.start(), 10)
    message = str(caught.value)
    assert "postgres" in message
    assert "no local mirror" in message
    assert "hunter2" not in message


async def test_real_postgres_outage_mid_run(tmp_path: Path) -> None:
    await require_postgres()
    url = urllib.parse.urlsplit(PG_DSN)
    relay = TcpRelay((url.hostname or "127.0.0.1", url.port or 5432))
    await relay.start()
    schema = unique_schema()
    truth = PostgresStore(PG_DSN, schema)  # straight to the server, never cut

    def open_store() -> MirroredStore:
        backend = PostgresStore(with_port(PG_DSN, relay.port), schema, timeout=2)
        return mirrored(backend, tmp_path / "local")

    store = open_store()
    try:
        await store.start()
        await store.write_auth("a.json", b"v1")
        await store.write_auth("c.json", b"doomed")
        assert await truth.read_auth("a.json") == b"v1"

        await relay.stop()
        async with asyncio.timeout(10):  # bounded by the backend timeout, then queued
            await store.write_auth("a.json", b"v2")
            await store.write_auth("b.json", b"b1")
            await store.delete_auth("c.json")
        assert store.health().state == "degraded"
        assert store.health().queued == 3

        await store.close()  # restart while PostgreSQL is still unreachable
        store = open_store()
        await asyncio.wait_for(store.start(), 15)
        assert store.health().state == "degraded"
        assert store.health().queued == 3
        await store.write_auth("a.json", b"v3")
        assert await store.read_auth("a.json") == b"v3"

        await relay.start()  # the same port again

        async def flushed() -> bool:
            return store.health().queued == 0 and store.health().state == "ok"

        await eventually(flushed, within=20)
        assert await truth.list_auth() == {"a.json": b"v3", "b.json": b"b1"}
    finally:
        await store.close()
        await truth.close()
        await relay.stop()
        await drop_schema(schema)


async def test_an_empty_backend_is_seeded_from_the_local_files(
    flaky: FlakyStore, tmp_path: Path
) -> None:
    local = FileStore(tmp_path / "auth-dir", tmp_path / "config.yaml")
    await local.start()
    await local.write_config(b"port: 8317\n")
    await local.write_auth("claude-a@b.com.json", b'{"type": "claude"}')
    await local.write_state("usage", b"{}")

    store = mirrored(flaky, tmp_path / "mirror", seed=local)
    await store.start()
    try:
        assert await flaky.inner.read_config() == b"port: 8317\n"
        assert await flaky.inner.list_auth() == {"claude-a@b.com.json": b'{"type": "claude"}'}
        assert await flaky.inner.read_state("usage") == b"{}"
        assert await store.read_config() == b"port: 8317\n"  # and the mirror has it all
        assert (store.auth_dir / "claude-a@b.com.json").read_bytes() == b'{"type": "claude"}'
    finally:
        await store.close()


async def test_a_wiped_backend_is_seeded_again_from_the_mirror(tmp_path: Path) -> None:
    first = mirrored(FlakyStore(tmp_path / "remote-1"), tmp_path / "mirror")
    await first.start()
    await first.write_auth("a.json", b"kept")
    await first.close()

    fresh = FlakyStore(tmp_path / "remote-2")  # an empty backend, same mirror
    store = mirrored(fresh, tmp_path / "mirror")
    await store.start()
    try:
        assert await fresh.inner.list_auth() == {"a.json": b"kept"}
    finally:
        await store.close()


async def test_a_non_empty_backend_wins_over_the_mirror_at_start(
    flaky: FlakyStore, tmp_path: Path
) -> None:
    first = mirrored(flaky, tmp_path / "mirror")
    await first.start()
    await first.write_auth("a.json", b"old")
    await first.write_auth("b.json", b"removed elsewhere")
    await first.close()
    await flaky.inner.write_auth("a.json", b"newer elsewhere")
    await flaky.inner.delete_auth("b.json")

    store = mirrored(flaky, tmp_path / "mirror")
    await store.start()
    try:
        assert await store.list_auth() == {"a.json": b"newer elsewhere"}
    finally:
        await store.close()


async def test_a_state_document_missing_locally_is_fetched(
    flaky: FlakyStore, tmp_path: Path
) -> None:
    await flaky.inner.start()
    await flaky.inner.write_auth("a.json", b"{}")
    await flaky.inner.write_state("cooldowns", b"[]")
    store = mirrored(flaky, tmp_path / "mirror")
    await store.start()
    try:
        assert await store.read_state("cooldowns") == b"[]"
        assert await store.read_state("never-written") is None
    finally:
        await store.close()


async def test_a_failing_local_disk_reports_down(
    flaky: FlakyStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = mirrored(flaky, tmp_path / "mirror")
    await store.start()
    try:

        def full(*_args: object, **_kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(store.outbox, "put", full)
        with pytest.raises(StoreError, match="No space left"):
            await store.write_auth("a.json", b"{}")
        assert store.health().state == "down"
        monkeypatch.undo()
        await store.write_auth("a.json", b"{}")
        assert store.health().state == "ok"
    finally:
        await store.close()
