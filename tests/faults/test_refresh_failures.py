"""F12: a token endpoint that fails with 5xx, then with invalid_grant.

5xx: the refresh is retried later and the current access token keeps serving while it is
valid. invalid_grant: the account needs a new login: out of selection, logged, shown in error
state; the record (and its refresh token) stays on disk.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from aiproxyapi.accounts import AccountBook, AccountStatus, Lifecycle, Minted, RefreshFailed
from aiproxyapi.accounts.records import AccountRecord
from aiproxyapi.pool import PoolState
from auth.errors import RefreshError
from storage import FileStore
from tests.factories import FakeClock
from tests.support.oauth_records import record

START = 1_700_000_000.0
NAME = "claude-a.json"


class FailingProvider:
    """A token endpoint that raises the error it is given, else rotates the tokens."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.fail: RefreshError | None = None
        self.calls = 0
        self.lifetime = 8 * 3600.0

    async def refresh(self, data: dict[str, Any], *, client: httpx.AsyncClient) -> dict[str, Any]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return {**data, "access_token": "tok-2", "expires_at": self.clock() + self.lifetime}

    def lifecycle(self) -> Lifecycle:
        async def mint(rec: AccountRecord, client: httpx.AsyncClient) -> Minted:
            raise AssertionError("not minted")

        return Lifecycle(
            refresh=self.refresh,
            lead_seconds=lambda kind: 4 * 3600.0,
            expires_at=lambda data: data.get("expires_at"),
            mint=mint,
        )


@pytest.fixture
async def setup(tmp_path: Path) -> Any:
    clock = FakeClock(START)
    provider = FailingProvider(clock)
    store = FileStore(tmp_path, tmp_path / "config.yaml")
    state = PoolState()
    client = httpx.AsyncClient()
    book = AccountBook(
        store, state, provider.lifecycle(), client_for=lambda _proxy: client, clock=clock
    )
    # Due for refresh (inside the 4 h lead) but valid for another hour.
    raw = json.dumps(record("claude", "tok-1", expires_at=START + 3600)).encode()
    await store.write_auth(NAME, raw)
    book.upsert(NAME, raw)
    yield book, state, provider, clock, tmp_path
    await client.aclose()


@pytest.mark.invariant(5)
async def test_a_5xx_keeps_the_valid_token_serving_and_retries_later(
    setup: Any, caplog: pytest.LogCaptureFixture
) -> None:
    book, state, provider, clock, root = setup
    credential = book.accounts[NAME].record.credential
    provider.fail = RefreshError("token endpoint answered 503")
    with caplog.at_level(logging.ERROR), pytest.raises(RefreshFailed):
        await book.refresh(NAME, "due")
    assert "TOKEN REFRESH FAILED for claude-a.json" in caplog.text
    # Still selectable, and requests get the old token, which works for another hour.
    assert state.blocked == {}
    assert (await book.grant(credential)).access_token.reveal() == "tok-1"
    assert book.accounts[NAME].next_refresh == clock() + 300
    assert book.status()[0]["last_error"] == "token endpoint answered 503"
    # The retry comes when scheduled, not before.
    clock.advance(299)
    assert book.due() == []
    clock.advance(2)
    assert book.due() == [NAME]
    provider.fail = None
    await book.refresh(NAME, "retry")
    assert book.accounts[NAME].status is AccountStatus.ACTIVE
    assert json.loads((root / NAME).read_bytes())["access_token"] == "tok-2"


@pytest.mark.invariant(5)
async def test_a_5xx_after_the_token_expired_takes_the_account_out(setup: Any) -> None:
    book, state, provider, clock, _root = setup
    provider.fail = RefreshError("token endpoint answered 502")
    clock.advance(3601)  # the access token is dead now
    with pytest.raises(RefreshFailed):
        await book.refresh(NAME, "expired")
    assert NAME in state.blocked


@pytest.mark.invariant(5)
async def test_invalid_grant_needs_a_login_and_keeps_the_record_on_disk(
    setup: Any, caplog: pytest.LogCaptureFixture
) -> None:
    book, state, provider, _clock, root = setup
    before = (root / NAME).read_bytes()
    provider.fail = RefreshError("invalid_grant: refresh token revoked", permanent=True)
    with caplog.at_level(logging.WARNING), pytest.raises(RefreshFailed):
        await book.refresh(NAME, "due")
    assert state.blocked == {NAME: "invalid_grant: refresh token revoked"}
    (row,) = book.status()
    assert row["state"] == "error"
    assert row["next_refresh"] is None  # no retry storm against a revoked grant
    assert "TOKEN REFRESH FAILED for claude-a.json" in caplog.text
    assert (root / NAME).read_bytes() == before
    assert book.due() == []
    assert provider.calls == 1


async def test_a_token_shorter_lived_than_the_lead_is_not_refreshed_in_a_loop(setup: Any) -> None:
    book, _state, provider, clock, _root = setup
    provider.lifetime = 3600.0  # shorter than Claude's 4 h lead
    clock.advance(600)
    await book.refresh(NAME, "due")
    # Due again at half its lifetime, not at once (expiry minus the lead is already past).
    assert book.accounts[NAME].next_refresh == clock() + 1800
    assert book.due() == []
    clock.advance(1801)
    assert book.due() == [NAME]
    assert provider.calls == 1
