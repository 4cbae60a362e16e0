"""The PostgreSQL backend (asyncpg, imported only when this backend is used).

Three tables in the configured schema, created when missing (under an advisory lock, so two
instances starting together do not race): ``aiproxyapi_config(id, content, updated_at)`` with
one row ``id = 'config'``, ``aiproxyapi_auth(name, content, updated_at)`` and
``aiproxyapi_state(key, content, updated_at)``; ``content`` is ``bytea`` (encryption, when on,
happens above this module). Every write is one statement that upserts (or deletes) the row and
calls ``pg_notify`` in the same implicit transaction, so the notification goes out exactly when
the row is committed. Channel ``aiproxyapi_changes``; payload ``<schema>/<kind>:<name>`` with
``:deleted`` appended for a removal (the schema prefix lets several gateways share one database
with a schema each). ``changes()`` LISTENs on a dedicated connection, pings it while idle,
reconnects with backoff, and after a reconnect reports every row that differs from what it knew,
so nothing done during the gap is missed (deletions included).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.parse
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from storage.base import Change, ChangeKind, Store, StoreError, StoreUnavailable, check_name

if TYPE_CHECKING:
    import asyncpg

__all__ = ["CHANNEL", "PostgresStore", "describe_dsn"]

CHANNEL = "aiproxyapi_changes"
_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_RETRYABLE_SQLSTATE = ("08", "40", "53", "57", "58")  # connection, rollback, resources, shutdown
_CLOSE = object()
_KEEPALIVE = 15.0
_QUEUE_MAX = 10_000
T = TypeVar("T")

# Every statement; ``__schema__`` stands for the quoted schema (checked against _SCHEMA),
# the only text ever spliced into SQL. Values always travel as parameters.
_SQL = {
    "create_table": "CREATE TABLE IF NOT EXISTS __schema__.aiproxyapi_{t} ({k} text PRIMARY KEY, "
    "content bytea NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())",
    "read_config": "SELECT content FROM __schema__.aiproxyapi_config WHERE id = 'config'",
    "list_auth": "SELECT name, content FROM __schema__.aiproxyapi_auth",
    "read_auth": "SELECT content FROM __schema__.aiproxyapi_auth WHERE name = $1",
    "read_state": "SELECT content FROM __schema__.aiproxyapi_state WHERE key = $1",
    "write_config": "INSERT INTO __schema__.aiproxyapi_config (id, content) VALUES ($2, $3) ON CONFLICT (id) "
    "DO UPDATE SET content = EXCLUDED.content, updated_at = now()",
    "write_auth": "INSERT INTO __schema__.aiproxyapi_auth (name, content) VALUES ($2, $3) ON CONFLICT (name) "
    "DO UPDATE SET content = EXCLUDED.content, updated_at = now()",
    "write_state": "INSERT INTO __schema__.aiproxyapi_state (key, content) VALUES ($2, $3) ON CONFLICT (key) "
    "DO UPDATE SET content = EXCLUDED.content, updated_at = now()",
    "delete_auth": "DELETE FROM __schema__.aiproxyapi_auth WHERE name = $2",
    "versions": "SELECT 'config', '', md5(content) FROM __schema__.aiproxyapi_config "
    "UNION ALL SELECT 'auth', name, md5(content) FROM __schema__.aiproxyapi_auth "
    "UNION ALL SELECT 'state', key, md5(content) FROM __schema__.aiproxyapi_state",
}
# A write and its notification in one statement, hence one implicit transaction.
_NOTIFY = "WITH w AS (STATEMENT RETURNING 1) SELECT pg_notify('aiproxyapi_changes', $1) FROM w"


def describe_dsn(dsn: str) -> str:
    """``host H:P, database D`` for logs: a DSN's password never leaves this function."""
    if "://" in dsn:
        url = urllib.parse.urlsplit(dsn)
        host, port, database = url.hostname or "localhost", url.port, url.path.lstrip("/")
    else:  # libpq keyword form: host=... port=... dbname=...
        pairs = dict(re.findall(r"(\w+)\s*=\s*'?([^\s']*)'?", dsn))
        host, port, database = (
            pairs.get("host", "localhost"),
            pairs.get("port"),
            pairs.get("dbname", ""),
        )
    where = f"{host}:{port}" if port else host
    return f"host {where}, database {database or '(default)'}"


