"""The gateway's long-lived parts and the reload path that swaps its runtime snapshot.

What outlives a reload lives here: pool state (cooldowns, counters, cursors), the upstream HTTP
clients, the usage book. A reload validates the new file, builds a complete new runtime around
these parts, and swaps one reference; any failure on the way leaves the old runtime serving.

The gateway runs on one :class:`storage.Store` (``gateway.store``). With the file store the
config file is watched directly; with a remote backend (a :class:`storage.MirroredStore`) the
config file is the mirror's copy, watched the same way, and config changes another instance
made also arrive through ``store.changes()``: both lead to the same validate-and-swap reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import urllib.parse
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from aiproxyapi.access import UnsafeConfigError
from aiproxyapi.accounts import (
    AccountBook,
    Lifecycle,
    default_lifecycle,
    follow_records,
    load_records,
    run_refresher,
)
from aiproxyapi.cache import ResponseCache, build_cache
from aiproxyapi.config import Config, ConfigError, LoadedConfig, load_config
from aiproxyapi.conversation import ConversationStore
from aiproxyapi.credential import ApiKeyCredential
from aiproxyapi.executors import HttpClients, UpstreamTimeouts
from aiproxyapi.logs import configure_logging, set_secrets
from aiproxyapi.policy import Admission, ledger_for
from aiproxyapi.pool import PoolState
from aiproxyapi.runtime import Runtime, RuntimeHolder, build_runtime
from aiproxyapi.shared import RedisLink, SharedRefreshLock, share_pool
from aiproxyapi.usage import UsageBook, UsageRecord, UsageSnapshot, UsageStore, records_for
from storage import ChangeKind, FileStore, MirroredStore, Store, StoreError, StoreHealth

if TYPE_CHECKING:
    from aiproxyapi.observe.metrics import GatewayMetrics
    from aiproxyapi.usage.cluster import ClusterUsage

__all__ = ["Gateway", "ReloadOutcome", "default_store", "log_dir_for", "usage_path_for"]

log = logging.getLogger("aiproxyapi.gateway")

_RESTART_KEYS = ("host", "port", "auth_dir", "tls", "auth_auto_refresh_workers", "redis")


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What a reload did: applied, skipped as unchanged, or rejected with the reason."""

    applied: bool
    reason: str = ""


def usage_path_for(config: Config) -> Path:
    """Where usage statistics are persisted for a config."""
    return Path(config.auth_dir).expanduser() / "usage" / "usage-statistics.json"


def default_store(config: Config, config_path: Path | None) -> Store:
    """The file store: auth records in auth-dir, the config beside them or where it was read."""
    auth_dir = Path(config.auth_dir).expanduser()
    return FileStore(auth_dir, config_path if config_path is not None else auth_dir / "config.yaml")


def _usage_store(store: Store, config: Config, book: UsageBook) -> UsageStore:
    """Usage in auth-dir's file with the file store; a state document of a remote store."""
    if isinstance(store, MirroredStore):
        key = f"usage-{store.instance_id()}"
        return UsageStore(usage_path_for(config), book, store=store, key=key)
    return UsageStore(usage_path_for(config), book)


def _cluster_usage(
    link: RedisLink | None, store: Store, config: Config, book: UsageBook
) -> ClusterUsage | None:
    """With a shared Redis, this instance's usage added into the cluster's totals there."""
    if link is None:
        return None
    from aiproxyapi.usage.cluster import ClusterUsage, instance_id_at

    if isinstance(store, MirroredStore):
        instance = store.instance_id()
    else:
        instance = instance_id_at(usage_path_for(config).with_name("instance-id"))
    return ClusterUsage(link, book, instance)


def log_dir_for(config: Config, config_path: Path | None) -> Path:
    """Where `logging-to-file` writes: `logs/` beside the config file, else under auth-dir."""
    if config_path is not None:
        return config_path.resolve().parent / "logs"
    return Path(config.auth_dir).expanduser() / "logs"


