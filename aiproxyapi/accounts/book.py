"""The account book: every OAuth account's live token and lifecycle state, outside any snapshot.

Owned by the gateway, handed to the OAuth executors as their `TokenSource`. A refresh runs once
per account at a time (every caller awaits the same task), persists the new record through the
store *before* the new token is used, and on failure puts the account in the error state: out
of selection, reason kept, logged loudly (never a token). A refreshed record that could not be
stored is kept in memory and stored on the next attempt, so a rotated refresh token is not lost.

Several instances sharing one store also share a :class:`RefreshLock` (Redis): the instance
that takes it reads the stored record first (another may have just renewed it) and calls the
token endpoint only when it is still stale; the others wait, bounded, for the new record to
arrive through the store, or for the lock to go, and then read the record instead of
refreshing. Without a lock, or while it cannot be had, each instance refreshes on its own.

A record is changed by two writers: refreshes (tokens) and the management API (routing fields).
Both go through :meth:`AccountBook.editing`, one lock per record, and a refresh stores only the
fields its token endpoint changed, merged into the record as stored now: a field edited while
the token endpoint was answering survives the refresh (CLIProxyAPI #5465).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import msgspec

from aiproxyapi.accounts.records import AccountRecord, RecordError, grant_of, parse_record
from aiproxyapi.credential import OAuthCredential
from aiproxyapi.executors import Grant
from aiproxyapi.logs import scrub
from aiproxyapi.pool import PoolState
from aiproxyapi.secret import Secret
from storage import Store, StoreError

__all__ = [
    "Account",
    "AccountBook",
    "AccountStatus",
    "Lifecycle",
    "LockUnavailable",
    "Minted",
    "RefreshLock",
]

log = logging.getLogger("aiproxyapi.accounts")

RETRY_AFTER_FAILURE = 300.0
RETRY_AFTER_UNSTORED = 60.0
RETRY_WHEN_EXPIRY_STUCK = 30.0
MINT_MARGIN = 60.0
REFRESH_TIMEOUT = 30.0
"""A token endpoint that has not answered by then fails the refresh (retried later)."""
LOCK_WAIT = REFRESH_TIMEOUT + 35.0
"""Longest wait for another instance's refresh: past its lock's lease, then refresh here."""
_POLL = 0.05


class LockUnavailable(Exception):
    """No refresh lock can be had now (Redis down): refresh without one."""


class RefreshLock(Protocol):
    """One refresh of an account at a time across instances (its lease outlasts a refresh)."""

    async def acquire(self, name: str) -> str | None:
        """A token when this instance holds the lock now, None when another one does."""
        ...

    async def release(self, name: str, token: str, failure: str = "") -> None:
        """Let go of a lock this instance holds (a lapsed lease is not an error).

        With a `failure`, the lock stays a few seconds holding it, so the instances waiting
        take that outcome instead of calling the token endpoint again.
        """
        ...

    async def held(self, name: str) -> str | None:
        """None when the lock is free, "" while a refresh runs, else a failure moments ago."""
        ...


class AccountStatus(enum.Enum):
    """Where an account stands."""

    ACTIVE = "active"
    REFRESHING = "refreshing"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Minted:
    """A token derived at runtime (Copilot, Vertex), with its expiry and the API it names."""

    token: str
    expires_at: float
    base_url: str = ""


RefreshFn = Callable[..., Awaitable[dict[str, Any]]]
MintFn = Callable[[AccountRecord, httpx.AsyncClient], Awaitable[Minted]]


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The provider functions the book calls: refresh, lead time, expiry, and minting."""

    refresh: RefreshFn
    lead_seconds: Callable[[str], float]
    expires_at: Callable[[dict[str, Any]], float | None]
    mint: MintFn


@dataclass(slots=True)
class Account:
    """One account's live state."""

    record: AccountRecord
    raw: bytes
    grant: Grant
    status: AccountStatus = AccountStatus.ACTIVE
    last_error: str = ""
    last_refresh: float | None = None
    next_refresh: float | None = None
    pending: dict[str, Any] | None = None
    """A refreshed record not stored yet: stored before anything else on the next attempt."""
    pending_base: dict[str, Any] | None = None
    """The record the refresh started from: what differs from it in `pending` is the refresh's."""
    inflight: asyncio.Task[Grant] | None = None
    project: str = ""
    minted_until: float = 0.0
    failures: int = field(default=0)


