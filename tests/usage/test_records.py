"""Per-request records: SQLite and PostgreSQL keep every record, break them down by day range."""

from __future__ import annotations

import csv
import io
import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiproxyapi.usage import (
    RecordStore,
    SqliteRecords,
    UsageRecord,
    export_csv,
    export_json,
    records_for,
)
from aiproxyapi.usage.records_pg import PostgresRecords
from tests.storage.backends import PG_DSN, drop_schema, require_postgres, unique_schema


def at(day: str, hour: int = 12) -> float:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=UTC).timestamp()


def record(n: int, day: str, **fields: Any) -> UsageRecord:
    values: dict[str, Any] = {
        "timestamp": at(day),
        "request_id": f"req-{n}",
        "endpoint": "POST /v1/chat/completions",
        "client": "key-aaaa1111",
        "credential": "openai/key-bbbb2222",
        "provider": "openai",
        "requested_model": "gpt-4o",
        "upstream_model": "gpt-4o-2024-08-06",
        "input_tokens": 100,
        "output_tokens": 50,
        "cached_tokens": 20,
        "reasoning_tokens": 5,
        "total_tokens": 150,
        "latency_ms": 10.0,
        "ttft_ms": None,
        "status": 200,
        "failed": False,
        "cost_usd": 0.001,
        "pricing": "list",
    }
    values.update(fields)
    return UsageRecord(**values)


SAMPLE = [
    record(1, "2026-11-01"),
    record(2, "2026-11-02", client="key-cccc3333", cost_usd=0.5),
    record(
        3,
        "2026-11-02",
        requested_model="claude-sonnet-4-5",
        provider="claude",
        credential="claude/key-dddd4444",
        cost_usd=0.25,
    ),
    record(
        4,
        "2026-11-03",
        failed=True,
        status=502,
        input_tokens=0,
        output_tokens=0,
        total_tokens=0,
        cost_usd=0.0,
        ttft_ms=4.5,
        stream=True,
    ),
    record(
        5,
        "2026-11-05",
        credential="",
        provider="",
        upstream_model="",
        pricing="",
        failed=True,
        status=404,
        cost_usd=0.0,
    ),
]


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RecordStore]:
    if request.param == "sqlite":
        opened: RecordStore = SqliteRecords(tmp_path / "usage" / "records.sqlite3")
        await opened.start()
        yield opened
        await opened.close()
        return
    await require_postgres()
    schema = unique_schema()
    opened = PostgresRecords(PG_DSN, schema)
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()
        await drop_schema(schema)


async def test_every_record_comes_back_field_for_field(store: RecordStore) -> None:
    for item in SAMPLE:
        store.add(item)
    await store.flush()
    assert await store.fetch() == SAMPLE


async def test_breakdowns_cover_a_date_range_inclusively(store: RecordStore) -> None:
    for item in SAMPLE:
        store.add(item)
    await store.flush()
    whole = await store.breakdown()
    assert (whole.totals.requests, whole.totals.failures) == (5, 2)
    assert whole.totals.cost_usd == pytest.approx(0.001 + 0.5 + 0.25)
    assert set(whole.by_day) == {"2026-11-01", "2026-11-02", "2026-11-03", "2026-11-05"}
    assert "" not in whole.by_credential
    assert "" not in whole.by_provider

    part = await store.breakdown("2026-11-02", "2026-11-03")
    assert (part.from_day, part.to_day) == ("2026-11-02", "2026-11-03")
    assert part.totals.requests == 3
    assert set(part.by_client) == {"key-aaaa1111", "key-cccc3333"}
    assert part.by_client["key-cccc3333"].cost_usd == pytest.approx(0.5)
    assert part.by_model["claude-sonnet-4-5"].requests == 1
    assert part.by_provider["claude"].cost_usd == pytest.approx(0.25)
    assert part.by_credential["openai/key-bbbb2222"].requests == 2
    assert part.by_day["2026-11-02"].input_tokens == 200
    assert part.by_day["2026-11-03"].failures == 1
    assert [r.request_id for r in await store.fetch("2026-11-03", None)] == ["req-4", "req-5"]
    assert (await store.breakdown("2026-12-01", None)).totals.requests == 0


async def test_records_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    first = SqliteRecords(path)
    await first.start()
    for item in SAMPLE[:3]:
        first.add(item)
    await first.close()  # close drains the queue: nothing added is lost
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with sqlite3.connect(path) as probe:
        assert probe.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    second = SqliteRecords(path)
    await second.start()
    second.add(SAMPLE[3])
    await second.flush()
    assert [r.request_id for r in await second.fetch()] == ["req-1", "req-2", "req-3", "req-4"]
    await second.close()


async def test_an_unwritable_place_disables_records_without_failing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    records = SqliteRecords(blocker / "usage" / "records.sqlite3")
    await records.start()
    records.add(SAMPLE[0])
    assert await records.fetch() == []
    assert (await records.breakdown()).totals.requests == 0
    await records.close()


def test_the_environment_picks_postgres_as_the_store_does(tmp_path: Path) -> None:
    assert isinstance(records_for(tmp_path, {}), SqliteRecords)
    chosen = records_for(tmp_path, {"pgstore_dsn": "postgresql://h/db", "PGSTORE_SCHEMA": "gw1"})
    assert isinstance(chosen, PostgresRecords)
    with pytest.raises(ValueError, match="PGSTORE_SCHEMA"):
        records_for(tmp_path, {"PGSTORE_DSN": "postgresql://h/db", "PGSTORE_SCHEMA": 'x"; drop'})


def test_csv_export_has_a_header_and_one_row_per_record() -> None:
    rows = list(csv.DictReader(io.StringIO(export_csv(SAMPLE).decode())))
    assert len(rows) == len(SAMPLE)
    assert rows[0]["time"] == "2026-11-01T12:00:00Z"
    assert rows[1]["client"] == "key-cccc3333"
    assert float(rows[1]["cost_usd"]) == 0.5
    assert rows[3]["failed"] == "true"
    assert rows[3]["ttft_ms"] == "4.5"
    assert rows[4]["credential"] == ""


def test_csv_export_defuses_spreadsheet_formulas() -> None:
    hostile = record(9, "2026-11-01", requested_model='=HYPERLINK("x")')
    rows = list(csv.DictReader(io.StringIO(export_csv([hostile]).decode())))
    assert rows[0]["requested_model"].startswith("'=")


def test_json_export_round_trips_the_records() -> None:
    class Export(msgspec.Struct):
        version: int
        exported_at: float
        records: list[UsageRecord]

    decoded = msgspec.json.decode(export_json(SAMPLE), type=Export)
    assert decoded.version == 1
    assert decoded.records == SAMPLE


def test_old_records_without_cost_fields_still_decode() -> None:
    old = msgspec.json.encode(record(1, "2026-11-01"))
    legacy = msgspec.json.decode(old)
    for name in ("cost_usd", "pricing", "cache_write_tokens"):
        legacy.pop(name)
    back = msgspec.convert(legacy, UsageRecord)
    assert (back.cost_usd, back.pricing, back.cache_write_tokens) == (0.0, "", 0)
