"""UsageBook: every dimension counts, UTC bucketing, bounded recent list, snapshot round trips."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from aiproxyapi.usage import Tally, TokenCounts, UsageBook, UsageRecord, UsageSnapshot
from aiproxyapi.usage.aggregate import day_key, hour_key

T0 = datetime(2024, 3, 1, 23, 30, tzinfo=UTC).timestamp()  # late evening UTC


def record(**overrides: Any) -> UsageRecord:
    """A successful chat completion; override any field."""
    fields: dict[str, Any] = {
        "timestamp": T0,
        "request_id": "req-1",
        "endpoint": "POST /v1/chat/completions",
        "client": "team-a",
        "credential": "openai-1",
        "provider": "openai",
        "requested_model": "gpt-4o",
        "upstream_model": "gpt-4o-2024-08-06",
        "input_tokens": 10,
        "output_tokens": 5,
        "reasoning_tokens": 1,
        "cached_tokens": 2,
        "total_tokens": 15,
        "latency_ms": 100.0,
        "ttft_ms": None,
        "status": 200,
        "failed": False,
        "stream": False,
    }
    fields.update(overrides)
    return UsageRecord(**fields)


@pytest.fixture
def book() -> UsageBook:
    book = UsageBook()
    book.add(record(request_id="r1"))
    book.add(record(request_id="r2", client="team-b", credential="claude-1", requested_model="c"))
    book.add(
        record(
            request_id="r3",
            failed=True,
            status=429,
            input_tokens=0,
            output_tokens=0,
            reasoning_tokens=0,
            cached_tokens=0,
            total_tokens=0,
            latency_ms=20.0,
        )
    )
    return book


def test_totals(book: UsageBook) -> None:
    assert book.snapshot().totals == Tally(
        requests=3,
        successes=2,
        failures=1,
        input_tokens=20,
        output_tokens=10,
        reasoning_tokens=2,
        cached_tokens=4,
        total_tokens=30,
        latency_ms_total=220.0,
    )


def test_by_client_model_credential(book: UsageBook) -> None:
    snap = book.snapshot()
    assert {k: (t.requests, t.failures) for k, t in snap.by_client.items()} == {
        "team-a": (2, 1),
        "team-b": (1, 0),
    }
    assert {k: (t.requests, t.total_tokens) for k, t in snap.by_model.items()} == {
        "gpt-4o": (2, 15),
        "c": (1, 15),
    }
    assert {k: t.successes for k, t in snap.by_credential.items()} == {
        "openai-1": 1,
        "claude-1": 1,
    }


def test_model_dimension_uses_requested_not_upstream_model() -> None:
    book = UsageBook()
    book.add(record(requested_model="alias", upstream_model="real-model"))
    assert list(book.snapshot().by_model) == ["alias"]


def test_day_and_hour_buckets_are_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    # A local zone far from UTC would put both records on one local day if UTC were not used.
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        book = UsageBook()
        book.add(record(timestamp=T0))  # 2024-03-01 23:30 UTC
        book.add(record(timestamp=T0 + 3600))  # 2024-03-02 00:30 UTC
        book.add(record(timestamp=T0 + 3600 + 1200))  # same hour as the previous one
        snap = book.snapshot()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert {k: t.requests for k, t in snap.by_day.items()} == {"2024-03-01": 1, "2024-03-02": 2}
    assert {k: t.requests for k, t in snap.by_hour.items()} == {
        "2024-03-01T23": 1,
        "2024-03-02T00": 2,
    }


def test_key_functions() -> None:
    assert day_key(0) == "1970-01-01"
    assert hour_key(T0) == "2024-03-01T23"


def test_recent_is_bounded_and_oldest_first() -> None:
    book = UsageBook(recent_limit=3)
    for i in range(5):
        book.add(record(request_id=f"r{i}", timestamp=T0 + i))
    recent = book.snapshot().recent
    assert [r.request_id for r in recent] == ["r2", "r3", "r4"]
    assert book.snapshot().totals.requests == 5  # only the list is bounded, not the counts


def test_hour_buckets_are_capped_oldest_first() -> None:
    book = UsageBook(max_hours=2)
    for h in range(3):
        book.add(record(timestamp=T0 + h * 3600))
    assert list(book.snapshot().by_hour) == ["2024-03-02T00", "2024-03-02T01"]
    assert len(book.snapshot().by_day) == 2  # days are not capped


def test_snapshot_is_detached(book: UsageBook) -> None:
    snap = book.snapshot()
    book.add(record())
    assert snap.totals.requests == 3
    assert snap.by_client["team-a"].requests == 2
    assert len(snap.recent) == 3


def test_snapshot_merge_round_trip_is_identical(book: UsageBook) -> None:
    snap = book.snapshot()
    restored = UsageBook()
    restored.merge_snapshot(snap)
    assert restored.snapshot() == snap


def test_snapshot_survives_json(book: UsageBook) -> None:
    snap = book.snapshot()
    decoded = msgspec.json.decode(msgspec.json.encode(snap), type=UsageSnapshot)
    restored = UsageBook()
    restored.merge_snapshot(decoded)
    assert restored.snapshot() == snap


def test_merge_adds_to_existing_counts(book: UsageBook) -> None:
    snap = book.snapshot()
    book.merge_snapshot(snap)
    doubled = book.snapshot()
    assert doubled.totals.requests == 6
    assert doubled.by_client["team-a"].requests == 4
    assert doubled.totals.latency_ms_total == 440.0
    # merging must copy: bumping the book leaves the merged-from snapshot alone
    assert snap.by_client["team-a"].requests == 2


def test_merge_orders_recent_by_time_and_restores_hour_order() -> None:
    old = UsageBook()
    old.add(record(request_id="old", timestamp=T0))
    live = UsageBook(recent_limit=2, max_hours=1)
    live.add(record(request_id="new", timestamp=T0 + 7200))
    live.merge_snapshot(old.snapshot())
    snap = live.snapshot()
    assert [r.request_id for r in snap.recent] == ["old", "new"]
    assert list(snap.by_hour) == ["2024-03-02T01"]  # cap keeps the newest hour


def test_empty_snapshot_decodes_from_empty_object() -> None:
    assert msgspec.json.decode(b"{}", type=UsageSnapshot) == UsageBook().snapshot()


def test_tally_merge() -> None:
    a = Tally(requests=1, successes=1, total_tokens=5, latency_ms_total=1.5)
    a.merge(Tally(requests=2, failures=2, total_tokens=1, latency_ms_total=0.5))
    assert a == Tally(requests=3, successes=1, failures=2, total_tokens=6, latency_ms_total=2.0)


def test_record_tokens_view() -> None:
    assert record().tokens == TokenCounts(
        input_tokens=10, output_tokens=5, reasoning_tokens=1, cached_tokens=2, total_tokens=15
    )


@pytest.mark.parametrize("kwargs", [{"recent_limit": -1}, {"max_hours": 0}])
def test_book_rejects_bad_limits(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="recent_limit"):
        UsageBook(**kwargs)


def test_usage_package_stays_free_of_web_libraries() -> None:
    # A side room: pure data and files. Checked in a fresh interpreter so that other tests
    # having imported litestar already cannot hide a stray import.
    code = (
        "import sys, aiproxyapi.usage; "
        "bad = sorted(m for m in ('litestar', 'httpx') if m in sys.modules); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