class AccountBook:
    """Live accounts by credential id (the record name)."""

    def __init__(
        self,
        store: Store,
        state: PoolState,
        lifecycle: Lifecycle,
        *,
        client_for: Callable[[str], httpx.AsyncClient],
        clock: Callable[[], float] = time.time,
        on_tokens: Callable[[], None] = lambda: None,
        lock: RefreshLock | None = None,
        on_records: Callable[[], object] = lambda: None,
    ) -> None:
        self._store = store
        self._lock = lock
        self._on_records = on_records
        """Called when a record read here (not through the follower) changed what is served."""
        self._state = state
        self._life = lifecycle
        self._client_for = client_for
        self._clock = clock
        self._on_tokens = on_tokens
        self.accounts: dict[str, Account] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def editing(self, name: str) -> asyncio.Lock:
        """The lock every read-modify-write of record `name` holds (refreshes, management)."""
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        return lock

    # -- records in and out --------------------------------------------------------------

    def upsert(self, name: str, raw: bytes) -> bool:
        """Read a record (new or changed); True when what the pool serves changed."""
        known = self.accounts.get(name)
        if known is not None and known.raw == raw:
            return False
        try:
            record = parse_record(name, raw)
        except RecordError as exc:
            log.error("auth record %s skipped: %s", name, exc)
            return self.remove(name)
        project = record.credential.projects[0] if record.credential.projects else ""
        if known is not None and known.project in record.credential.projects:
            project = known.project
        grant = grant_of(record.channel, record.data, project)
        account = Account(record=record, raw=raw, grant=grant, project=project)
        if known is not None:
            account.inflight = known.inflight
        self.accounts[name] = account
        self._schedule(account)
        self._state.unblock(name)
        self._on_tokens()
        if known is None:
            log.info("auth record %s joined the pool (%s)", name, record.channel)
            return True
        return (known.record.credential, known.record.disabled, known.record.aliases) != (
            record.credential,
            record.disabled,
            record.aliases,
        )

    def remove(self, name: str) -> bool:
        """Forget a record; True when it was known."""
        gone = self.accounts.pop(name, None)
        self._state.unblock(name)
        if gone is None:
            return False
        log.info("auth record %s left the pool", name)
        return True

    def records(self) -> list[AccountRecord]:
        """Every known record, by name."""
        return [self.accounts[name].record for name in sorted(self.accounts)]

    def secrets(self) -> list[str]:
        """Every live secret, for the log scrubber."""
        found: list[str] = []
        for account in self.accounts.values():
            found.extend(account.grant.secrets())
            data = account.pending or account.record.data
            for key in ("refresh_token", "id_token"):
                if isinstance(data.get(key), str) and data[key]:
                    found.append(data[key])
            token = data.get("token")
            if isinstance(token, dict) and isinstance(token.get("refresh_token"), str):
                found.append(token["refresh_token"])
        return found

    # -- the token source ----------------------------------------------------------------

    async def grant(self, credential: OAuthCredential) -> Grant:
        """The current grant; an expired (or unminted) token is renewed first, once for all."""
        account = self._account(credential)
        if account.record.minted:
            if account.minted_until - MINT_MARGIN <= self._clock():
                return await self.refresh(credential.id, "token needed")
            return account.grant
        # A refresh ahead of expiry must not hold requests up: the current token still works.
        expiry = self._expiry(account)
        if expiry is not None and expiry <= self._clock():
            return await self._await_or_keep(account, "token expired")
        return account.grant

    async def renew(self, credential: OAuthCredential, stale: Grant) -> Grant | None:
        """After a 401: a grant newer than `stale`, from one shared refresh; None on failure."""
        account = self._account(credential)
        if account.grant.access_token != stale.access_token:
            return account.grant
        try:
            renewed = await self.refresh(credential.id, "upstream answered 401")
        except RefreshFailed:
            return None
        return renewed if renewed.access_token != stale.access_token else None

    async def next_project(self, credential: OAuthCredential, current: str) -> Grant | None:
        """The account moved to the project after `current`; None at the end of its list."""
        account = self._account(credential)
        projects = account.record.credential.projects
        if current not in projects or projects.index(current) + 1 >= len(projects):
            return None
        account.project = projects[projects.index(current) + 1]
        account.grant = _with_project(account.grant, account.project)
        return account.grant

    async def remember_project(self, credential: OAuthCredential, project: str) -> Grant:
        """Keep a discovered project for the account, and in its record when it can be stored."""
        account = self._account(credential)
        account.project = project
        account.grant = _with_project(account.grant, project)
        log.info("auth record %s uses Code Assist project %s", credential.id, project)
        if _running(account) is None and account.pending is None:
            try:
                async with self.editing(credential.id):
                    current = await self._stored(credential.id) or dict(account.record.data)
                    raw = _encode({**current, "project_id": project})
                    record = parse_record(credential.id, raw)
                    await self._store.write_auth(credential.id, raw)
            except (StoreError, RecordError) as exc:
                log.warning("project of %s kept in memory only: %s", credential.id, exc)
            else:
                account.raw = raw
                account.record = record
        return account.grant

    # -- refresh -------------------------------------------------------------------------

    def due(self) -> list[str]:
        """Names whose scheduled refresh time has come (disabled records included)."""
        now = self._clock()
        return [
            name
            for name, account in self.accounts.items()
            if _running(account) is None
            and account.next_refresh is not None
            and account.next_refresh <= now
        ]

    async def refresh(self, name: str, reason: str) -> Grant:
        """Refresh one account; concurrent callers share the one refresh in flight."""
        account = self.accounts.get(name)
        if account is None:
            raise RefreshFailed(f"auth record {name} is gone")
        if _running(account) is None:
            task = asyncio.ensure_future(self._refresh(name, account, reason))
            task.add_done_callback(_retrieve)
            account.inflight = task
        return await self._await(account)

    async def _await(self, account: Account) -> Grant:
        task = account.inflight
        assert task is not None
        # shield: a caller that goes away must not cancel a refresh half way through storing.
        return await asyncio.shield(task)

    async def _await_or_keep(self, account: Account, reason: str) -> Grant:
        try:
            return await self.refresh(account.record.name, reason)
        except RefreshFailed:
            return account.grant

    async def _refresh(self, name: str, account: Account, reason: str) -> Grant:
        account.status = AccountStatus.REFRESHING
        client = self._client_for(account.record.credential.proxy_url)
        elsewhere = False
        try:
            if account.record.minted:
                async with asyncio.timeout(REFRESH_TIMEOUT):
                    minted = await self._life.mint(account.record, client)
                account.grant = Grant(
                    access_token=Secret(minted.token),
                    base_url=minted.base_url,
                    project=account.project,
                )
                account.minted_until = minted.expires_at
            elif self._lock is None or account.pending is not None:
                await self._renew_record(name, account, client)
            else:
                elsewhere = await self._renew_shared(name, account, client)
        except Exception as exc:
            account = self.accounts.get(name, account)
            self._fail(name, account, _reason_of(exc), exc)
            raise RefreshFailed(_reason_of(exc)) from None
        account = self.accounts.get(name, account)  # a record read meanwhile replaced it
        account.status = AccountStatus.ACTIVE
        account.last_error = ""
        account.failures = 0
        account.last_refresh = self._clock()
        self._state.unblock(name)
        self._on_tokens()
        if not elsewhere:
            log.info("token of %s refreshed (%s)", name, reason)
        return account.grant

    async def _renew_record(self, name: str, account: Account, client: httpx.AsyncClient) -> None:
        old_expiry = self._expiry(account)
        if account.pending is None:
            base = dict(account.record.data)
            async with asyncio.timeout(REFRESH_TIMEOUT):
                account.pending = await self._life.refresh(dict(base), client=client)
            account.pending_base = base
        async with self.editing(name):
            # Merged into the record as stored now, so a concurrent edit of another field stays.
            current = await self._stored(name)
            merged = account.pending
            if current is not None and account.pending_base is not None:
                merged = _merge_refresh(current, account.pending_base, account.pending)
            data = _encode(merged)
            try:
                record = parse_record(name, data)
            except RecordError as exc:
                account.pending = account.pending_base = None
                raise _UnusableRecord(f"the refreshed record is unusable: {exc}") from None
            await self._store.write_auth(name, data)
        # Stored: from here on the new token may be used.
        account.pending = account.pending_base = None
        account.raw = data
        account.record = record
        account.grant = grant_of(record.channel, record.data, account.project)
        if self.accounts.get(name) not in (None, account):
            self.upsert(name, data)  # the record was re-read meanwhile: that copy serves now
            account = self.accounts[name]
        self._schedule(account)
        new_expiry = self._expiry(account)
        now = self._clock()
        if account.next_refresh is not None and new_expiry is not None and new_expiry > now:
            # A token that lives shorter than the provider's lead would be due again at once:
            # refresh it at half its lifetime instead, never in a loop against the endpoint.
            account.next_refresh = max(account.next_refresh, now + (new_expiry - now) / 2)
        if new_expiry is not None and old_expiry is not None and new_expiry <= old_expiry:
            account.next_refresh = now + RETRY_WHEN_EXPIRY_STUCK

    async def _stored(self, name: str) -> dict[str, Any] | None:
        """The record as the store holds it now; None when absent or not a JSON object."""
        raw = await self._store.fetch_auth(name)
        if raw is None:
            return None
        try:
            data = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            return None
        return data if isinstance(data, dict) else None

    async def _renew_shared(self, name: str, account: Account, client: httpx.AsyncClient) -> bool:
        """Renew under the shared lock, or take the record another one renewed (True then)."""
        assert self._lock is not None
        stale = account.grant.access_token
        deadline = time.monotonic() + LOCK_WAIT
        while time.monotonic() < deadline:
            try:
                token = await self._lock.acquire(name)
            except LockUnavailable:
                break
            if token is not None:
                failure = ""
                try:
                    if await self._take_stored(name, stale):
                        return True
                    await self._renew_record(name, self.accounts.get(name, account), client)
                    return False
                except Exception as exc:
                    failure = _reason_of(exc)
                    raise
                finally:
                    with contextlib.suppress(LockUnavailable):
                        await self._lock.release(name, token, scrub(failure))
            if await self._await_other(name, stale, deadline):
                return True
        await self._renew_record(name, self.accounts.get(name, account), client)
        return False

    async def _await_other(self, name: str, stale: Secret, deadline: float) -> bool:
        """Wait for another instance's refresh; True once its new token is here."""
        checked = time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(_POLL)
            current = self.accounts.get(name)
            if current is None:
                raise RefreshFailed(f"auth record {name} is gone")
            if current.grant.access_token != stale:
                return True  # the record follower brought the renewed record
            if time.monotonic() - checked < 0.5:
                continue
            checked = time.monotonic()
            with contextlib.suppress(LockUnavailable):
                held = await self._lock.held(name)  # type: ignore[union-attr]
                if held is None:
                    # Released (or its lease lapsed): the store has the outcome, if any.
                    return await self._take_stored(name, stale)
                if held:
                    raise RefreshFailed(f"the refresh on another instance failed: {held}")
        return False

    async def _take_stored(self, name: str, stale: Secret) -> bool:
        """Adopt the stored record when its token is newer than `stale`; True if adopted."""
        try:
            raw = await self._store.fetch_auth(name)
        except StoreError as exc:
            log.warning("auth record %s could not be read before refreshing: %s", name, exc)
            return False
        current = self.accounts.get(name)
        if raw is None or current is None:
            return False
        if raw != current.raw:
            try:
                record = parse_record(name, raw)
            except RecordError:
                return False
            if grant_of(record.channel, record.data, current.project).access_token == stale:
                return False
            if self.upsert(name, raw):
                self._on_records()
        adopted = self.accounts[name].grant.access_token != stale
        if adopted:
            log.info("token of %s was renewed by another instance; using its record", name)
        return adopted

    def _fail(self, name: str, account: Account, reason: str, exc: Exception) -> None:
        account.status = AccountStatus.ERROR
        account.last_error = reason
        account.failures += 1
        permanent = getattr(exc, "permanent", False)
        if isinstance(exc, StoreError):
            account.next_refresh = self._clock() + RETRY_AFTER_UNSTORED
        elif permanent:
            account.next_refresh = None
        else:
            account.next_refresh = self._clock() + RETRY_AFTER_FAILURE
        if not permanent and not account.record.minted and self._still_valid(account):
            # A token endpoint blip must not take out accounts whose token works for hours yet.
            log.error(
                "TOKEN REFRESH FAILED for %s: %s; its current token serves until it expires, "
                "retrying later",
                name,
                reason,
            )
            return
        self._state.block(name, reason)
        log.error(
            "TOKEN REFRESH FAILED for %s: %s; the account is out of the pool%s",
            name,
            reason,
            "" if account.next_refresh is None else ", retrying later",
        )

    def _still_valid(self, account: Account) -> bool:
        expiry = self._expiry(account)
        return expiry is not None and expiry > self._clock()

    def _schedule(self, account: Account) -> None:
        if account.record.minted:
            account.next_refresh = None
            return
        expiry = self._expiry(account)
        if expiry is None:
            account.next_refresh = None
            return
        try:
            lead = self._life.lead_seconds(account.record.channel)
        except Exception:
            lead = 0.0
        account.next_refresh = expiry - lead

    def _expiry(self, account: Account) -> float | None:
        try:
            return self._life.expires_at(account.record.data)
        except Exception:
            return None

    def _account(self, credential: OAuthCredential) -> Account:
        account = self.accounts.get(credential.id)
        if account is None:
            raise RefreshFailed(f"auth record {credential.id} is gone")
        return account

    async def close(self) -> None:
        """Stop refreshes still running (at shutdown); a stored record stays whole either way."""
        tasks = [task for account in self.accounts.values() if (task := _running(account))]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- status --------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Per account: state, last error, last and next refresh (epoch seconds); no secrets."""
        rows = []
        for name in sorted(self.accounts):
            account = self.accounts[name]
            rows.append(
                {
                    "id": name,
                    "type": account.record.channel,
                    "label": account.record.credential.label,
                    "state": account.status.value,
                    "disabled": account.record.disabled,
                    "last_error": account.last_error,
                    "last_refresh": account.last_refresh,
                    "next_refresh": account.next_refresh,
                    "expires_at": self._expiry(account),
                    "project": account.project,
                }
            )
        return rows


class RefreshFailed(Exception):
    """A refresh did not produce a usable token; the account is in the error state."""


class _UnusableRecord(Exception):
    """The provider's refreshed record does not parse; retrying the same way cannot help."""

    permanent = True


