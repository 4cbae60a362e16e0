"""Per-request usage records in PostgreSQL (asyncpg, imported only when this store is chosen).

One table, ``<schema>.aiproxyapi_usage``, created when missing. A writer task batches queued
records into one ``executemany`` each; while the server is unreachable the records wait in the
queue (bounded: beyond it the oldest are dropped, with a warning) and the writer retries with
backoff, so an outage never blocks or fails a request. A unique index on the request id makes
the retry of a batch whose COMMIT answer was lost land once. Only constants and the checked schema
name are spliced into SQL; values always travel as parameters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from typing import TYPE_CHECKING, Any

import msgspec

from aiproxyapi.usage.record import UsageRecord
from aiproxyapi.usage.records import (
    AGGREGATES,
    COLUMNS,
    DIMENSIONS,
    Breakdown,
    RecordStore,
    RecordsUnavailable,
    range_clause,
    record_of,
    row_of,
    tally_of,
)

if TYPE_CHECKING:
    import asyncpg

__all__ = ["PostgresRecords"]

log = logging.getLogger("aiproxyapi.usage")

_SCHEMA = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_PG_TYPES = {int: "bigint", float: "double precision", bool: "boolean", str: "text"}
_QUEUE_MAX = 100_000
_BATCH = 500


class PostgresRecords(RecordStore):
    """Records in ``<schema>.aiproxyapi_usage``, written in batches by one task."""

    def __init__(self, dsn: str, schema: str = "public") -> None:
        if not _SCHEMA.match(schema):
            raise ValueError(f"PGSTORE_SCHEMA {schema!r} is not a plain SQL identifier")
        self._dsn = dsn
        self._table = f'"{schema}".aiproxyapi_usage'
        self._schema = schema
        self._pool: asyncpg.Pool | None = None
        self._pending: deque[UsageRecord] = deque(maxlen=_QUEUE_MAX)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the writer; an unreachable server is retried by it, never fatal here."""
        try:
            await self._connected()
        except Exception as exc:
            log.warning("usage records: PostgreSQL not reachable yet (%s)", type(exc).__name__)
        self._task = asyncio.create_task(self._write_loop(), name="usage-records-pg")

    async def _connected(self) -> asyncpg.Pool:
        """The connection pool, created (with the table) on first use."""
        if self._pool is not None:
            return self._pool
        import asyncpg

        pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=4, timeout=10.0)
        types = {f.name: f.type for f in msgspec.structs.fields(UsageRecord)}
        columns = ", ".join(
            f"{name} {_PG_TYPES.get(types[name], 'double precision')}" for name in COLUMNS
        )
        try:
            async with pool.acquire() as connection:
                await connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
                await connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {self._table} ({columns}, day text NOT NULL)"
                )
                await connection.execute(
                    f"CREATE INDEX IF NOT EXISTS aiproxyapi_usage_day ON {self._table} (day)"
                )
                await self._unique_request_ids(connection)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        return pool

    async def _unique_request_ids(self, connection: asyncpg.Connection) -> None:
        """One row per request id, so a batch retried after a lost COMMIT answer lands once.

        Imported records carry no request id and are left out of the index. A table that
        already holds duplicates keeps working without it (and says so).
        """
        try:
            await connection.execute(
                "CREATE UNIQUE INDEX IF NOT EXISTS aiproxyapi_usage_request "
                f"ON {self._table} (request_id) WHERE request_id <> ''"
            )
        except Exception as exc:
            log.warning(
                "usage records: %s holds duplicate request ids, so a retried batch may be "
                "counted twice (%s)",
                self._table,
                type(exc).__name__,
            )

    def add(self, record: UsageRecord) -> None:
        """Queue a record for the writer task."""
        if len(self._pending) == self._pending.maxlen:
            log.warning("usage record queue full; dropping the oldest record")
        self._pending.append(record)
        self._idle.clear()
        self._wake.set()

    async def _write_loop(self) -> None:
        insert = (
            f"INSERT INTO {self._table} ({', '.join(COLUMNS)}, day) VALUES "  # noqa: S608
            f"({', '.join(f'${i}' for i in range(1, len(COLUMNS) + 2))}) ON CONFLICT DO NOTHING"
        )
        delay = 0.5
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = [self._pending[i] for i in range(min(_BATCH, len(self._pending)))]
                try:
                    pool = await self._connected()
                    async with pool.acquire() as connection:
                        await connection.executemany(insert, [row_of(r) for r in batch])
                except Exception as exc:
                    await self._back_off(exc, delay)
                    delay = min(delay * 2, 30.0)
                    continue
                delay = 0.5
                for _ in batch:
                    self._pending.popleft()
            self._idle.set()

    async def _back_off(self, exc: BaseException, delay: float) -> None:
        log.warning(
            "writing usage records to PostgreSQL failed (%s); %d queued, retrying in %.1fs",
            type(exc).__name__,
            len(self._pending),
            delay,
        )
        await asyncio.sleep(delay)

    async def flush(self, wait_seconds: float = 30.0) -> None:
        """Wait until the queue is written, at most ``wait_seconds``."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), wait_seconds)

    async def close(self) -> None:
        """Write what is queued (for a few seconds at most), stop the writer, close the pool."""
        await self.flush(wait_seconds=5.0)
        if self._pending:
            log.error("usage records: %d records not written to PostgreSQL", len(self._pending))
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def breakdown(self, start: str | None = None, end: str | None = None) -> Breakdown:
        """Grouped sums computed by the server."""
        try:
            return await self._breakdown(start, end)
        except Exception as exc:
            raise RecordsUnavailable(f"PostgreSQL is not answering ({type(exc).__name__})") from exc

    async def _breakdown(self, start: str | None, end: str | None) -> Breakdown:
        where, params = range_clause(start, end, mark="$")
        pool = await self._connected()
        async with pool.acquire() as connection:
            totals = tally_of(
                tuple(
                    await connection.fetchrow(
                        f"SELECT {AGGREGATES} FROM {self._table}{where}",  # noqa: S608
                        *params,
                    )
                )
            )
            groups: dict[str, dict[str, Any]] = {}
            for name, column in DIMENSIONS.items():
                rows = await connection.fetch(
                    f"SELECT {column}, {AGGREGATES} FROM {self._table}{where} "  # noqa: S608
                    f"GROUP BY {column} ORDER BY {column}",
                    *params,
                )
                groups[name] = {row[0]: tally_of(tuple(row)[1:]) for row in rows if row[0]}
        return Breakdown(from_day=start, to_day=end, totals=totals, **groups)

    async def fetch(
        self, start: str | None = None, end: str | None = None, *, limit: int = 100_000
    ) -> list[UsageRecord]:
        """Records of a range, oldest first."""
        try:
            return await self._fetch(start, end, limit)
        except Exception as exc:
            raise RecordsUnavailable(f"PostgreSQL is not answering ({type(exc).__name__})") from exc

    async def _fetch(self, start: str | None, end: str | None, limit: int) -> list[UsageRecord]:
        where, params = range_clause(start, end, mark="$")
        pool = await self._connected()
        async with pool.acquire() as connection:
            rows = await connection.fetch(
                f"SELECT {', '.join(COLUMNS)} FROM {self._table}{where} "  # noqa: S608
                f"ORDER BY timestamp LIMIT {int(limit)}",
                *params,
            )
        return [record_of(dict(row)) for row in rows]
