"""UsageStore: the book survives a restart, bad files never crash, writes only when dirty."""

# These tests inspect the file between awaits on purpose; a blocking stat in a test is fine.
# ruff: noqa: ASYNC240

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from aiproxyapi.usage import UsageBook, UsageRecord, UsageStore
from aiproxyapi.usage import persist as persist_module
from storage.atomic import write_atomic


def record(request_id: str = "r1", **overrides: Any) -> UsageRecord:
    """A small successful record; override any field."""
    fields: dict[str, Any] = {
        "timestamp": 1_709_335_800.0,
        "request_id": request_id,
        "endpoint": "POST /v1/messages",
        "client": "team-a",
        "credential": "claude-1",
        "provider": "claude",
        "requested_model": "sonnet",
        "upstream_model": "claude-sonnet-4",
        "input_tokens": 3,
        "output_tokens": 4,
        "total_tokens": 7,
        "latency_ms": 12.5,
        "ttft_ms": 3.0,
        "status": 200,
        "failed": False,
        "stream": True,
    }
    fields.update(overrides)
    return UsageRecord(**fields)


def add(store: UsageStore, rec: UsageRecord) -> None:
    store.book.add(rec)
    store.mark_dirty()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "auths" / "usage.json"


@pytest.fixture
def count_writes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every file write the store makes (and still perform it)."""
    writes: list[Path] = []
    real = write_atomic

    def spy(target: Path, data: bytes, *, mode: int = 0o600) -> None:
        writes.append(target)
        real(target, data, mode=mode)

    monkeypatch.setattr(persist_module, "write_atomic", spy)
    return writes


def test_missing_file_is_an_empty_book(path: Path) -> None:
    store = UsageStore(path, UsageBook())
    store.load()
    assert store.book.snapshot().totals.requests == 0
    assert not store.dirty


async def test_round_trip_survives_restart(path: Path) -> None:
    store = UsageStore(path, UsageBook())
    store.load()
    add(store, record("r1"))
    add(store, record("r2", failed=True, status=502, client="team-b"))
    assert await store.flush()

    # "restart": a fresh book and store reading the same file
    again = UsageStore(path, UsageBook())
    again.load()
    assert again.book.snapshot() == store.book.snapshot()
    assert not again.dirty


async def test_file_format(path: Path) -> None:
    store = UsageStore(path, UsageBook())
    add(store, record())
    await store.flush()
    doc = msgspec.json.decode(path.read_bytes())
    assert doc["version"] == 1
    assert isinstance(doc["saved_at"], float)
    assert doc["usage"]["totals"]["requests"] == 1
    assert set(doc["usage"]) == {
        "totals",
        "by_client",
        "by_model",
        "by_credential",
        "by_provider",
        "by_day",
        "by_hour",
        "recent",
    }
    assert doc["usage"]["recent"][0]["client"] == "team-a"


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
@pytest.mark.invariant(7)
async def test_file_is_0600_and_created_dir_is_0700(path: Path) -> None:
    store = UsageStore(path, UsageBook())
    add(store, record())
    await store.flush()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"version": 1, "saved_at": 0, "usage": {"totals": {"requests": "many"}}}',
        b'{"version": 99, "saved_at": 0, "usage": {}}',
        b"\xff\xfe",
    ],
    ids=["syntax", "wrong-type", "future-version", "not-utf8"],
)
def test_corrupt_file_is_moved_aside(
    path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    store = UsageStore(path, UsageBook())
    with caplog.at_level(logging.WARNING, logger="aiproxyapi.usage"):
        store.load()

    assert store.book.snapshot().totals.requests == 0
    assert not path.exists()
    aside = list(path.parent.glob("usage.json.corrupt-*"))
    assert len(aside) == 1
    assert aside[0].read_bytes() == content
    assert any(r.name == "aiproxyapi.usage" and "corrupt" in r.message for r in caplog.records)


async def test_corrupt_file_then_new_data_is_written(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    store = UsageStore(path, UsageBook())
    store.load()
    add(store, record())
    await store.flush()
    again = UsageStore(path, UsageBook())
    again.load()
    assert again.book.snapshot().totals.requests == 1


async def test_flush_writes_only_when_dirty(path: Path, count_writes: list[Path]) -> None:
    store = UsageStore(path, UsageBook())
    assert not await store.flush()
    assert not path.exists()

    add(store, record())
    assert store.dirty
    assert await store.flush()
    assert not store.dirty
    assert not await store.flush()
    assert count_writes == [path]


@pytest.mark.invariant(7)
async def test_interrupted_write_keeps_old_file_and_stays_dirty(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = UsageStore(path, UsageBook())
    add(store, record("r1"))
    await store.flush()
    old = path.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("simulated crash during rename")

    add(store, record("r2"))
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated crash"):
        await store.flush()
    assert path.read_bytes() == old
    assert sorted(p.name for p in path.parent.iterdir()) == ["usage.json"]
    assert store.dirty

    monkeypatch.undo()
    assert await store.flush()
    assert len(msgspec.json.decode(path.read_bytes())["usage"]["recent"]) == 2


async def test_overlapping_flushes_never_lose_the_newest(path: Path) -> None:
    store = UsageStore(path, UsageBook())
    add(store, record("r1"))
    first = asyncio.create_task(store.flush())
    await asyncio.sleep(0)  # the first flush has taken its snapshot and is in its thread
    add(store, record("r2"))
    await store.flush()
    await first
    assert not store.dirty
    again = UsageStore(path, UsageBook())
    again.load()
    assert again.book.snapshot().totals.requests == 2


def test_load_sweeps_own_stale_temps_only(path: Path) -> None:
    path.parent.mkdir(parents=True)
    mine = path.parent / ".usage.json.tmp-0123456789ab"
    other = path.parent / ".cred.json.tmp-0123456789ab"
    mine.write_bytes(b"half")
    other.write_bytes(b"half")
    UsageStore(path, UsageBook()).load()
    assert not mine.exists()
    assert other.exists()


async def test_run_coalesces_writes(path: Path, count_writes: list[Path]) -> None:
    store = UsageStore(path, UsageBook(), flush_interval=0.05)
    task = asyncio.create_task(store.run())
    try:
        for i in range(5):
            add(store, record(f"r{i}"))
        await _wait_until(lambda: not store.dirty)
        await asyncio.sleep(0.15)  # nothing new: no further writes
        assert count_writes == [path]

        add(store, record("late"))
        await _wait_until(lambda: not store.dirty)
        assert len(count_writes) == 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    again = UsageStore(path, UsageBook())
    again.load()
    assert again.book.snapshot().totals.requests == 6


async def test_run_survives_write_errors(
    path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = write_atomic
    failures = [OSError("disk full")]

    def flaky(target: Path, data: bytes, *, mode: int = 0o600) -> None:
        if failures:
            raise failures.pop()
        real(target, data, mode=mode)

    monkeypatch.setattr(persist_module, "write_atomic", flaky)
    store = UsageStore(path, UsageBook(), flush_interval=0.02)
    task = asyncio.create_task(store.run())
    try:
        add(store, record())
        await _wait_until(lambda: not store.dirty)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert path.exists()
    assert any("will retry" in r.message for r in caplog.records)


def test_rejects_non_positive_interval(path: Path) -> None:
    with pytest.raises(ValueError, match="flush_interval"):
        UsageStore(path, UsageBook(), flush_interval=0)


async def _wait_until(condition: Callable[[], bool]) -> None:
    for _ in range(500):  # up to ~5 s: generous on a loaded CI machine
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")