def _encode(data: dict[str, Any]) -> bytes:
    return msgspec.json.format(msgspec.json.encode(data), indent=2)


def _merge_refresh(
    current: dict[str, Any], base: dict[str, Any], refreshed: dict[str, Any]
) -> dict[str, Any]:
    """`current` with the fields the refresh set or dropped (relative to `base`) applied."""
    merged = dict(current)
    for key, value in refreshed.items():
        if key not in base or base[key] != value:
            merged[key] = value
    for key in base.keys() - refreshed.keys():
        merged.pop(key, None)
    return merged


def _retrieve(task: asyncio.Task[Grant]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved here: the awaiting callers handle it


def _with_project(grant: Grant, project: str) -> Grant:
    return Grant(
        access_token=grant.access_token,
        api_key=grant.api_key,
        base_url=grant.base_url,
        project=project,
    )


def _running(account: Account) -> asyncio.Task[Grant] | None:
    task = account.inflight
    return task if task is not None and not task.done() else None


def _reason_of(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    if isinstance(exc, httpx.HTTPError):
        return f"token endpoint unreachable ({type(exc).__name__})"
    if isinstance(exc, TimeoutError):
        return f"token endpoint did not answer within {REFRESH_TIMEOUT:.0f} s"
    return str(exc) or type(exc).__name__
