"""Per-request usage records: one row per finished request, queried by date range.

The in-memory book keeps running totals; this keeps every record, so totals and breakdowns
(by client key label, model, provider, credential and UTC day) can be asked for any range and
survive restarts. :class:`RecordStore` is the contract; :class:`SqliteRecords` (standard
library, WAL, one writer thread that batches) is the default under the auth-dir, and
:mod:`aiproxyapi.usage.records_pg` keeps them in PostgreSQL when that is the store.
``add`` never blocks the event loop. Rows hold labels only, never a key. Only constants are
spliced into SQL; values always travel as parameters.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from aiproxyapi.usage.aggregate import Tally, day_key
from aiproxyapi.usage.record import UsageRecord

__all__ = [
    "AGGREGATES",
    "COLUMNS",
    "DIMENSIONS",
    "Breakdown",
    "RecordStore",
    "RecordsUnavailable",
    "SqliteRecords",
    "range_clause",
    "record_of",
    "records_for",
    "row_of",
    "tally_of",
]

log = logging.getLogger("aiproxyapi.usage")

COLUMNS: tuple[str, ...] = tuple(f.name for f in msgspec.structs.fields(UsageRecord))
"""Every record field, in declaration order: the table's columns besides ``day``."""

DIMENSIONS: dict[str, str] = {
    "by_client": "client",
    "by_model": "requested_model",
    "by_provider": "provider",
    "by_credential": "credential",
    "by_day": "day",
}
"""Breakdown name -> the column it groups by."""

AGGREGATES = (
    "COUNT(*), SUM(CASE WHEN failed THEN 0 ELSE 1 END), SUM(CASE WHEN failed THEN 1 ELSE 0 END), "
    "SUM(input_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cached_tokens), "
    "SUM(total_tokens), SUM(latency_ms), SUM(cost_usd)"
)
"""The select list that :func:`tally_of` reads back, for SQLite and PostgreSQL alike."""
_BATCH = 500


class RecordsUnavailable(Exception):
    """The record store cannot be read now (its server is unreachable); the message says why."""


class Breakdown(msgspec.Struct, frozen=True, kw_only=True):
    """Totals and per-dimension tallies of the records within a UTC day range (inclusive)."""

    from_day: str | None = None
    to_day: str | None = None
    totals: Tally = msgspec.field(default_factory=Tally)
    by_client: dict[str, Tally] = msgspec.field(default_factory=dict)
    by_model: dict[str, Tally] = msgspec.field(default_factory=dict)
    by_provider: dict[str, Tally] = msgspec.field(default_factory=dict)
    by_credential: dict[str, Tally] = msgspec.field(default_factory=dict)
    by_day: dict[str, Tally] = msgspec.field(default_factory=dict)


def tally_of(row: tuple[Any, ...]) -> Tally:
    """A tally from the columns of :data:`AGGREGATES`, in order."""
    count, ok, failed, inp, out, reasoning, cached, total, latency, cost = row
    return Tally(
        requests=int(count or 0),
        successes=int(ok or 0),
        failures=int(failed or 0),
        input_tokens=int(inp or 0),
        output_tokens=int(out or 0),
        reasoning_tokens=int(reasoning or 0),
        cached_tokens=int(cached or 0),
        total_tokens=int(total or 0),
        latency_ms_total=float(latency or 0.0),
        cost_usd=float(cost or 0.0),
    )


def row_of(record: UsageRecord) -> tuple[Any, ...]:
    """A record as table values: its fields in :data:`COLUMNS` order, then its UTC day."""
    return (*(getattr(record, name) for name in COLUMNS), day_key(record.timestamp))


def record_of(values: Mapping[str, Any]) -> UsageRecord:
    """A record back from a table row."""
    return msgspec.convert({name: values[name] for name in COLUMNS}, UsageRecord, strict=False)


class RecordStore(abc.ABC):
    """Where per-request records go; used from one event loop."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Open the store (create the table when missing)."""

    @abc.abstractmethod
    def add(self, record: UsageRecord) -> None:
        """Queue one record for writing; never blocks, never raises."""

    @abc.abstractmethod
    async def flush(self, wait_seconds: float = 30.0) -> None:
        """Wait (at most ``wait_seconds``) until every record added so far is written."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Write what is queued, then release the store."""

    @abc.abstractmethod
    async def breakdown(self, start: str | None = None, end: str | None = None) -> Breakdown:
        """Totals and breakdowns of the records from day ``start`` to ``end`` (inclusive)."""

    @abc.abstractmethod
    async def fetch(
        self, start: str | None = None, end: str | None = None, *, limit: int = 100_000
    ) -> list[UsageRecord]:
        """The records of a day range, oldest first, at most ``limit``."""


def range_clause(start: str | None, end: str | None, mark: str = "?") -> tuple[str, list[str]]:
    """The WHERE clause of a day range and its parameters (``mark`` is ``?`` or ``$``)."""
    parts, params = [], []
    for op, value in ((">=", start), ("<=", end)):
        if value:
            params.append(value)
            placeholder = "?" if mark == "?" else f"${len(params)}"
            parts.append(f"day {op} {placeholder}")
    return (" WHERE " + " AND ".join(parts) if parts else ""), params


_SQLITE_TYPES = {int: "INTEGER", float: "REAL", bool: "INTEGER", str: "TEXT"}


