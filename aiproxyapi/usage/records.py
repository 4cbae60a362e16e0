"""Per-request usage records: one row per finished request, queried by date range.

The in-memory book keeps running totals; this keeps every record, so totals and breakdowns
(by client key label, model, provider, credential and UTC day) can be asked for any range and
survive restarts. :class:`RecordStore` is the contract; :mod:`~aiproxyapi.usage.records_sqlite`
(standard library, WAL, one writer thread that batches) is the default under the auth-dir, and
:mod:`~aiproxyapi.usage.records_pg` keeps them in PostgreSQL when that is the store.
``add`` never blocks the event loop. Rows hold labels only, never a key. Only constants are
spliced into SQL; values always travel as parameters.
"""

from __future__ import annotations

import abc
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
    "range_clause",
    "record_of",
    "records_for",
    "row_of",
    "tally_of",
]


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


def records_for(auth_dir: Path, environ: Mapping[str, str]) -> RecordStore:
    """PostgreSQL records when ``PGSTORE_DSN`` selects that store, else SQLite under auth-dir."""
    dsn = _env(environ, "PGSTORE_DSN")
    if dsn:
        from aiproxyapi.usage.records_pg import PostgresRecords

        return PostgresRecords(dsn, _env(environ, "PGSTORE_SCHEMA") or "public")
    from aiproxyapi.usage.records_sqlite import SqliteRecords

    return SqliteRecords(auth_dir.expanduser() / "usage" / "usage-records.sqlite3")


def _env(environ: Mapping[str, str], name: str) -> str:
    """A variable as :mod:`storage.select` reads it: as spelled, else lower-case; stripped."""
    for spelling in (name, name.lower()):
        value = environ.get(spelling, "").strip()
        if value:
            return value
    return ""
