"""Keep the usage book on disk, so totals survive a restart (the reference product's top ask).

The file is ``{"version": 1, "saved_at": <unix seconds>, "usage": <UsageSnapshot>}``, mode 0600,
replaced atomically. Writes are coalesced: a background loop writes at most once per
``flush_interval`` while there is something new, and :meth:`UsageStore.flush` writes at
shutdown. A file that cannot be read never stops the gateway: it is moved aside and the book
starts empty.

With a remote storage backend the same document is kept as a state document of the gateway's
:class:`~storage.base.Store` instead (``store`` and ``key``), so it reaches PostgreSQL, Git or
S3 through the store's mirror and outbox like every other write.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path

import msgspec

from aiproxyapi.usage.aggregate import UsageBook, UsageSnapshot
from storage.atomic import remove_stale_temps, write_atomic
from storage.base import Store, StoreError

__all__ = ["FILE_VERSION", "UsageStore"]

FILE_VERSION = 1

logger = logging.getLogger("aiproxyapi.usage")


class _UsageFile(msgspec.Struct, kw_only=True):
    version: int
    saved_at: float
    usage: UsageSnapshot


class UsageStore:
    """Loads a :class:`UsageBook` from ``path`` at start and writes it back when it changed.

    Like the book, it belongs to one event loop. Dirtiness is a generation counter: each
    :meth:`mark_dirty` bumps it, each write records the generation it captured, so a write
    that overlaps a new record leaves the store dirty rather than losing that record.
    """

    def __init__(
        self,
        path: Path,
        book: UsageBook,
        *,
        flush_interval: float = 5.0,
        store: Store | None = None,
        key: str = "usage",
    ) -> None:
        if flush_interval <= 0:
            raise ValueError("flush_interval must be > 0")
        self.path = path
        self.book = book
        self.store, self.key = store, key
        self._store_lock = asyncio.Lock()
        self._interval = flush_interval
        self._generation = 0
        self._saved_generation = 0  # written by worker threads, read on the loop
        self._wake = asyncio.Event()
        # Serialises the worker threads: a write orphaned by a cancelled flush may still be
        # running when the next one starts, and the older snapshot must never land last.
        self._write_lock = threading.Lock()

    @property
    def dirty(self) -> bool:
        """True when the book holds records the file does not."""
        return self._generation != self._saved_generation

    def load(self) -> None:
        """Merge the persisted book into ``self.book``; a missing file is an empty book."""
        try:
            remove_stale_temps(self.path.parent, name=self.path.name)
        except OSError as exc:  # a leftover temp is harmless; an unlistable dir is not fatal
            logger.warning("could not sweep temp files beside %s: %s", self.path, exc)
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            logger.warning("usage file %s unreadable (%s); starting empty", self.path, exc)
            return
        try:
            stored = msgspec.json.decode(raw, type=_UsageFile)
            if stored.version != FILE_VERSION:
                raise ValueError(f"unsupported version {stored.version}, expected {FILE_VERSION}")
        except (msgspec.DecodeError, ValueError) as exc:
            self._move_aside(exc)
            return
        self.book.merge_snapshot(stored.usage)

    async def load_async(self) -> None:
        """:meth:`load` off the event loop, or from the store's state document when there is one."""
        if self.store is None:
            await asyncio.to_thread(self.load)
            return
        try:
            raw = await self.store.read_state(self.key)
        except StoreError as exc:
            logger.warning("usage state %s unreadable (%s); starting empty", self.key, exc)
            return
        if raw is None:
            return
        try:
            stored = msgspec.json.decode(raw, type=_UsageFile)
            if stored.version != FILE_VERSION:
                raise ValueError(f"unsupported version {stored.version}, expected {FILE_VERSION}")
        except (msgspec.DecodeError, ValueError) as exc:
            logger.warning("usage state %s is corrupt (%s); starting empty", self.key, exc)
            return
        self.book.merge_snapshot(stored.usage)

    def _move_aside(self, reason: Exception) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            self.path.replace(aside)
        except OSError as exc:
            logger.warning(
                "usage file %s is corrupt (%s) and could not be moved aside (%s); "
                "starting with empty usage",
                self.path,
                reason,
                exc,
            )
            return
        logger.warning(
            "usage file %s is corrupt (%s); moved to %s, starting with empty usage",
            self.path,
            reason,
            aside,
        )

    def mark_dirty(self) -> None:
        """Note that the book changed; the background loop will write it soon."""
        self._generation += 1
        self._wake.set()

    async def flush(self) -> bool:
        """Write the book now if it changed since the last write; True when it wrote."""
        generation = self._generation
        if generation == self._saved_generation:
            return False
        # Snapshot and encode on the loop, with no await in between, so the bytes match
        # ``generation`` exactly; only the disk work goes to a thread.
        snapshot = self.book.snapshot()
        data = msgspec.json.encode(
            _UsageFile(version=FILE_VERSION, saved_at=time.time(), usage=snapshot)
        )
        if self.store is None:
            await asyncio.to_thread(self._write, data, generation)
            return True
        async with self._store_lock:
            if generation > self._saved_generation:
                await self.store.write_state(self.key, data)
                self._saved_generation = generation
        return True

    def _write(self, data: bytes, generation: int) -> None:
        with self._write_lock:
            if generation <= self._saved_generation:
                return  # a newer snapshot already landed
            write_atomic(self.path, data, mode=0o600)
            self._saved_generation = generation

    async def run(self) -> None:
        """Write the book at most once per ``flush_interval`` while it changes, until cancelled."""
        while True:
            await self._wake.wait()
            # Sleep first: a burst of requests becomes one write, not one per record.
            await asyncio.sleep(self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except (OSError, StoreError):
                # A full disk must not kill the loop; the store stays dirty and retries.
                where = f"state {self.key}" if self.store is not None else f"file {self.path}"
                logger.exception("writing usage %s failed; will retry", where)
                self._wake.set()
