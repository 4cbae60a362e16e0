"""The Store contract as tests: every promise of storage/base.py, for any backend.

``StoreContract`` needs one fixture from its subclass's module, ``backend``: an opener
(see ``tests/storage/backends.py``). ``store`` and ``other`` are two started instances on
that backend, as two gateways sharing it would be.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from storage.base import Change, ChangeKind, Store, StoreError
from tests.storage.backends import Opener

__all__ = ["BAD_NAMES", "ChangeWatch", "StoreContract", "started"]

BAD_NAMES = [
    "../x",
    "a/b",
    "/etc/passwd",
    "",
    "a" * 300,
    "a\x00b.json",
    "a\nb.json",
    "..",
    ".hidden",
    "a\\b",
    "x/../y",
]
MIB = bytes(range(256)) * 4096  # 1 MiB, every byte value
WAIT = 15.0  # seconds a change may take to be reported


@contextlib.asynccontextmanager
async def started(opener: Opener) -> AsyncIterator[Store]:
    """A started store, closed afterwards (bounded, so a hung close fails the test)."""
    store = opener()
    await asyncio.wait_for(store.start(), 30)
    try:
        yield store
    finally:
        await asyncio.wait_for(store.close(), 30)


class ChangeWatch:
    """Collects a store's ``changes()`` in the background; ``expect`` waits for one."""

    def __init__(self, store: Store) -> None:
        self.seen: asyncio.Queue[Change] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(store))

    async def _run(self, store: Store) -> None:
        async for change in store.changes():
            self.seen.put_nowait(change)

    async def expect(
        self,
        match: Callable[[Change], bool],
        *,
        act: Callable[[int], Awaitable[object]],
        within: float = WAIT,
    ) -> Change:
        """Run ``act(n)`` (an awaitable) every 2 s until a matching change arrives."""
        async with asyncio.timeout(within):
            for attempt in range(10_000):
                await act(attempt)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2.0):
                        while True:
                            change = await self.seen.get()
                            if match(change):
                                return change
        raise AssertionError("unreachable")

    async def stop(self) -> None:
        """Cancel the collector."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


class StoreContract:
    """Every promise of storage/base.py; subclass it with a ``backend`` fixture."""

    @pytest.fixture
    async def store(self, backend: Opener) -> AsyncIterator[Store]:
        async with started(backend) as store:
            yield store

    @pytest.fixture
    async def other(self, backend: Opener) -> AsyncIterator[Store]:
        async with started(backend) as store:
            yield store

    async def test_a_new_store_is_empty(self, store: Store) -> None:
        assert await store.read_config() is None
        assert await store.list_auth() == {}
        assert await store.read_auth("missing.json") is None
        assert await store.read_state("usage") is None

    async def test_config_round_trip_and_replace(self, store: Store) -> None:
        await store.write_config(b"port: 8317\n# a comment\n")
        assert await store.read_config() == b"port: 8317\n# a comment\n"
        await store.write_config(b"port: 9000\n")
        assert await store.read_config() == b"port: 9000\n"

    async def test_auth_round_trip_and_replace(self, store: Store) -> None:
        await store.write_auth("claude-a@b.com.json", b'{"type": "claude"}')
        assert await store.read_auth("claude-a@b.com.json") == b'{"type": "claude"}'
        await store.write_auth("claude-a@b.com.json", b'{"type": "claude", "n": 2}')
        assert await store.read_auth("claude-a@b.com.json") == b'{"type": "claude", "n": 2}'
        assert await store.list_auth() == {"claude-a@b.com.json": b'{"type": "claude", "n": 2}'}

    async def test_state_round_trip_and_replace(self, store: Store) -> None:
        await store.write_state("usage", b'{"total": 1}')
        await store.write_state("cooldowns", b"{}")
        await store.write_state("usage", b'{"total": 2}')
        assert await store.read_state("usage") == b'{"total": 2}'
        assert await store.read_state("cooldowns") == b"{}"
        assert await store.list_auth() == {}  # state never shows up as an account

    async def test_empty_documents_are_documents(self, store: Store) -> None:
        await store.write_auth("empty.json", b"")
        await store.write_state("empty", b"")
        assert await store.read_auth("empty.json") == b""
        assert await store.read_state("empty") == b""

    async def test_delete_is_idempotent(self, store: Store) -> None:
        await store.delete_auth("never-existed.json")
        await store.write_auth("gone.json", b"{}")
        await store.delete_auth("gone.json")
        await store.delete_auth("gone.json")
        assert await store.read_auth("gone.json") is None

    async def test_list_follows_writes_and_deletes(self, store: Store) -> None:
        for n in range(5):
            await store.write_auth(f"acct-{n}.json", f'{{"n": {n}}}'.encode())
        await store.delete_auth("acct-1.json")
        await store.delete_auth("acct-3.json")
        await store.write_auth("acct-4.json", b"new")
        listing = await store.list_auth()
        assert listing == {
            "acct-0.json": b'{"n": 0}',
            "acct-2.json": b'{"n": 2}',
            "acct-4.json": b"new",
        }

    @pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
    async def test_invalid_names_are_refused(self, store: Store, name: str) -> None:
        calls = [
            store.write_auth(name, b"x"),
            store.read_auth(name),
            store.delete_auth(name),
            store.write_state(name, b"x"),
            store.read_state(name),
        ]
        for call in calls:
            with pytest.raises(StoreError):
                await call
        assert await store.list_auth() == {}

    async def test_large_and_binary_documents(self, store: Store) -> None:
        await store.write_auth("big.json", MIB)
        await store.write_state("blob", MIB[::-1])
        await store.write_config(b"\x00\xff binary\r\n\x80")
        assert await store.read_auth("big.json") == MIB
        assert await store.read_state("blob") == MIB[::-1]
        assert await store.read_config() == b"\x00\xff binary\r\n\x80"
        assert (await store.list_auth())["big.json"] == MIB

    async def test_concurrent_writers_to_different_names_all_land(self, store: Store) -> None:
        names = [f"conc-{n}.json" for n in range(20)]
        await asyncio.gather(*(store.write_auth(n, n.encode()) for n in names))
        assert await store.list_auth() == {n: n.encode() for n in names}

    async def test_a_reader_sees_old_or_new_never_a_mix(self, store: Store) -> None:
        versions = [bytes([v]) * 256 * 1024 for v in (1, 2)]
        await store.write_auth("swap.json", versions[0])
        stop = asyncio.Event()

        async def writer() -> None:
            for n in range(20):
                await store.write_auth("swap.json", versions[n % 2])
            stop.set()

        async def reader() -> int:
            reads = 0
            while not stop.is_set() or reads == 0:
                assert await store.read_auth("swap.json") in versions
                reads += 1
            return reads

        _, reads = await asyncio.gather(writer(), reader())
        assert reads > 0

    async def test_writes_are_durable_for_a_later_instance(
        self, store: Store, backend: Opener
    ) -> None:
        await store.write_config(b"durable: true\n")
        await store.write_auth("kept.json", b'{"refresh_token": "r1"}')
        await store.write_state("usage", b"42")
        async with started(backend) as later:
            assert await later.read_config() == b"durable: true\n"
            assert await later.read_auth("kept.json") == b'{"refresh_token": "r1"}'
            assert await later.read_state("usage") == b"42"

    async def test_changes_report_another_instances_writes(
        self, store: Store, other: Store
    ) -> None:
        watch = ChangeWatch(store)
        try:

            async def write_auth(n: int) -> None:
                await other.write_auth("remote.json", f'{{"v": {n}}}'.encode())

            change = await watch.expect(
                lambda c: c.kind is ChangeKind.AUTH and c.name == "remote.json" and not c.deleted,
                act=write_auth,
            )
            assert change.name == "remote.json"
            assert (await store.read_auth("remote.json") or b"").startswith(b'{"v": ')

            async def delete(_n: int) -> None:
                await other.delete_auth("remote.json")

            await watch.expect(lambda c: c.name == "remote.json" and c.deleted, act=delete)
            assert await store.read_auth("remote.json") is None

            async def write_config(n: int) -> None:
                await other.write_config(f"generation: {n}\n".encode())

            await watch.expect(lambda c: c.kind is ChangeKind.CONFIG, act=write_config)
            assert (await store.read_config() or b"").startswith(b"generation: ")

            async def write_state(n: int) -> None:
                await other.write_state("usage", str(n).encode())

            await watch.expect(
                lambda c: c.kind is ChangeKind.STATE and c.name == "usage", act=write_state
            )
            assert (await store.read_state("usage") or b"").isdigit()
        finally:
            await watch.stop()

    async def test_every_changes_iterator_sees_every_change(
        self, store: Store, other: Store
    ) -> None:
        watches = [ChangeWatch(store), ChangeWatch(store)]
        try:
            for watch in watches:  # both feeds proven live before the change that counts

                async def warm_up(n: int) -> None:
                    await other.write_auth("warm-up.json", str(n).encode())

                await watch.expect(lambda c: c.name == "warm-up.json", act=warm_up)
            await other.write_auth("both.json", b"{}")
            await other.delete_auth("warm-up.json")

            async def nothing(_n: int) -> None:
                return None

            for watch in watches:
                await watch.expect(lambda c: c.name == "both.json", act=nothing)
                await watch.expect(lambda c: c.name == "warm-up.json" and c.deleted, act=nothing)
        finally:
            for watch in watches:
                await watch.stop()

    async def test_changes_end_when_the_store_closes(self, backend: Opener) -> None:
        store = backend()
        await asyncio.wait_for(store.start(), 30)
        changes = store.changes()
        pending = asyncio.ensure_future(anext(changes))
        await asyncio.sleep(0.2)
        await asyncio.wait_for(store.close(), 30)
        with contextlib.suppress(StopAsyncIteration):
            await asyncio.wait_for(pending, 10)
