"""What only one backend has to get right: file modes and links, PostgreSQL timeouts and
reconnecting its LISTEN connection without missing what changed in the gap."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.base import Change, StoreError, StoreUnavailable
from storage.file import FileStore
from storage.postgres import PostgresStore, describe_dsn
from tests.storage.backends import PG_DSN, drop_schema, require_postgres, unique_schema
from tests.storage.contract import ChangeWatch

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX modes and links")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
async def files(tmp_path: Path) -> AsyncIterator[FileStore]:
    store = FileStore(tmp_path / "home" / "auths", tmp_path / "home" / "config.yaml")
    await store.start()
    yield store
    await store.close()


@posix_only
@pytest.mark.invariant(7)
async def test_files_are_0600_and_new_directories_0700(files: FileStore) -> None:
    old = os.umask(0o022)
    try:
        await files.write_auth("a.json", b"{}")
        await files.write_state("usage", b"1")
        await files.write_config(b"port: 1\n")
    finally:
        os.umask(old)
    assert _mode(files.auth_dir / "a.json") == 0o600
    assert _mode(files.state_dir / "usage") == 0o600
    assert _mode(files.config_path) == 0o600
    assert _mode(files.auth_dir) == 0o700
    assert _mode(files.state_dir) == 0o700
    assert _mode(files.auth_dir.parent) == 0o700


@posix_only
async def test_links_temps_and_directories_are_not_records(
    files: FileStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"secret": 1}')
    (files.auth_dir / "link.json").symlink_to(outside)
    (files.auth_dir / ".a.json.tmp-0123456789ab").write_bytes(b"half")
    (files.auth_dir / "subdir").mkdir()
    await files.write_auth("real.json", b"{}")
    assert await files.list_auth() == {"real.json": b"{}"}
    with pytest.raises(StoreError, match="symbolic link"):
        await files.read_auth("link.json")


@pytest.mark.invariant(7)
async def test_start_sweeps_temps_a_crash_left(tmp_path: Path) -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir()
    (auth_dir / ".a.json.tmp-0123456789ab").write_bytes(b"half")
    store = FileStore(auth_dir, tmp_path / "config.yaml")
    await store.start()
    assert sorted(p.name for p in auth_dir.iterdir()) == [".state"]
    await store.close()


async def test_a_config_inside_the_auth_dir_is_not_an_account(tmp_path: Path) -> None:
    store = FileStore(tmp_path, tmp_path / "config.yaml")
    await store.start()
    await store.write_config(b"port: 1\n")
    assert await store.list_auth() == {}
    with pytest.raises(StoreError, match="config file"):
        await store.write_auth("config.yaml", b"x")
    await store.close()


def test_describe_dsn_never_shows_a_password() -> None:
    assert (
        describe_dsn("postgresql://u:pw@db:5433/gw?sslmode=require") == "host db:5433, database gw"
    )
    assert describe_dsn("host=db port=5432 dbname=gw password=pw") == "host db:5432, database gw"
    assert describe_dsn("postgres://db") == "host db, database (default)"


def test_a_schema_must_be_a_plain_identifier() -> None:
    with pytest.raises(StoreError, match="PGSTORE_SCHEMA"):
        PostgresStore(PG_DSN, 'x"; DROP TABLE y; --')


@pytest.mark.invariant(13)
async def test_a_silent_server_times_out_within_the_bound() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept, then never answer

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = PostgresStore(f"postgresql://127.0.0.1:{port}/test", timeout=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(StoreUnavailable, match=r"did not answer within 0\.5s"):
            await store.read_auth("a.json")
        assert loop.time() - started < 3
    finally:
        await store.close()
        for writer in accepted:
            writer.transport.abort()
        server.close()
        await server.wait_closed()


async def test_listen_reconnects_and_reports_what_changed_in_the_gap() -> None:
    import asyncpg

    await require_postgres()
    schema = unique_schema()
    watched, writer = PostgresStore(PG_DSN, schema), PostgresStore(PG_DSN, schema)
    admin = await asyncpg.connect(PG_DSN, timeout=5)
    watch: ChangeWatch | None = None
    try:
        await watched.start()
        await writer.write_auth("x.json", b"1")
        watch = ChangeWatch(watched)

        async def probe(n: int) -> None:
            await writer.write_auth("probe.json", str(n).encode())

        await watch.expect(lambda c: c.name == "probe.json", act=probe)
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE pid <> pg_backend_pid() AND query LIKE '%md5(content)%' AND query LIKE $1",
            f'%"{schema}"%',
        )
        assert killed == 1
        await writer.write_auth("z.json", b"new")  # while the listener is away
        await writer.delete_auth("x.json")

        async def nothing(_n: int) -> None:
            return None

        missing = {("z.json", False), ("x.json", True)}  # in whatever order they come

        def all_seen(change: Change) -> bool:
            missing.discard((change.name, change.deleted))
            return not missing

        await watch.expect(all_seen, act=nothing)
    finally:
        if watch is not None:
            await watch.stop()
        await watched.close()
        await writer.close()
        await admin.close()
        await drop_schema(schema)
