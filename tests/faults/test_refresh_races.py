"""F11: a refresh and a management edit of the same record at once (CLIProxyAPI #5465).

After both, the stored record holds the refresh's new token *and* the edited field, whichever
finishes first. The refresh stores only the fields its token endpoint changed, merged into the
record as stored at that moment, under the record's lock that the management API holds too.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiproxyapi.accounts import AccountBook, Lifecycle, Minted
from aiproxyapi.accounts.records import AccountRecord
from aiproxyapi.pool import PoolState
from storage import FileStore
from tests.factories import FakeClock
from tests.support.oauth_records import record

START = 1_700_000_000.0
NAME = "claude-a.json"


class HeldProvider:
    """A token endpoint that answers only when the test lets it, rotating both tokens."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls = 0
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def refresh(self, data: dict[str, Any], *, client: httpx.AsyncClient) -> dict[str, Any]:
        self.calls += 1
        self.entered.set()
        await self.release.wait()
        return {
            **data,
            "access_token": f"tok-{self.calls + 1}",
            "refresh_token": f"rt-{self.calls + 1}",
            "expires_at": self.clock() + 8 * 3600,
        }

    def lifecycle(self) -> Lifecycle:
        async def mint(rec: AccountRecord, client: httpx.AsyncClient) -> Minted:
            raise AssertionError("not a minted record")

        return Lifecycle(
            refresh=self.refresh,
            lead_seconds=lambda kind: 3600.0,
            expires_at=lambda data: data.get("expires_at"),
            mint=mint,
        )


@pytest.fixture
async def setup(tmp_path: Path) -> Any:
    clock = FakeClock(START)
    provider = HeldProvider(clock)
    store = FileStore(tmp_path, tmp_path / "config.yaml")
    client = httpx.AsyncClient()
    book = AccountBook(
        store, PoolState(), provider.lifecycle(), client_for=lambda _proxy: client, clock=clock
    )
    raw = json.dumps(record("claude", "tok-1", expires_at=START + 60)).encode()
    await store.write_auth(NAME, raw)
    assert book.upsert(NAME, raw)
    yield book, store, provider, tmp_path
    await client.aclose()


async def edit(book: AccountBook, store: FileStore, field: str, value: object) -> None:
    """What PATCH /auth-files/fields does: read, change one field, write, under the lock."""
    async with book.editing(NAME):
        stored = await store.read_auth(NAME)
        assert stored is not None
        data = json.loads(stored)
        data[field] = value
        await store.write_auth(NAME, json.dumps(data).encode())


def on_disk(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / NAME).read_bytes())
    return data


@pytest.mark.invariant(5)
async def test_an_edit_made_while_the_token_endpoint_answers_survives_the_refresh(
    setup: Any,
) -> None:
    book, store, provider, root = setup
    refresh = asyncio.create_task(book.refresh(NAME, "test"))
    await provider.entered.wait()
    await edit(book, store, "proxy_url", "socks5://127.0.0.1:1080")
    # The watcher reads the edited file while the refresh is still in flight.
    book.upsert(NAME, (root / NAME).read_bytes())
    provider.release.set()
    grant = await refresh
    stored = on_disk(root)
    assert stored["proxy_url"] == "socks5://127.0.0.1:1080"
    assert stored["access_token"] == "tok-2"
    assert stored["refresh_token"] == "rt-2"
    assert grant.access_token.reveal() == "tok-2"
    # The book serves the merged record: its credential routes through the edited proxy.
    assert book.accounts[NAME].record.credential.proxy_url == "socks5://127.0.0.1:1080"
    assert book.accounts[NAME].grant.access_token.reveal() == "tok-2"


@pytest.mark.invariant(5)
async def test_an_edit_waiting_on_the_lock_builds_on_the_refreshed_record(setup: Any) -> None:
    book, store, provider, root = setup
    refresh = asyncio.create_task(book.refresh(NAME, "test"))
    await provider.entered.wait()
    async with book.editing(NAME):
        # A refresh that wants to store now must wait for the edit holding the lock...
        provider.release.set()
        await asyncio.sleep(0.05)
        assert not refresh.done()
        assert on_disk(root)["access_token"] == "tok-1"
    await refresh
    # ...and an edit started after it sees the new tokens and keeps them.
    await edit(book, store, "note", "edited after")
    stored = on_disk(root)
    assert (stored["access_token"], stored["refresh_token"], stored["note"]) == (
        "tok-2",
        "rt-2",
        "edited after",
    )


@pytest.mark.invariant(5)
async def test_a_field_the_refresh_itself_changes_takes_the_refreshed_value(setup: Any) -> None:
    book, store, provider, root = setup
    refresh = asyncio.create_task(book.refresh(NAME, "test"))
    await provider.entered.wait()
    # A hand edit of a token field during a refresh loses to the token endpoint's answer:
    # the old refresh token is already spent there, only the rotated one is any good.
    await edit(book, store, "refresh_token", "hand-edited")
    await edit(book, store, "label", "work")
    provider.release.set()
    await refresh
    stored = on_disk(root)
    assert stored["refresh_token"] == "rt-2"
    assert stored["label"] == "work"
