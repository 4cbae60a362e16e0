"""Auth records in from the store: all of them at start, then every change as it is seen.

A record dropped into auth-dir by hand joins the pool, a removed one leaves it, an edited one
is read again; whenever that changes what the pool serves, `on_change` rebuilds the runtime.
Only `*.json` names are auth records.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiproxyapi.accounts.book import AccountBook
from storage import ChangeKind, Store, StoreError

__all__ = ["follow_records", "load_records"]

log = logging.getLogger("aiproxyapi.accounts")


def _is_record(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(".")


async def load_records(book: AccountBook, store: Store) -> bool:
    """Read every record; True when any was taken in."""
    changed = False
    for name, raw in sorted((await store.list_auth()).items()):
        if _is_record(name):
            changed = book.upsert(name, raw) or changed
    return changed


async def follow_records(book: AccountBook, store: Store, on_change: Callable[[], object]) -> None:
    """Apply the store's auth changes until cancelled; any failure restarts the follow."""
    while True:
        try:
            await _follow(book, store, on_change)
        except asyncio.CancelledError:
            raise
        except Exception:  # the follower must outlive any store or watcher trouble
            log.exception("following auth record changes failed; following again")
        await asyncio.sleep(1.0)
        # Changes made while the follow was down are picked up by reading everything again.
        try:
            if await load_records(book, store):
                on_change()
        except StoreError as exc:
            log.error("auth records could not be read again: %s", exc)


async def _follow(book: AccountBook, store: Store, on_change: Callable[[], object]) -> None:
    async for change in store.changes():
        if change.kind is not ChangeKind.AUTH or not _is_record(change.name):
            continue
        try:
            raw = None if change.deleted else await store.read_auth(change.name)
        except StoreError as exc:
            log.error("auth record %s could not be read: %s", change.name, exc)
            continue
        changed = book.remove(change.name) if raw is None else book.upsert(change.name, raw)
        if changed:
            on_change()
