"""storage.s3: against moto's S3 server on a loopback port, and against endpoints that fail.

Each test gets its own moto server (``ThreadedMotoServer`` on 127.0.0.1, a free port) and a
fresh bucket name; the outage tests stop that server mid-run, or point the store at a listener
that accepts connections and never answers, and check the calls fail within the timeout while
another coroutine keeps ticking.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from storage.base import Change, ChangeKind, StoreError, StoreUnavailable
from storage.s3 import S3Store
from tests.storage._outage import loop_gauge, silent_listener

moto_server = pytest.importorskip("moto.server")

pytestmark = pytest.mark.timeout(60)

ACCESS = "AKIDEXAMPLE"
SECRET = "s3cr3t-8c2a-never-in-messages"


class Moto:
    """One moto S3 server on 127.0.0.1; ``stop`` may be called early to make an outage."""

    def __init__(self) -> None:
        self.port = 0
        self.restart()
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def restart(self) -> None:
        """Start serving (again, on the same port after a stop; moto keeps its data in-process)."""
        self._server = moto_server.ThreadedMotoServer("127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        self.running = True

    def stop(self) -> None:
        """Shut the server down (idempotent)."""
        if self.running:
            self.running = False
            self._server.stop()


@pytest.fixture
def moto() -> Iterator[Moto]:
    server = Moto()
    yield server
    server.stop()


@pytest.fixture
def bucket() -> str:
    return f"gw-{uuid.uuid4().hex[:12]}"


def make_store(endpoint: str, bucket: str, **options: object) -> S3Store:
    settings: dict[str, object] = {"timeout": 3.0, "poll_interval": 0.1} | options
    return S3Store(endpoint, bucket, access_key=ACCESS, secret_key=SECRET, **settings)  # type: ignore[arg-type]


@pytest.fixture
async def store(moto: Moto, bucket: str) -> AsyncIterator[S3Store]:
    s = make_store(moto.endpoint, bucket, prefix="gw1")
    await s.start()
    yield s
    await s.close()


async def raw_client(moto: Moto):  # type: ignore[no-untyped-def]
    """A plain boto3 client, as an operator editing the bucket would use."""
    import boto3

    return boto3.session.Session().client(
        "s3", endpoint_url=moto.endpoint, region_name="us-east-1",
        aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
    )  # fmt: skip


async def next_changes(it: AsyncIterator[Change], count: int) -> set[Change]:
    """The next ``count`` changes, within a few seconds."""
    async with asyncio.timeout(10):
        return {await anext(it) for _ in range(count)}


async def test_bucket_is_created_and_documents_round_trip(
    store: S3Store, moto: Moto, bucket: str
) -> None:
    assert store.kind == "s3"
    assert await store.read_config() is None
    await store.write_config(b"port: 8317\n")
    await store.write_auth("claude-a@b.com.json", b'{"type": "claude"}')
    await store.write_state("usage", b"\x00\xff\r\n")
    assert await store.read_config() == b"port: 8317\n"
    assert await store.read_state("usage") == b"\x00\xff\r\n"
    assert await store.list_auth() == {"claude-a@b.com.json": b'{"type": "claude"}'}
    await store.delete_auth("claude-a@b.com.json")
    await store.delete_auth("claude-a@b.com.json")  # already gone: not an error
    assert await store.read_auth("claude-a@b.com.json") is None
    client = await raw_client(moto)
    keys = {item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {"gw1/config/config.yaml", "gw1/state/usage"}


async def test_an_existing_bucket_is_reused_and_prefixes_keep_stores_apart(
    moto: Moto, bucket: str
) -> None:
    one, two = make_store(moto.endpoint, bucket, prefix="one/"), make_store(moto.endpoint, bucket)
    await one.start()
    await two.start()
    await one.write_auth("a.json", b"1")
    await two.write_auth("a.json", b"2")
    assert await one.read_auth("a.json") == b"1"
    assert await two.read_auth("a.json") == b"2"
    assert await two.list_auth() == {"a.json": b"2"}  # one/auths/a.json is not under auths/
    await one.close()
    await two.close()


@pytest.mark.invariant(10)
async def test_bad_names_never_reach_the_bucket(store: S3Store) -> None:
    for name in ("../escape", "a/b", ".hidden", ""):
        with pytest.raises(StoreError):
            await store.write_auth(name, b"x")


async def test_changes_report_another_instances_writes_and_deletions(
    store: S3Store, moto: Moto, bucket: str
) -> None:
    await store.write_auth("old.json", b"old")
    changes = store.changes()
    other = make_store(moto.endpoint, bucket, prefix="gw1/")
    await other.start()
    await other.write_auth("new.json", b"new")
    await other.write_config(b"debug: true\n")
    assert await next_changes(changes, 2) == {
        Change(ChangeKind.AUTH, "new.json"),
        Change(ChangeKind.CONFIG),
    }
    assert await store.read_auth("new.json") == b"new"
    await other.delete_auth("old.json")
    await other.write_auth("new.json", b"newer")
    assert await next_changes(changes, 2) == {
        Change(ChangeKind.AUTH, "old.json", deleted=True),
        Change(ChangeKind.AUTH, "new.json"),
    }
    await other.close()


async def test_own_writes_and_foreign_keys_are_not_reported(
    store: S3Store, moto: Moto, bucket: str
) -> None:
    changes = store.changes()
    await store.write_auth("mine.json", b"m")
    client = await raw_client(moto)
    client.put_object(Bucket=bucket, Key="gw1/README", Body=b"not a document")
    client.put_object(Bucket=bucket, Key="gw1/auths/.tmp", Body=b"unsafe name")
    client.put_object(Bucket=bucket, Key="gw1/state/usage", Body=b"7")
    assert await next_changes(changes, 1) == {Change(ChangeKind.STATE, "usage")}
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await anext(changes)


async def test_a_stopped_server_gives_store_unavailable_within_the_timeout(
    store: S3Store, moto: Moto
) -> None:
    await store.write_state("usage", b"1")
    moto.stop()
    loop = asyncio.get_running_loop()
    async with loop_gauge() as gauge:
        for call in (
            store.read_state("usage"),
            store.write_state("usage", b"2"),
            store.list_auth(),
        ):
            started = loop.time()
            with pytest.raises(StoreUnavailable) as caught:
                await call
            assert loop.time() - started < 3.0 + 0.5
            assert SECRET not in str(caught.value)
    # A blocked loop would stall for a whole call (3 s). Shorter stalls happen on a busy machine
    # while botocore parses its data files in the store's thread (it holds the GIL meanwhile).
    assert gauge.worst < 1.0


async def test_a_silent_endpoint_times_out_and_the_loop_keeps_ticking(bucket: str) -> None:
    with silent_listener() as port:
        store = make_store(f"http://127.0.0.1:{port}", bucket, timeout=2.0)
        loop = asyncio.get_running_loop()
        async with loop_gauge() as gauge:
            started = loop.time()
            with pytest.raises(StoreUnavailable) as caught:
                await store.start()
            elapsed = loop.time() - started
        await store.close()
    assert 1.9 < elapsed < 2.0 + 1.0  # the timeout, plus building the client on a busy machine
    assert gauge.ticks > 80
    # A blocked loop would stall for the whole 2 s call; botocore's data loading in the store's
    # thread holds the GIL for a few hundred ms on a busy machine, which is not a block.
    assert gauge.worst < 1.0
    assert SECRET not in str(caught.value)
    assert "within 2.0s" in str(caught.value)


async def test_polling_rides_out_an_outage_and_writes_work_once_s3_returns(
    store: S3Store, moto: Moto, bucket: str
) -> None:
    changes = store.changes()
    waiting = asyncio.create_task(anext(changes))
    moto.stop()
    await asyncio.sleep(0.5)  # several failed polls: logged, never raised
    assert not waiting.done()
    with pytest.raises(StoreUnavailable):
        await store.write_state("usage", b"during the outage")
    moto.restart()  # same port, same in-process data
    await store.write_state("usage", b"after the outage")
    other = make_store(moto.endpoint, bucket, prefix="gw1")
    await other.start()
    await other.write_auth("back.json", b"b")
    async with asyncio.timeout(10):
        assert await waiting == Change(ChangeKind.AUTH, "back.json")
    assert await other.read_state("usage") == b"after the outage"
    await other.close()


async def test_close_ends_changes_and_later_calls_fail_cleanly(store: S3Store) -> None:
    changes = store.changes()
    waiting = asyncio.create_task(anext(changes))
    await asyncio.sleep(0.2)
    await store.close()
    with pytest.raises(StopAsyncIteration):
        async with asyncio.timeout(5):
            await waiting
    with pytest.raises(StoreUnavailable):
        await store.read_config()
    assert SECRET not in repr(store)
