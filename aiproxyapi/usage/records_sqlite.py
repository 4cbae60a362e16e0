"""Per-request usage records in a SQLite file: the default store, under the auth-dir.

WAL mode, so the readers of ``GET /usage`` never wait on the writer; one writer thread takes
records from a queue and inserts them in batches (one transaction each). ``add`` costs the
event loop a list append: records gather on the loop for up to ``_HANDOFF_SECONDS`` and reach
the writer as one batch, so the thread wakes (and takes the GIL) per batch, not per request. Reads run in worker threads on their own connections. The file is
created 0600. Only constants are spliced into SQL; values always travel as parameters.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any

import msgspec

from aiproxyapi.usage.aggregate import Tally
from aiproxyapi.usage.record import UsageRecord
from aiproxyapi.usage.records import (
    AGGREGATES,
    COLUMNS,
    DIMENSIONS,
    Breakdown,
    RecordStore,
    range_clause,
    record_of,
    row_of,
    tally_of,
)

__all__ = ["SqliteRecords"]

log = logging.getLogger("aiproxyapi.usage")

_BATCH = 500
_HANDOFF_SECONDS = 0.05

_SQLITE_TYPES = {int: "INTEGER", float: "REAL", bool: "INTEGER", str: "TEXT"}


class SqliteRecords(RecordStore):
    """Records in a SQLite file (WAL): a writer thread batches inserts, reads use a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[list[UsageRecord] | threading.Event | None] = (
            queue.SimpleQueue()
        )
        self._writer: threading.Thread | None = None
        self._gathered: list[UsageRecord] = []
        self._handoff: asyncio.TimerHandle | None = None

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
        """Queue a record for the writer thread (with the others of the next few ms)."""
        if self._writer is None:
            return
        gathered = self._gathered
        gathered.append(record)
        if len(gathered) >= _BATCH:
            self._hand_over()
        elif self._handoff is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._hand_over()  # no loop to wait on (a tool, a test): hand it over now
                return
            self._handoff = loop.call_later(_HANDOFF_SECONDS, self._hand_over)

    def _hand_over(self) -> None:
        if self._handoff is not None:
            self._handoff.cancel()
            self._handoff = None
        if self._gathered:
            batch, self._gathered = self._gathered, []
            self._queue.put(batch)

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
                    batch.extend(row_of(record) for record in item)
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
        self._hand_over()
        done = threading.Event()
        self._queue.put(done)
        await asyncio.to_thread(done.wait, wait_seconds)

    async def close(self) -> None:
        """Drain the queue and stop the writer."""
        writer, self._writer = self._writer, None
        if writer is not None and writer.is_alive():
            self._hand_over()
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