def _is_retryable(exc: BaseException) -> bool:
    import asyncpg

    if isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError):
        return True
    return str(getattr(exc, "sqlstate", "") or "")[:2] in _RETRYABLE_SQLSTATE


class PostgresStore(Store):
    """Config, auth records and state in three PostgreSQL tables, with LISTEN/NOTIFY changes."""

    kind = "postgres"

    def __init__(self, dsn: str, schema: str = "public", *, timeout: float = 5.0) -> None:
        if not _SCHEMA.match(schema):
            raise StoreError(f"PGSTORE_SCHEMA {schema[:80]!r} is not a plain SQL identifier")
        self._dsn = dsn
        self.schema = schema
        self.timeout = timeout
        self.description = f"postgres ({describe_dsn(dsn)}, schema {schema})"
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._closed_event = asyncio.Event()
        self._queues: set[asyncio.Queue[object]] = set()
        self._sql = {name: sql.replace("__schema__", f'"{schema}"') for name, sql in _SQL.items()}

    async def _bounded(self, what: str, call: Awaitable[T]) -> T:
        """Run ``call`` within the timeout; connection trouble becomes StoreUnavailable."""
        try:
            async with asyncio.timeout(self.timeout):
                return await call
        except StoreError:
            raise
        except TimeoutError as exc:
            msg = f"{self.description} did not answer within {self.timeout:g}s ({what})"
            raise StoreUnavailable(msg) from exc
        except Exception as exc:
            detail = f"{self.description}: {what} failed: {type(exc).__name__}: {exc}"
            if _is_retryable(exc):
                raise StoreUnavailable(detail) from exc
            raise StoreError(detail) from exc

    async def start(self) -> None:
        """Connect and create the schema and tables when missing."""
        await self._ready()

    async def _ready(self) -> asyncpg.Pool:
        if self._closed:
            raise StoreError(f"{self.description} is closed")
        async with self._lock:
            if self._pool is None:
                self._pool = await self._bounded("connecting", self._open_pool())
            return self._pool

    async def _open_pool(self) -> asyncpg.Pool:
        import asyncpg

        pool = await asyncpg.create_pool(
            self._dsn, min_size=0, max_size=4, timeout=self.timeout, command_timeout=self.timeout
        )
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext($1))", f"aiproxyapi:{self.schema}"
                )
                if not await conn.fetchval(
                    "SELECT 1 FROM pg_namespace WHERE nspname = $1", self.schema
                ):
                    await conn.execute(f'CREATE SCHEMA "{self.schema}"')
                for table, key in (("config", "id"), ("auth", "name"), ("state", "key")):
                    await conn.execute(self._sql["create_table"].format(t=table, k=key))
        except BaseException:
            pool.terminate()
            raise
        return pool

    async def close(self) -> None:
        """Close the pool and end every ``changes()`` iterator."""
        self._closed = True
        self._closed_event.set()
        for queue in self._queues:
            queue.put_nowait(_CLOSE)
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), self.timeout)
            except (TimeoutError, OSError):
                pool.terminate()

    async def _fetch(self, what: str, sql: str, *args: Any) -> list[Any]:
        pool = await self._ready()
        return await self._bounded(what, pool.fetch(sql, *args))

    async def _write(self, what: str, change: Change, *args: Any) -> None:
        """Run one write statement; its notification goes out when it commits."""
        statement = "delete_auth" if change.deleted else f"write_{change.kind.value}"
        payload = f"{self.schema}/{change.kind.value}:{change.name}"
        payload += ":deleted" if change.deleted else ""
        sql = _NOTIFY.replace("STATEMENT", self._sql[statement])
        await self._fetch(what, sql, payload, *args)

    async def read_config(self) -> bytes | None:
        """The config row's content, or None."""
        rows = await self._fetch("reading config", self._sql["read_config"])
        return bytes(rows[0][0]) if rows else None

    async def write_config(self, data: bytes) -> None:
        """Upsert the config row."""
        await self._write("writing config", Change(ChangeKind.CONFIG), "config", data)

    async def list_auth(self) -> dict[str, bytes]:
        """Every auth row."""
        rows = await self._fetch("listing auth records", self._sql["list_auth"])
        return {row[0]: bytes(row[1]) for row in rows}

    async def read_auth(self, name: str) -> bytes | None:
        """One auth row's content, or None."""
        rows = await self._fetch(f"reading auth {check_name(name)}", self._sql["read_auth"], name)
        return bytes(rows[0][0]) if rows else None

    async def write_auth(self, name: str, data: bytes) -> None:
        """Upsert one auth row."""
        await self._write(
            f"writing auth {check_name(name)}", Change(ChangeKind.AUTH, name), name, data
        )

    async def delete_auth(self, name: str) -> None:
        """Delete one auth row (no error when there is none)."""
        change = Change(ChangeKind.AUTH, check_name(name), deleted=True)
        await self._write(f"deleting auth {name}", change, name)

    async def read_state(self, key: str) -> bytes | None:
        """One state row's content, or None."""
        rows = await self._fetch(f"reading state {check_name(key)}", self._sql["read_state"], key)
        return bytes(rows[0][0]) if rows else None

    async def write_state(self, key: str, data: bytes) -> None:
        """Upsert one state row."""
        await self._write(
            f"writing state {check_name(key)}", Change(ChangeKind.STATE, key), key, data
        )

    def _parse(self, payload: str) -> Change | None:
        schema, _, rest = payload.partition("/")
        kind, _, rest = rest.partition(":")
        name, _, flag = rest.partition(":")
        if schema != self.schema or kind not in {k.value for k in ChangeKind}:
            return None
        return Change(ChangeKind(kind), name, deleted=flag == "deleted")

    async def _versions(self, conn: asyncpg.Connection) -> dict[tuple[str, str], str]:
        rows = await self._bounded("reading versions", conn.fetch(self._sql["versions"]))
        return {(row[0], row[1]): row[2] for row in rows}

    async def changes(self) -> AsyncIterator[Change]:
        """Notifications from every writer; after a reconnect, what changed during the gap."""
        known: dict[tuple[str, str], str] | None = None
        backoff = 0.5
        while not self._closed:
            listened = False
            try:
                async for change in self._listen(known):
                    if isinstance(change, dict):
                        known, listened = change, True
                    else:
                        yield change
            except StoreError:
                pass  # down or dropped: reconnect after the backoff
            backoff = 0.5 if listened else min(backoff * 2, 30.0)
            if not self._closed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed_event.wait(), backoff)

    async def _listen(
        self, known: dict[tuple[str, str], str] | None
    ) -> AsyncIterator[Change | dict[tuple[str, str], str]]:
        """One LISTEN connection's life: the gap's changes, the version map, then notifications."""
        import asyncpg

        await self._ready()
        queue: asyncio.Queue[object] = asyncio.Queue(maxsize=_QUEUE_MAX)

        def push(item: object) -> None:
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:  # the reader fell behind: resync through a reconnect
                queue.get_nowait()
                queue.put_nowait(None)

        conn = await self._bounded("listening", asyncpg.connect(self._dsn, timeout=self.timeout))
        self._queues.add(queue)
        try:
            await self._bounded("listening", conn.add_listener(CHANNEL, lambda *a: push(a[3])))
            conn.add_termination_listener(lambda _conn: push(None))
            current = await self._versions(conn)
            if known is not None:
                for key in sorted(known.keys() | current.keys()):
                    if key not in current or known.get(key) != current[key]:
                        yield Change(ChangeKind(key[0]), key[1], deleted=key not in current)
            known = dict(current)
            yield known
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), _KEEPALIVE)
                except TimeoutError:
                    await self._bounded("keepalive", conn.fetchval("SELECT 1"))
                    continue
                if item is _CLOSE or item is None:
                    return
                change = self._parse(str(item))
                if change is not None:
                    key = (change.kind.value, change.name)
                    if change.deleted:
                        known.pop(key, None)
                    else:
                        known[key] = ""  # version unknown: compared as changed after a gap
                    yield change
        finally:
            self._queues.discard(queue)
            conn.terminate()
