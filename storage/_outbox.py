"""The outbox: writes the backend has not confirmed yet, one durable file per document.

Every write of a :class:`storage.mirror.MirroredStore` lands here first (a write-ahead
journal) and leaves once the backend has it; while the backend is down the files stay and
survive a restart. One file per document (latest write wins per name), each an msgpack
record holding a sequence number, so pending writes flush in the order they were made.

The bound: past ``max_queued`` entries the oldest *state* documents (usage totals,
cooldowns: rebuilt over time) are dropped, logged. Config and auth records are never
dropped: there is one entry per account at most, and a refreshed token must not be lost.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import msgspec

from storage._sync import Key
from storage.atomic import remove_stale_temps, write_atomic
from storage.base import ChangeKind, check_name
from storage.file import make_private_dir

__all__ = ["Entry", "Outbox"]

log = logging.getLogger("aiproxyapi.storage")


class Entry(msgspec.Struct, frozen=True):
    """One pending write: the document, its new bytes (or its deletion), and its order."""

    seq: int
    kind: ChangeKind
    name: str = ""
    data: bytes = b""
    deleted: bool = False

    @property
    def key(self) -> Key:
        """Which document this entry replaces."""
        return (self.kind, self.name)

    @property
    def label(self) -> str:
        """``auth claude-a@b.com.json`` for logs."""
        return f"{self.kind.value} {self.name}".strip()


def _file_name(key: Key) -> str:
    kind, name = key
    return f"{kind.value}.{check_name(name)}" if name else kind.value


class Outbox:
    """Pending writes on disk, indexed in memory; thread-safe (called via ``to_thread``)."""

    def __init__(self, directory: Path, *, max_queued: int = 1000) -> None:
        self.directory = directory
        self.max_queued = max_queued
        self._entries: dict[Key, Entry] = {}
        self._seq = 0
        self._lock = threading.Lock()
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Entry)

    def __len__(self) -> int:
        return len(self._entries)

    def load(self) -> None:
        """Read what a previous run left; unreadable files are set aside as ``*.corrupt``."""
        make_private_dir(self.directory)
        remove_stale_temps(self.directory)
        with self._lock:
            for path in sorted(self.directory.iterdir()):
                if path.name.startswith(".") or path.suffix == ".corrupt" or not path.is_file():
                    continue
                try:
                    entry = self._decoder.decode(path.read_bytes())
                    if path.name != _file_name(entry.key):
                        raise ValueError("file name does not match its record")
                except (msgspec.DecodeError, ValueError) as exc:
                    log.error("storage: unreadable queued write %s set aside: %s", path.name, exc)
                    path.rename(path.with_name(path.name + ".corrupt"))
                    continue
                self._entries[entry.key] = entry
                self._seq = max(self._seq, entry.seq)

    def put(self, kind: ChangeKind, name: str, data: bytes, *, deleted: bool = False) -> Entry:
        """Record one write durably (replacing any pending write of the same document)."""
        with self._lock:
            self._seq += 1
            entry = Entry(self._seq, kind, name, data, deleted)
            if entry.key not in self._entries:
                self._make_room()
            write_atomic(self.directory / _file_name(entry.key), self._encoder.encode(entry))
            self._entries[entry.key] = entry
            return entry

    def _make_room(self) -> None:
        while len(self._entries) >= self.max_queued:
            states = [e for e in self._entries.values() if e.kind is ChangeKind.STATE]
            if not states:
                log.error(
                    "storage: %d writes queued (bound %d); keeping config and auth records anyway",
                    len(self._entries),
                    self.max_queued,
                )
                return
            oldest = min(states, key=lambda e: e.seq)
            self._drop(oldest)
            log.warning("storage: write queue full; dropped the queued write of %s", oldest.label)

    def _drop(self, entry: Entry) -> None:
        (self.directory / _file_name(entry.key)).unlink(missing_ok=True)
        del self._entries[entry.key]

    def remove(self, entry: Entry) -> None:
        """Forget ``entry`` once the backend has it, unless a newer write replaced it."""
        with self._lock:
            current = self._entries.get(entry.key)
            if current is not None and current.seq == entry.seq:
                self._drop(current)

    def get(self, key: Key) -> Entry | None:
        """The pending write of one document, if any."""
        return self._entries.get(key)

    def pending(self) -> list[Entry]:
        """Every pending write, oldest first."""
        with self._lock:
            return sorted(self._entries.values(), key=lambda e: e.seq)
