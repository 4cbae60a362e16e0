"""The account book: lead times, single-flight refresh, error state, persist-before-use."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiproxyapi.accounts import AccountBook, AccountStatus, Lifecycle, Minted, RefreshFailed
from aiproxyapi.accounts.records import AccountRecord
from aiproxyapi.credential import OAuthCredential
from aiproxyapi.pool import PoolState
from auth.errors import RefreshError
from storage import FileStore, StoreUnavailable
from tests.factories import FakeClock
from tests.support.oauth_records import record

START = 1_700_000_000.0
LEADS = {"claude": 4 * 3600.0, "codex": 5 * 86400.0, "qwen": 3 * 3600.0}


class Provider:
    """An injected token endpoint: counts calls, can fail, can be held open."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls = 0
        self.fail: RefreshError | None = None
        self.gate: asyncio.Event | None = None
        self.lifetime = 8 * 3600.0

    async def refresh(self, data: dict[str, Any], *, client: httpx.AsyncClient) -> dict[str, Any]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return {
            **data,
            "access_token": f"tok-{self.calls + 1}",
            "expires_at": self.clock() + self.lifetime,
        }

    def lifecycle(self) -> Lifecycle:
        async def mint(rec: AccountRecord, client: httpx.AsyncClient) -> Minted:
            self.calls += 1
            return Minted(f"minted-{self.calls}", self.clock() + 1800, "https://api.example")

        return Lifecycle(
            refresh=self.refresh,
            lead_seconds=lambda kind: LEADS[kind],
            expires_at=lambda data: data.get("expires_at"),
            mint=mint,
        )


