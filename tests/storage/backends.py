"""The backends the storage contract suite runs against, by name.

A factory is an async context manager: given the test's ``tmp_path`` it sets up one shared
backend, yields an *opener* (a callable building a new, unstarted Store on that backend: one
more gateway instance) and tears the backend down afterwards.

Adding a backend is a five-line change here, e.g. for Git::

    @asynccontextmanager
    async def git_backend(tmp_path: Path) -> AsyncIterator[Opener]:
        remote = await make_bare_repo(tmp_path / "remote.git")  # the shared backend
        yield lambda: GitStore(str(remote), local_path=fresh_dir(tmp_path))
    BACKENDS["git"] = git_backend

and every contract test then runs against it too (``tests/storage/test_contract.py``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from storage.base import Store
from storage.crypto import EncryptedStore
from storage.file import FileStore
from storage.mirror import MirroredStore
from storage.postgres import PostgresStore

__all__ = [
    "BACKENDS",
    "PG_DSN",
    "Opener",
    "drop_schema",
    "fresh_dir",
    "new_key",
    "require_postgres",
    "unique_schema",
]

Opener = Callable[[], Store]
Factory = Callable[[Path], AbstractAsyncContextManager[Opener]]

#: The test server: trust auth on 127.0.0.1, database ``test`` (override for other setups).
PG_DSN = os.environ.get("AIPROXYAPI_TEST_PG_DSN", "postgresql://127.0.0.1:5432/test")
_counter = itertools.count()
_pg_up: bool | None = None


def fresh_dir(tmp_path: Path) -> Path:
    """A new directory under ``tmp_path`` for one more instance's local files."""
    return tmp_path / f"instance-{next(_counter)}"


async def _reachable() -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(PG_DSN, timeout=3)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


async def require_postgres() -> None:
    """Skip when the test server is down; fail loudly instead when running in CI."""
    global _pg_up  # noqa: PLW0603 - one probe per test session
    if _pg_up is None:
        _pg_up = await _reachable()
    if not _pg_up:
        message = f"PostgreSQL is not reachable at {PG_DSN}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}, but CI must provide it (see .ci/run)")
        pytest.skip(message)


def unique_schema() -> str:
    """A schema name no other test uses."""
    return f"t_{secrets.token_hex(6)}"


async def drop_schema(schema: str) -> None:
    """Remove a test's schema and its tables."""
    import asyncpg

    conn = await asyncpg.connect(PG_DSN, timeout=5)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def new_key() -> bytes:
    """A fresh 32-byte store key."""
    return secrets.token_bytes(32)


@asynccontextmanager
async def file_backend(tmp_path: Path) -> AsyncIterator[Opener]:
    """Two FileStores on one directory are two gateways sharing a disk."""
    yield lambda: FileStore(tmp_path / "auths", tmp_path / "config" / "config.yaml")


@asynccontextmanager
async def encrypted_file_backend(tmp_path: Path) -> AsyncIterator[Opener]:
    """The encryption wrapper over files (the wrapper is what is under test)."""
    key = new_key()
    yield lambda: EncryptedStore(
        FileStore(tmp_path / "auths", tmp_path / "config" / "config.yaml"), key
    )


@asynccontextmanager
async def postgres_backend(tmp_path: Path) -> AsyncIterator[Opener]:
    """The real PostgreSQL server, one schema per test."""
    await require_postgres()
    schema = unique_schema()
    try:
        yield lambda: PostgresStore(PG_DSN, schema, timeout=5)
    finally:
        await asyncio.wait_for(drop_schema(schema), 10)


@asynccontextmanager
async def mirrored_postgres_backend(tmp_path: Path) -> AsyncIterator[Opener]:
    """What the gateway runs with PostgreSQL: a mirror and an outbox per instance."""
    async with postgres_backend(tmp_path) as open_backend:

        def opener() -> Store:
            local = fresh_dir(tmp_path)
            return MirroredStore(
                open_backend(), local, local / "outbox", retry_min=0.05, retry_max=0.5
            )

        yield opener


@asynccontextmanager
async def git_backend(tmp_path: Path) -> AsyncIterator[Opener]:
    """A bare repository in tmp_path; each instance its own working clone."""
    from storage.git import GitStore

    remote = tmp_path / "remote.git"
    await asyncio.to_thread(
        subprocess.run, ["git", "init", "-q", "--bare", str(remote)], check=True, timeout=30
    )
    yield lambda: GitStore(
        str(remote), local_path=fresh_dir(tmp_path), timeout=10, poll_interval=0.2
    )


@asynccontextmanager
async def s3_backend(tmp_path: Path) -> AsyncIterator[Opener]:
    """moto's S3 server on a free 127.0.0.1 port, one fresh bucket."""
    from moto.server import ThreadedMotoServer

    from storage.s3 import S3Store

    server = ThreadedMotoServer("127.0.0.1", port=0, verbose=False)
    await asyncio.to_thread(server.start)
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    bucket = unique_schema().replace("_", "-")
    try:
        yield lambda: S3Store(
            endpoint, bucket, access_key="test", secret_key="test", timeout=5, poll_interval=0.2
        )
    finally:
        await asyncio.to_thread(server.stop)


#: Every backend the contract suite runs against.
BACKENDS: dict[str, Factory] = {
    "file": file_backend,
    "encrypted-file": encrypted_file_backend,
    "postgres": postgres_backend,
    "mirrored-postgres": mirrored_postgres_backend,
}
BACKENDS["git"] = git_backend
BACKENDS["s3"] = s3_backend
