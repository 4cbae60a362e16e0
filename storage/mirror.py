"""A remote backend behind a local mirror: what the gateway uses for PostgreSQL, Git and S3.

Reads come from the mirror, plain files in the :class:`~storage.file.FileStore` layout
(``<mirror>/config/config.yaml``, ``<mirror>/auths/<name>``, ``<mirror>/auths/.state/<key>``),
so the gateway's file watcher works the same for every backend and a backend outage never
slows a read. A write goes to the outbox (a durable write-ahead journal), then the mirror,
then the backend; the outbox entry leaves once the backend has it. While the backend is
unreachable, writes stay queued (surviving a restart) and a background task retries with
exponential backoff (1 s to 60 s); when it answers again the queue flushes, oldest first,
and the mirror is reconciled with the backend. A document with a queued write is never
overwritten by a remote change: the local write is newer and is on its way.

Start: pending writes flush, then an empty backend is seeded (from the mirror, else from the
operator's local files given as ``seed``), otherwise the mirror is brought in line with the
backend, deletions included. Backend down at start: start from the mirror when it holds
anything (health ``degraded``), else StoreUnavailable with a clear message.

Edits of the mirror's own files: an auth record written into (or removed from) the mirror's
auth dir by hand or by a login tool is noticed by a watch of that dir and sent on like any
write (:meth:`MirroredStore.adopt_local`); the config file is sent on by whoever can judge it
(the gateway, once the edited file passed its reload validation). The mirror remembers a
digest of what it wrote itself, so its own writes and remote changes are never echoed back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec

from storage._outbox import Entry, Outbox
from storage._sync import Key, has_content, read_document, remote_snapshot, seed, write_document
from storage.atomic import write_atomic
from storage.base import Change, ChangeKind, Store, StoreError, StoreUnavailable, check_name
from storage.file import FileStore

__all__ = ["MirroredStore", "StoreHealth", "redact"]

log = logging.getLogger("aiproxyapi.storage")
_CREDENTIALS = re.compile(r"(//)[^/@\s]*@|(password|token|secret)=\S+", re.IGNORECASE)


def redact(text: str) -> str:
    """Error text without URL credentials or ``password=`` values, cut to 300 characters."""
    return _CREDENTIALS.sub(lambda m: "//***@" if m[1] else f"{m[2]}=***", text)[:300]


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _describe(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")


class StoreHealth(msgspec.Struct, frozen=True):
    """For logs and the status endpoint: ``ok``, ``degraded`` (backend unreachable, serving
    from the mirror) or ``down`` (the mirror itself fails: disk full, I/O error)."""

    backend: str
    state: str
    queued: int
    last_error: str = ""


class MirroredStore(Store):
    """Any backend, read through a local mirror, written through a durable outbox."""

    def __init__(
        self,
        backend: Store,
        mirror_dir: Path,
        outbox_dir: Path,
        *,
        max_queued: int = 1000,
        seed: Store | None = None,
        retry_min: float = 1.0,
        retry_max: float = 60.0,
    ) -> None:
        self.backend, self.kind, self.seed = backend, backend.kind, seed
        self.root = mirror_dir
        self.mirror = FileStore(mirror_dir / "auths", mirror_dir / "config" / "config.yaml")
        self.outbox = Outbox(outbox_dir, max_queued=max_queued)
        self._backoff = (retry_min, retry_max)
        self._locks: defaultdict[Key, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._generation: defaultdict[Key, int] = defaultdict(int)
        self._up = False
        self._started = asyncio.Event()  # set once backend.start() has succeeded
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribers: set[asyncio.Queue[Change | None]] = set()
        self._last_error = ""
        self._local_error = ""
        self._synced: dict[Key, str | None] = {}  # digest of what we last put in the mirror

    @property
    def auth_dir(self) -> Path:
        """The mirror's auth dir: what the gateway's file watcher watches."""
        return self.mirror.auth_dir

    @property
    def config_path(self) -> Path:
        """The mirror's config file."""
        return self.mirror.config_path

    def instance_id(self) -> str:
        """A name for this instance, kept in the mirror so it survives a restart.

        Several instances share one backend; a document only one of them writes (its usage
        totals) is kept under this name so they never overwrite each other.
        """
        path = self.root / "instance-id"
        with contextlib.suppress(FileNotFoundError):
            text = path.read_text(encoding="ascii").strip()
            if re.fullmatch(r"[0-9a-f]{16}", text):
                return text
        text = secrets.token_hex(8)
        write_atomic(path, text.encode() + b"\n")
        return text

    def health(self) -> StoreHealth:
        """The backend kind, ok/degraded/down, how many writes are queued, the last error."""
        state = "down" if self._local_error else "ok" if self._up else "degraded"
        error = self._local_error or self._last_error
        return StoreHealth(self.kind, state, len(self.outbox), error)

    async def start(self) -> None:
        """Load the queue, reach the backend and sync; start from the mirror if it is down."""
        await self.mirror.start()
        await asyncio.to_thread(self.outbox.load)
        await self._note_synced()  # what a previous run left in the mirror counts as synced
        try:
            await self.backend.start()
            self._started.set()
            await self._sync()
        except StoreUnavailable as exc:
            if not await has_content(self.mirror):
                raise StoreUnavailable(
                    f"the {self.kind} backend is unreachable and there is no local mirror in "
                    f"{self.mirror.auth_dir.parent} to start from: {redact(str(exc))}"
                ) from exc
            self._mark_down(exc)
            log.warning("storage: starting from the mirror in %s", self.mirror.auth_dir.parent)
        else:
            self._mark_up()
        await self._note_synced()
        loops = (self._retry, self._follow, self._watch_local)
        self._tasks = [asyncio.create_task(loop()) for loop in loops]

    async def close(self) -> None:
        """Stop the background tasks, then close the backend; queued writes stay on disk."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        for queue in self._subscribers:
            queue.put_nowait(None)
        await self.mirror.close()
        await self.backend.close()

    async def read_config(self) -> bytes | None:
        """The mirror's config."""
        return await self.mirror.read_config()

    async def list_auth(self) -> dict[str, bytes]:
        """The mirror's auth records."""
        return await self.mirror.list_auth()

    async def read_auth(self, name: str) -> bytes | None:
        """One auth record from the mirror."""
        return await self.mirror.read_auth(name)

    async def fetch_auth(self, name: str) -> bytes | None:
        """One auth record as the backend holds it now, brought into the mirror first.

        A queued local write of the record is newer and wins; with the backend down this is
        the mirror's copy.
        """
        if self._up:
            await self._apply(Change(ChangeKind.AUTH, check_name(name)))
        return await self.mirror.read_auth(name)

    async def read_state(self, key: str) -> bytes | None:
        """One state document from the mirror, fetched from the backend on a miss."""
        data = await self.mirror.read_state(key)
        if data is None and self._up:
            await self._apply(Change(ChangeKind.STATE, key))
            data = await self.mirror.read_state(key)
        return data

    async def write_config(self, data: bytes) -> None:
        """Write the config through the outbox."""
        await self._put(ChangeKind.CONFIG, "", data)

    async def write_auth(self, name: str, data: bytes) -> None:
        """Write one auth record through the outbox."""
        await self._put(ChangeKind.AUTH, name, data)

    async def delete_auth(self, name: str) -> None:
        """Delete one auth record here and, through the outbox, in the backend."""
        await self._put(ChangeKind.AUTH, name, b"", deleted=True)

    async def write_state(self, key: str, data: bytes) -> None:
        """Write one state document through the outbox."""
        await self._put(ChangeKind.STATE, key, data)

    async def adopt_local(self, kind: ChangeKind, name: str = "") -> bool:
        """Send a document someone edited in the mirror's files to the backend; True if sent.

        A document the mirror holds as this store last wrote or fetched it is left alone, so
        the mirror's own writes and remote changes are never echoed back.
        """
        key = (kind, check_name(name) if name else "")
        async with self._locks[key]:
            data = await read_document(self.mirror, kind, key[1])
            if _digest(data) == self._synced.get(key):
                return False
            if data is None and kind is not ChangeKind.AUTH:
                return False  # config and state are never deleted
            log.info("storage: sending the local edit of %s %s to %s", kind.value, name, self.kind)
            await self._put_locked(key, data or b"", deleted=data is None)
        self._publish(Change(kind, key[1], deleted=data is None))
        return True

    async def _put(
        self, kind: ChangeKind, name: str, data: bytes, *, deleted: bool = False
    ) -> None:
        key = (kind, check_name(name) if name else "")
        async with self._locks[key]:
            await self._put_locked(key, data, deleted=deleted)

    async def _put_locked(self, key: Key, data: bytes, *, deleted: bool) -> None:
        kind, name = key
        self._generation[key] += 1
        try:
            entry = await asyncio.to_thread(self.outbox.put, kind, name, data, deleted=deleted)
            await self._local(kind, name, None if deleted else data)
        except (OSError, StoreError) as exc:
            self._local_error = redact(f"local write of {kind.value} {name} failed: {exc}")
            raise StoreError(self._local_error) from exc
        self._local_error = ""
        if self._up:  # otherwise it stays queued and the retry loop sends it
            try:
                await self._send_queued(entry)
            except StoreUnavailable as exc:
                self._mark_down(exc)

    async def _send_queued(self, entry: Entry) -> None:
        """Send one queued write and forget it; a refused write is forgotten and re-raised."""
        data = None if entry.deleted else entry.data
        try:
            await write_document(self.backend, entry.kind, entry.name, data)
        except StoreUnavailable:
            raise  # stays queued
        except StoreError:
            await asyncio.to_thread(self.outbox.remove, entry)
            raise
        await asyncio.to_thread(self.outbox.remove, entry)

    async def _local(
        self, kind: ChangeKind, name: str, data: bytes | None, *, remote: bool = False
    ) -> bool:
        """Make the mirror hold ``data`` (None: no auth record); True when it changed.

        A remote change never overwrites an auth file someone edited in the mirror and the
        watch has not sent on yet: that edit is newer and on its way.
        """
        current = await read_document(self.mirror, kind, name)
        if data is None and kind is not ChangeKind.AUTH:
            return False  # config and state are never deleted by a sync
        if (
            remote
            and kind is ChangeKind.AUTH
            and _digest(current) != self._synced.get((kind, name))
        ):
            return False
        self._synced[(kind, name)] = _digest(data)
        if current == data:
            return False
        await write_document(self.mirror, kind, name, data)
        return True

    async def _note_synced(self) -> None:
        """Remember what the mirror holds now, to tell later edits of its files from ours."""
        self._synced[(ChangeKind.CONFIG, "")] = _digest(await self.mirror.read_config())
        for name, data in (await self.mirror.list_auth()).items():
            self._synced[(ChangeKind.AUTH, name)] = _digest(data)

    async def _watch_local(self) -> None:
        """Auth records written into the mirror's auth dir by hand or by a login go out too."""
        while True:
            try:
                async for change in self.mirror.changes():
                    if change.kind is ChangeKind.AUTH:
                        await self.adopt_local(ChangeKind.AUTH, change.name)
            except Exception as exc:  # a refusal or a bug: report it, keep watching
                log.error("storage: watching the mirror failed: %s", _describe(exc))
            await asyncio.sleep(self._backoff[0])

    async def _flush(self) -> None:
        """Send every queued write, oldest first; StoreUnavailable when the backend is down."""
        for entry in self.outbox.pending():
            async with self._locks[entry.key]:
                current = self.outbox.get(entry.key)
                if current is None:
                    continue
                try:
                    await self._send_queued(current)
                except StoreUnavailable:
                    raise
                except StoreError as exc:
                    log.error(
                        "storage: queued write of %s refused: %s", current.label, redact(str(exc))
                    )

    async def _sync(self) -> None:
        """Flush the queue, then seed an empty backend or pull the backend into the mirror."""
        await self._flush()
        generations = dict(self._generation)
        if not await has_content(self.backend):
            source = self.mirror if await has_content(self.mirror) else self.seed
            if source is not None:
                await seed(self.backend, source)
                where = "local mirror" if source is self.mirror else "local config and auth dir"
                log.info("storage: seeded the empty %s backend from the %s", self.kind, where)
        for key, data in (await remote_snapshot(self.backend, self.mirror)).items():
            async with self._locks[key]:
                untouched = self._generation[key] == generations.get(key, 0)
                if (
                    untouched
                    and self.outbox.get(key) is None
                    and await self._local(*key, data, remote=True)
                ):
                    self._publish(Change(key[0], key[1], deleted=data is None))

    async def _apply(self, change: Change) -> None:
        """Bring one document of the mirror in line with the backend after a remote change."""
        key = (change.kind, change.name)
        async with self._locks[key]:
            if self.outbox.get(key) is not None:
                return  # a local write is newer and still on its way
            try:
                data = await read_document(self.backend, change.kind, change.name)
            except StoreUnavailable as exc:
                self._mark_down(exc)
                return
            except StoreError as exc:  # e.g. a record under an unknown key: skip it, loudly
                log.error("storage: cannot apply %s change: %s", self.kind, redact(str(exc)))
                return
            if await self._local(change.kind, change.name, data, remote=True):
                self._publish(Change(change.kind, change.name, deleted=data is None))

    async def _retry(self) -> None:
        delay = self._backoff[0]
        while True:
            if self._up:
                await self._wake.wait()
                self._wake.clear()
                continue
            try:
                if not self._started.is_set():
                    await self.backend.start()
                    self._started.set()
                await self._sync()
                self._mark_up()
                await self._flush()  # writes queued while the first flush ran
                delay = self._backoff[0]
                continue
            except StoreUnavailable as exc:
                self._mark_down(exc)
            except Exception as exc:  # a refusal or a bug: report it, keep retrying
                self._last_error = _describe(exc)
                log.error("storage: syncing with %s failed: %s", self.kind, self._last_error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    async def _follow(self) -> None:
        await self._started.wait()
        delay = self._backoff[0]
        while True:
            try:
                async for change in self.backend.changes():
                    delay = self._backoff[0]
                    await self._apply(change)
            except StoreUnavailable as exc:
                self._mark_down(exc)
            except Exception as exc:  # a refusal or a bug: report it, keep following
                log.error("storage: following %s failed: %s", self.kind, _describe(exc))
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])

    def _mark_down(self, exc: BaseException) -> None:
        self._last_error = redact(str(exc))
        self._wake.set()
        if self._up or not self._tasks:
            msg = "storage: %s backend unreachable (%s); serving from the mirror, %d writes queued"
            log.warning(msg, self.kind, self._last_error, len(self.outbox))
        self._up = False

    def _mark_up(self) -> None:
        if not self._up and self._tasks:
            log.info("storage: %s backend reachable again; queued writes flushed", self.kind)
        self._up, self._last_error = True, ""

    def _publish(self, change: Change) -> None:
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()  # a slow reader loses the oldest notice, never blocks us
            queue.put_nowait(change)

    async def changes(self) -> AsyncIterator[Change]:
        """Changes the backend brought into the mirror (remote writes and deletions) and
        local edits of the mirror's files that :meth:`adopt_local` sent on; each iterator
        gets every change from the moment it first waits."""
        queue: asyncio.Queue[Change | None] = asyncio.Queue(maxsize=1000)
        self._subscribers.add(queue)
        try:
            while (change := await queue.get()) is not None:
                yield change
        finally:
            self._subscribers.discard(queue)