class WatchedStore(FileStore):
    """A real file store that notes which token the book handed out at each write."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, root / "config.yaml")
        self.book: AccountBook | None = None
        self.writes: list[tuple[str, str]] = []
        self.down = False

    async def write_auth(self, name: str, data: bytes) -> None:
        if self.down:
            raise StoreUnavailable("store down")
        assert self.book is not None
        serving = self.book.accounts[name].grant.access_token.reveal()
        self.writes.append((json.loads(data).get("access_token", ""), serving))
        await super().write_auth(name, data)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def provider(clock: FakeClock) -> Provider:
    return Provider(clock)


@pytest.fixture
def store(tmp_path: Path) -> WatchedStore:
    return WatchedStore(tmp_path)


@pytest.fixture
async def book(store: WatchedStore, provider: Provider, clock: FakeClock) -> AccountBook:
    client = httpx.AsyncClient()
    made = AccountBook(
        store, PoolState(), provider.lifecycle(), client_for=lambda _proxy: client, clock=clock
    )
    store.book = made
    yield made  # type: ignore[misc]
    await client.aclose()


def add(book: AccountBook, kind: str, name: str, expires_in: float) -> OAuthCredential:
    data = record(kind, "tok-1", expires_at=START + expires_in)
    assert book.upsert(name, json.dumps(data).encode())
    return book.accounts[name].record.credential


def test_refresh_is_due_at_expiry_minus_the_provider_lead(
    book: AccountBook, clock: FakeClock
) -> None:
    add(book, "claude", "claude-a.json", expires_in=5 * 3600)
    add(book, "qwen", "qwen-a.json", expires_in=5 * 3600)
    assert book.due() == []
    clock.advance(3600 + 1)  # claude: 4 h before expiry; qwen: 3 h
    assert book.due() == ["claude-a.json"]
    clock.advance(3600)
    assert sorted(book.due()) == ["claude-a.json", "qwen-a.json"]


@pytest.mark.invariant(5)
async def test_twenty_concurrent_callers_share_one_refresh(
    book: AccountBook, provider: Provider
) -> None:
    credential = add(book, "claude", "claude-a.json", expires_in=-10)  # already expired
    provider.gate = asyncio.Event()
    callers = [asyncio.create_task(book.grant(credential)) for _ in range(20)]
    await asyncio.sleep(0.01)
    assert provider.calls == 1
    provider.gate.set()
    grants = await asyncio.gather(*callers)
    assert provider.calls == 1
    assert {g.access_token.reveal() for g in grants} == {"tok-2"}


@pytest.mark.invariant(5)
async def test_the_new_record_is_stored_before_its_token_is_used(
    book: AccountBook, store: WatchedStore, tmp_path: Path, clock: FakeClock
) -> None:
    credential = add(book, "claude", "claude-a.json", expires_in=3600)
    grant = await book.refresh(credential.id, "test")
    # At the moment of writing, the book still handed out the old token.
    assert store.writes == [("tok-2", "tok-1")]
    assert grant.access_token.reveal() == "tok-2"
    on_disk = json.loads((tmp_path / "claude-a.json").read_bytes())
    assert on_disk["access_token"] == "tok-2"
    assert (tmp_path / "claude-a.json").stat().st_mode & 0o777 == 0o600
    account = book.accounts[credential.id]
    assert account.next_refresh == clock() + 8 * 3600 - LEADS["claude"]
    assert account.last_refresh == clock()


@pytest.mark.invariant(5)
async def test_a_refreshed_record_that_cannot_be_stored_is_kept_and_stored_later(
    book: AccountBook, store: WatchedStore, provider: Provider, clock: FakeClock
) -> None:
    credential = add(book, "claude", "claude-a.json", expires_in=3600)
    store.down = True
    with pytest.raises(RefreshFailed):
        await book.refresh(credential.id, "test")
    account = book.accounts[credential.id]
    assert account.grant.access_token.reveal() == "tok-1"  # never used unstored
    assert account.status is AccountStatus.ERROR
    assert account.next_refresh == clock() + 60
    store.down = False
    grant = await book.refresh(credential.id, "retry")
    assert provider.calls == 1  # the provider's rotated token was not asked for twice
    assert grant.access_token.reveal() == "tok-2"


async def test_a_failed_refresh_puts_the_account_in_the_error_state(
    book: AccountBook, provider: Provider, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    credential = add(book, "claude", "claude-a.json", expires_in=3600)
    provider.fail = RefreshError("invalid_grant: refresh token revoked", permanent=True)
    with pytest.raises(RefreshFailed):
        await book.refresh(credential.id, "test")
    (row,) = book.status()
    assert row["state"] == "error"
    assert row["last_error"] == "invalid_grant: refresh token revoked"
    assert row["next_refresh"] is None  # permanent: only a new login helps
    assert book._state.blocked == {"claude-a.json": "invalid_grant: refresh token revoked"}
    assert "TOKEN REFRESH FAILED for claude-a.json" in caplog.text
    assert "tok-1" not in caplog.text
    assert "r-tok-1" not in caplog.text
    assert "tok-1" not in json.dumps(book.status())


async def test_a_transient_failure_retries_after_five_minutes_and_recovers(
    book: AccountBook, provider: Provider, clock: FakeClock
) -> None:
    credential = add(book, "codex", "codex-a.json", expires_in=3600)
    provider.fail = RefreshError("token endpoint answered 503")
    with pytest.raises(RefreshFailed):
        await book.refresh(credential.id, "test")
    assert book.accounts[credential.id].next_refresh == clock() + 300
    provider.fail = None
    clock.advance(301)
    assert book.due() == ["codex-a.json"]
    await book.refresh(credential.id, "retry")
    assert book.accounts[credential.id].status is AccountStatus.ACTIVE
    assert book._state.blocked == {}


async def test_renew_after_a_401_returns_a_newer_grant_or_none(
    book: AccountBook, provider: Provider
) -> None:
    credential = add(book, "claude", "claude-a.json", expires_in=3600)
    stale = await book.grant(credential)
    renewed = await book.renew(credential, stale)
    assert renewed is not None
    assert renewed.access_token.reveal() == "tok-2"
    # A second caller holding the same stale grant gets the new one without another refresh.
    assert (await book.renew(credential, stale)) == renewed
    assert provider.calls == 1
    provider.fail = RefreshError("revoked", permanent=True)
    assert await book.renew(credential, renewed) is None


async def test_disabled_records_keep_refreshing(book: AccountBook, clock: FakeClock) -> None:
    data = record("claude", "tok-1", expires_at=START + 60, disabled=True)
    book.upsert("claude-off.json", json.dumps(data).encode())
    assert book.due() == ["claude-off.json"]


async def test_minted_tokens_are_cached_until_shortly_before_expiry(
    book: AccountBook, provider: Provider, clock: FakeClock
) -> None:
    book.upsert("copilot-a.json", json.dumps(record("copilot", "gh-1")).encode())
    credential = book.accounts["copilot-a.json"].record.credential
    first = await book.grant(credential)
    assert (first.access_token.reveal(), first.base_url) == ("minted-1", "https://api.example")
    assert (await book.grant(credential)) is first
    clock.advance(1800 - 30)
    assert (await book.grant(credential)).access_token.reveal() == "minted-2"


async def test_next_project_walks_the_records_projects(book: AccountBook) -> None:
    book.upsert("g.json", json.dumps(record("gemini", project_id="p1,p2")).encode())
    credential = book.accounts["g.json"].record.credential
    assert (await book.grant(credential)).project == "p1"
    moved = await book.next_project(credential, "p1")
    assert moved is not None
    assert moved.project == "p2"
    assert await book.next_project(credential, "p2") is None
    assert (await book.grant(credential)).project == "p2"


async def test_a_refresh_ahead_of_expiry_does_not_hold_requests_up(
    book: AccountBook, provider: Provider
) -> None:
    credential = add(book, "claude", "claude-a.json", expires_in=3600)  # due, still valid
    provider.gate = asyncio.Event()
    refreshing = asyncio.create_task(book.refresh(credential.id, "due"))
    await asyncio.sleep(0.01)
    grant = await asyncio.wait_for(book.grant(credential), 1.0)
    assert grant.access_token.reveal() == "tok-1"
    provider.gate.set()
    assert (await refreshing).access_token.reveal() == "tok-2"


async def test_a_token_endpoint_that_never_answers_fails_the_refresh(
    book: AccountBook, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiproxyapi.accounts import book as book_module

    monkeypatch.setattr(book_module, "REFRESH_TIMEOUT", 0.05)
    credential = add(book, "claude", "claude-a.json", expires_in=3600)
    provider.gate = asyncio.Event()  # never set
    with pytest.raises(RefreshFailed):
        await book.refresh(credential.id, "due")
    assert book.accounts[credential.id].last_error.startswith("token endpoint did not answer")


async def test_a_discovered_project_is_kept_in_the_record(
    book: AccountBook, tmp_path: Path
) -> None:
    data = record("gemini", "tok-1")
    del data["project_id"]
    book.upsert("g.json", json.dumps(data).encode())
    credential = book.accounts["g.json"].record.credential
    grant = await book.remember_project(credential, "found-proj")
    assert grant.project == "found-proj"
    assert json.loads((tmp_path / "g.json").read_bytes())["project_id"] == "found-proj"
    # The store echoing our own write changes nothing.
    assert book.upsert("g.json", (tmp_path / "g.json").read_bytes()) is False
