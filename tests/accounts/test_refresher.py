"""The background refresher: due accounts are refreshed once each, failures do not stop it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx

from aiproxyapi.accounts import AccountBook, AccountStatus, Lifecycle, Minted, run_refresher
from aiproxyapi.accounts.records import AccountRecord
from aiproxyapi.pool import PoolState
from auth.errors import RefreshError
from storage import FileStore
from tests.factories import FakeClock
from tests.support.oauth_records import record

START = 1_700_000_000.0


async def test_the_loop_refreshes_due_accounts_and_survives_failures(tmp_path: Path) -> None:
    clock = FakeClock(START)
    calls: list[str] = []

    async def refresh(data: dict[str, Any], *, client: httpx.AsyncClient) -> dict[str, Any]:
        calls.append(data["email"])
        if data["email"] == "bad@x":
            raise RefreshError("invalid_grant", permanent=True)
        return {**data, "access_token": "tok-new", "expires_at": clock() + 86400}

    async def mint(rec: AccountRecord, client: httpx.AsyncClient) -> Minted:
        raise AssertionError("no minted accounts here")

    life = Lifecycle(
        refresh=refresh,
        lead_seconds=lambda kind: 3600.0,
        expires_at=lambda data: data.get("expires_at"),
        mint=mint,
    )
    async with httpx.AsyncClient() as client:
        book = AccountBook(
            FileStore(tmp_path, tmp_path / "config.yaml"),
            PoolState(),
            life,
            client_for=lambda _p: client,
            clock=clock,
        )
        for email, expires in (("due@x", 60), ("bad@x", 120), ("later@x", 86400)):
            data = record("claude", "tok-old", email=email, expires_at=START + expires)
            book.upsert(f"claude-{email}.json", json.dumps(data).encode())
        loop = asyncio.create_task(run_refresher(book, tick=0.01))
        try:
            for _ in range(200):
                if len(calls) >= 2 and not any(
                    a.inflight and not a.inflight.done() for a in book.accounts.values()
                ):
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)  # several more ticks: nothing is refreshed twice
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
    assert sorted(calls) == ["bad@x", "due@x"]
    assert book.accounts["claude-due@x.json"].grant.access_token.reveal() == "tok-new"
    assert book.accounts["claude-bad@x.json"].status is AccountStatus.ERROR
    assert book.accounts["claude-later@x.json"].status is AccountStatus.ACTIVE
    stored = json.loads((tmp_path / "claude-due@x.json").read_bytes())
    assert stored["access_token"] == "tok-new"