class SqliteRecords(RecordStore):
    """Records in a SQLite file (WAL): a writer thread batches inserts, reads use a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[UsageRecord | threading.Event | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    async def start(self) -> None:
        """Create the file (0600) and table, then start the writer thread."""
        try:
            await asyncio.to_thread(self._create)
        except (OSError, sqlite3.Error) as exc:
            # Usage records are worth a loud log, not a gateway that refuses to start.
            log.error("usage records disabled: cannot open %s: %s", self.path, exc)
            return
        self._writer = threading.Thread(target=self._write_loop, name="usage-records", daemon=True)
        self._writer.start()

    def _create(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        types = {f.name: f.type for f in msgspec.structs.fields(UsageRecord)}
        columns = ", ".join(f"{name} {_SQLITE_TYPES.get(types[name], 'REAL')}" for name in COLUMNS)
        with self._connect() as connection:
            connection.execute(f"CREATE TABLE IF NOT EXISTS usage_records ({columns}, day TEXT)")
            connection.execute("CREATE INDEX IF NOT EXISTS usage_records_day ON usage_records(day)")
        connection.close()

    def add(self, record: UsageRecord) -> None:
        """Queue a record for the writer thread."""
        if self._writer is not None:
            self._queue.put(record)

    def _write_loop(self) -> None:
        connection = self._connect()
        insert = (
            f"INSERT INTO usage_records ({', '.join(COLUMNS)}, day) "  # noqa: S608
            f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"
        )
        stopping = False
        while not stopping:
            batch: list[tuple[Any, ...]] = []
            waiters: list[threading.Event] = []
            item = self._queue.get()
            while True:
                if item is None:
                    stopping = True
                elif isinstance(item, threading.Event):
                    waiters.append(item)
                else:
                    batch.append(row_of(item))
                if stopping or len(batch) >= _BATCH or self._queue.empty():
                    break
                item = self._queue.get()
            if batch:
                try:
                    with connection:
                        connection.executemany(insert, batch)
                except sqlite3.Error as exc:
                    log.error(
                        "writing %d usage records to %s failed: %s", len(batch), self.path, exc
                    )
            for waiter in waiters:
                waiter.set()
        connection.close()

    async def flush(self, wait_seconds: float = 30.0) -> None:
        """Wait for the writer to reach everything queued so far."""
        if self._writer is None or not self._writer.is_alive():
            return
        done = threading.Event()
        self._queue.put(done)
        await asyncio.to_thread(done.wait, wait_seconds)

    async def close(self) -> None:
        """Drain the queue and stop the writer."""
        writer, self._writer = self._writer, None
        if writer is not None and writer.is_alive():
            self._queue.put(None)
            await asyncio.to_thread(writer.join, 30.0)

    async def breakdown(self, start: str | None = None, end: str | None = None) -> Breakdown:
        """Grouped sums, computed by SQLite in a worker thread."""
        if self._writer is None:
            return Breakdown(from_day=start, to_day=end)
        return await asyncio.to_thread(self._breakdown, start, end)

    def _breakdown(self, start: str | None, end: str | None) -> Breakdown:
        where, params = range_clause(start, end)
        connection = self._connect()
        try:
            totals = tally_of(
                connection.execute(
                    f"SELECT {AGGREGATES} FROM usage_records{where}",  # noqa: S608
                    params,
                ).fetchone()
            )
            groups: dict[str, dict[str, Tally]] = {}
            for name, column in DIMENSIONS.items():
                rows = connection.execute(
                    f"SELECT {column}, {AGGREGATES} FROM usage_records{where} "  # noqa: S608
                    f"GROUP BY {column} ORDER BY {column}",
                    params,
                ).fetchall()
                groups[name] = {row[0]: tally_of(row[1:]) for row in rows if row[0]}
        finally:
            connection.close()
        return Breakdown(from_day=start, to_day=end, totals=totals, **groups)

    async def fetch(
        self, start: str | None = None, end: str | None = None, *, limit: int = 100_000
    ) -> list[UsageRecord]:
        """Records of a range, read in a worker thread."""
        if self._writer is None:
            return []
        return await asyncio.to_thread(self._fetch, start, end, limit)

    def _fetch(self, start: str | None, end: str | None, limit: int) -> list[UsageRecord]:
        where, params = range_clause(start, end)
        connection = self._connect()
        connection.row_factory = sqlite3.Row
        try:
            rows = connection.execute(
                f"SELECT {', '.join(COLUMNS)} FROM usage_records{where} "  # noqa: S608
                f"ORDER BY timestamp LIMIT {int(limit)}",
                params,
            ).fetchall()
        finally:
            connection.close()
        return [record_of(row) for row in rows]


def records_for(auth_dir: Path, environ: Mapping[str, str]) -> RecordStore:
    """PostgreSQL records when ``PGSTORE_DSN`` selects that store, else SQLite under auth-dir."""
    dsn = _env(environ, "PGSTORE_DSN")
    if dsn:
        from aiproxyapi.usage.records_pg import PostgresRecords

        return PostgresRecords(dsn, _env(environ, "PGSTORE_SCHEMA") or "public")
    return SqliteRecords(auth_dir.expanduser() / "usage" / "usage-records.sqlite3")


def _env(environ: Mapping[str, str], name: str) -> str:
    """A variable as :mod:`storage.select` reads it: as spelled, else lower-case; stripped."""
    for spelling in (name, name.lower()):
        value = environ.get(spelling, "").strip()
        if value:
            return value
    return ""