class Gateway:
    """One running gateway: the current runtime plus everything that survives reloads."""

    def __init__(
        self,
        loaded: LoadedConfig,
        config_path: Path | None,
        store: Store | None = None,
        *,
        store_started: bool = False,
        extra_secrets: Iterable[str] = (),
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.config_path = config_path.absolute() if config_path is not None else None
        self.store = store if store is not None else default_store(loaded.config, config_path)
        """Where auth records and state live; the config file's own store by default."""
        self._store_started = store_started
        self._extra_secrets = tuple(extra_secrets)
        self.state = PoolState()
        self.redis: RedisLink | None = (
            RedisLink.from_settings(loaded.config.redis) if loaded.config.redis.enabled else None
        )
        """The shared Redis of several instances (`redis.url`); None keeps state in memory."""
        if self.redis is not None:
            share_pool(self.redis, self.state)
        self.clients = HttpClients()
        self.book = UsageBook()
        self.admission = Admission(ledger_for(self.redis), self.store)
        """Key policies: rates, budgets and their persisted spend."""
        self.conversations = ConversationStore(self.store)
        self.cache: ResponseCache | None = build_cache(loaded.config.cache, self.redis)
        self.accounts = AccountBook(
            self.store,
            self.state,
            lifecycle or default_lifecycle(),
            client_for=self._token_client,
            on_tokens=self._refresh_secrets,
            lock=SharedRefreshLock(self.redis) if self.redis is not None else None,
            on_records=lambda: self.rebuild("auth record renewed elsewhere"),
        )
        """Live OAuth accounts: tokens and lifecycle state, outside any runtime snapshot."""
        self._digest = loaded.digest
        self._generation = 1
        runtime = build_runtime(
            loaded.config,
            state=self.state,
            clients=self.clients,
            generation=1,
            accounts=self.accounts,
        )
        self.holder = RuntimeHolder(runtime)
        self.usage_store = _usage_store(self.store, loaded.config, self.book)
        self.cluster_usage = _cluster_usage(self.redis, self.store, loaded.config, self.book)
        """Usage of every instance added up in Redis; None without a shared Redis."""
        self.records = records_for(Path(loaded.config.auth_dir), os.environ)
        """Every finished request, one record each (SQLite, or PostgreSQL when it is the store)."""
        self._tasks: list[asyncio.Task[None]] = []
        self.metrics: GatewayMetrics | None = None
        """Created when `metrics.enable` is first true; fed at the end of every request."""
        self.reloads = 0
        self._closing: set[asyncio.Task[None]] = set()
        self.reload_failures = 0
        self.last_reload_error = ""
        self._apply_side_effects(None, runtime)

    @property
    def runtime(self) -> Runtime:
        """The snapshot new requests use."""
        return self.holder.current

    def record_usage(self, record: UsageRecord) -> None:
        """The usage sink every finished request reports to."""
        self.book.add(record)
        if self.cluster_usage is not None:
            self.cluster_usage.add(record)
        self.records.add(record)
        if self.metrics is not None:
            self.metrics.observe(record)
        if self.runtime.config.usage_statistics_enabled:
            self.usage_store.mark_dirty()
        self.admission.settle(record)

    async def usage_snapshot(self) -> tuple[UsageSnapshot, str]:
        """The usage totals to report and their scope: `cluster` (from Redis) or `instance`."""
        if self.cluster_usage is not None:
            await self.cluster_usage.flush()  # what this instance answered so far is counted
            shared = await self.cluster_usage.read()
            if shared is not None:
                return shared, "cluster"
        return self.book.snapshot(), "instance"

    def merge_usage(self, snapshot: UsageSnapshot) -> None:
        """Add imported usage to the book (and to the cluster's totals)."""
        self.book.merge_snapshot(snapshot)
        if self.cluster_usage is not None:
            self.cluster_usage.merge_snapshot(snapshot)
        if self.runtime.config.usage_statistics_enabled:
            self.usage_store.mark_dirty()

    def store_health(self) -> StoreHealth:
        """The store's backend kind, ok/degraded/down, queued writes and last error (redacted)."""
        if isinstance(self.store, MirroredStore):
            return self.store.health()
        return StoreHealth(self.store.kind, "ok", 0)

    async def start(self) -> None:
        """Start the store (unless the caller did), load persisted usage, start the loops."""
        if not self._store_started:
            await self.store.start()
            self._store_started = True
        if self.redis is not None:
            await self.redis.start()
        await self.records.start()
        if await load_records(self.accounts, self.store):
            self.rebuild("auth records loaded")
        if self.runtime.config.usage_statistics_enabled:
            await self.usage_store.load_async()
        self._tasks.append(asyncio.create_task(self.usage_store.run(), name="usage-flush"))
        if self.cluster_usage is not None:
            self._tasks.append(asyncio.create_task(self.cluster_usage.run(), name="usage-cluster"))
        if not isinstance(self.store, FileStore):
            # A file store's config changes are the file edits the watcher below sees.
            self._tasks.append(asyncio.create_task(self._follow_config(), name="store-config"))
        await self.admission.load()
        self._tasks.append(asyncio.create_task(self.admission.run(), name="key-spend-flush"))
        self._tasks.append(
            asyncio.create_task(
                follow_records(self.accounts, self.store, lambda: self.rebuild("auth records")),
                name="auth-records",
            )
        )
        workers = self.runtime.config.auth_auto_refresh_workers
        self._tasks.append(
            asyncio.create_task(run_refresher(self.accounts, workers=workers), name="refresher")
        )
        if self.config_path is not None:
            from aiproxyapi.watch import watch_config

            # Outside the main thread (an embedding program) there is no SIGHUP; the watcher stays.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload)

            self._tasks.append(
                asyncio.create_task(watch_config(self.config_path, self.reload), name="watch")
            )

    async def _follow_config(self) -> None:
        """Reload when the store reports a config change (another instance wrote it)."""
        while True:
            try:
                async for change in self.store.changes():
                    if change.kind is ChangeKind.CONFIG and not change.deleted:
                        self.reload()
            except asyncio.CancelledError:
                raise
            except Exception:  # the follower must outlive any store trouble
                log.exception("following store changes failed; following again")
            await asyncio.sleep(1.0)

    async def stop(self) -> None:
        """Stop the loops, persist usage, close upstream connections."""
        tasks, self._tasks = list(self._tasks), []
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # a loop that died must not stop the flushes below
                log.exception("background task %s had failed", task.get_name())
        await self.accounts.close()
        if self.runtime.config.usage_statistics_enabled:
            try:
                await self.usage_store.flush()
            except (OSError, StoreError) as exc:
                log.error("could not persist usage statistics at shutdown: %s", exc)
        try:
            await self.admission.flush()
        except (StoreError, OSError) as exc:
            log.error("could not persist key spend at shutdown: %s", exc)
        if self.cluster_usage is not None and not await self.cluster_usage.flush():
            log.error("usage counted during a Redis outage did not reach the cluster totals")
        if self.cache is not None:
            await self.cache.close()
        if self.redis is not None:
            await self.redis.close()
        # Caches a reload replaced are closing in the background: let them finish.
        await asyncio.gather(*self._closing, return_exceptions=True)
        await self.records.close()
        await self.clients.aclose()
        await self.store.close()
        self._store_started = False

    def reload(self) -> ReloadOutcome:
        """Re-read the config file; apply it only when it is valid and safe."""
        if self.config_path is None:
            return ReloadOutcome(False, "no config file")
        try:
            loaded = load_config(self.config_path)
        except (ConfigError, OSError) as exc:
            return self._reject(str(exc))
        if loaded.digest == self._digest:
            return ReloadOutcome(False, "unchanged")
        try:
            runtime = build_runtime(
                loaded.config,
                state=self.state,
                clients=self.clients,
                generation=self._generation + 1,
                accounts=self.accounts,
            )
        except (UnsafeConfigError, ValueError) as exc:
            return self._reject(str(exc))
        for warning in loaded.warnings:
            log.warning("config: %s", warning)
        self._generation += 1
        self.reloads += 1
        self._digest = loaded.digest
        old = self.holder.swap(runtime)
        self.state.prune(c.id for c in runtime.credentials)
        self._apply_side_effects(old, runtime)
        log.info(
            "config reloaded (generation %d): %s",
            runtime.generation,
            ", ".join(_changed_keys(old.config, runtime.config)) or "no effective change",
        )
        if isinstance(self.store, MirroredStore):
            # An edit of the mirror's config file reaches the backend once it proved valid.
            self._spawn(self._adopt_config())
        return ReloadOutcome(True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run one piece of follow-up work of a reload; stop() cancels it if still running."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.append(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)

    async def _adopt_config(self) -> None:
        assert isinstance(self.store, MirroredStore)
        try:
            await self.store.adopt_local(ChangeKind.CONFIG)
        except StoreError as exc:
            log.error("could not send the edited config to the store: %s", exc)

    def rebuild(self, reason: str) -> bool:
        """A new runtime around the same config, after the auth records changed."""
        current = self.runtime
        try:
            runtime = build_runtime(
                current.config,
                state=self.state,
                clients=self.clients,
                generation=self._generation + 1,
                accounts=self.accounts,
            )
        except (UnsafeConfigError, ValueError) as exc:
            log.error(
                "runtime rebuild after %s failed, the previous one keeps serving: %s", reason, exc
            )
            return False
        self._generation += 1
        self.holder.swap(runtime)
        self.state.prune(c.id for c in runtime.credentials)
        self._publish_secrets(runtime)
        log.info(
            "%s: runtime rebuilt (generation %d, %d credentials)",
            reason,
            runtime.generation,
            len(runtime.credentials),
        )
        return True

    def _token_client(self, proxy_url: str) -> httpx.AsyncClient:
        config = self.runtime.config
        timeouts = UpstreamTimeouts(config.timeouts.connect_seconds, config.timeouts.idle_seconds)
        return self.clients.get(proxy_url, config.proxy_url, timeouts)

    def _refresh_secrets(self) -> None:
        # Called from the account book during __init__ too, before the holder exists.
        holder = getattr(self, "holder", None)
        if holder is not None:
            self._publish_secrets(holder.current)

    def _publish_secrets(self, runtime: Runtime) -> None:
        """Hand every secret the runtime, the accounts and the store carry to the log scrubber."""
        extra = getattr(self, "_extra_secrets", ())
        set_secrets([*_secrets_of(runtime, self.accounts), *extra])

    def _reject(self, reason: str) -> ReloadOutcome:
        self.reload_failures += 1
        self.last_reload_error = reason
        log.error("config reload rejected, the previous config keeps serving: %s", reason)
        return ReloadOutcome(False, reason)

    def _apply_side_effects(self, old: Runtime | None, new: Runtime) -> None:
        config = new.config
        self._publish_secrets(new)
        self.clients.egress = new.egress
        if config.metrics.enable and self.metrics is None:
            from aiproxyapi.observe.metrics import GatewayMetrics

            self.metrics = GatewayMetrics(self)
            self.clients.on_upstream_headers = self.metrics.observe_upstream
        if old is None or (old.config.debug, old.config.logging_to_file, old.config.log_format) != (
            config.debug,
            config.logging_to_file,
            config.log_format,
        ):
            log_dir = log_dir_for(config, self.config_path) if config.logging_to_file else None
            json_lines = config.log_format == "json"
            configure_logging(debug=config.debug, log_dir=log_dir, json_lines=json_lines)
        if old is None:
            return
        if old.config.cache != config.cache:
            self._replace_cache(build_cache(config.cache, self.redis))
        for key in _RESTART_KEYS:
            if getattr(old.config, key) != getattr(config, key):
                log.warning("%s changed: takes effect after a restart", key.replace("_", "-"))
        if config.usage_statistics_enabled and not old.config.usage_statistics_enabled:
            if self.usage_store.store is None:
                self.usage_store.load()
                self.usage_store.mark_dirty()
            else:  # reading a state document takes the loop: a reload runs on it
                self._spawn(self._enable_usage())

    async def _enable_usage(self) -> None:
        await self.usage_store.load_async()
        self.usage_store.mark_dirty()

    def _replace_cache(self, cache: ResponseCache | None) -> None:
        old, self.cache = self.cache, cache
        with contextlib.suppress(RuntimeError):  # no loop: nothing was ever connected
            if old is None:
                return
            task = asyncio.get_running_loop().create_task(old.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)


def _secrets_of(runtime: Runtime, accounts: AccountBook) -> list[str]:
    secrets = [c.api_key.reveal() for c in runtime.credentials if isinstance(c, ApiKeyCredential)]
    secrets.extend(runtime.config.api_keys)
    secrets.extend(accounts.secrets())
    # The management secret (plaintext until it is hashed, then its hash) and the password.
    secrets.append(runtime.config.management.secret_key.strip())
    secrets.append(os.environ.get("MANAGEMENT_PASSWORD", ""))
    for url in (runtime.config.cache.redis_url, runtime.config.redis.url):
        if url:  # may carry a password
            secrets.append(url)
            secrets.append(urllib.parse.unquote(urllib.parse.urlsplit(url).password or ""))
    return secrets


def _changed_keys(old: Config, new: Config) -> list[str]:
    return [
        key
        for name, key in zip(Config.__struct_fields__, Config.__struct_encode_fields__, strict=True)
        if getattr(old, name) != getattr(new, name)
    ]
