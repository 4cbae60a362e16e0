"""The gateway's long-lived parts and the reload path that swaps its runtime snapshot.

What outlives a reload lives here: pool state (cooldowns, counters, cursors), the upstream HTTP
clients, the usage book. A reload validates the new file, builds a complete new runtime around
these parts, and swaps one reference; any failure on the way leaves the old runtime serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

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
from aiproxyapi.config import Config, ConfigError, LoadedConfig, load_config
from aiproxyapi.credential import ApiKeyCredential
from aiproxyapi.executors import HttpClients, UpstreamTimeouts
from aiproxyapi.logs import configure_logging, set_secrets
from aiproxyapi.pool import PoolState
from aiproxyapi.runtime import Runtime, RuntimeHolder, build_runtime
from aiproxyapi.usage import UsageBook, UsageRecord, UsageStore
from storage import FileStore, Store

__all__ = ["Gateway", "ReloadOutcome", "default_store", "log_dir_for", "usage_path_for"]

log = logging.getLogger("aiproxyapi.gateway")

_RESTART_KEYS = ("host", "port", "auth_dir", "auth_auto_refresh_workers")


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
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.config_path = config_path.absolute() if config_path is not None else None
        self.store = store if store is not None else default_store(loaded.config, config_path)
        """Where auth records and state live; the config file's own store by default."""
        self.state = PoolState()
        self.clients = HttpClients()
        self.book = UsageBook()
        self.accounts = AccountBook(
            self.store,
            self.state,
            lifecycle or default_lifecycle(),
            client_for=self._token_client,
            on_tokens=self._refresh_secrets,
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
        self.usage_store = UsageStore(usage_path_for(loaded.config), self.book)
        self._tasks: list[asyncio.Task[None]] = []
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
        if self.runtime.config.usage_statistics_enabled:
            self.usage_store.mark_dirty()

    async def start(self) -> None:
        """Load persisted usage and start the background loops."""
        await self.store.start()
        if await load_records(self.accounts, self.store):
            self.rebuild("auth records loaded")
        if self.runtime.config.usage_statistics_enabled:
            self.usage_store.load()
        self._tasks.append(asyncio.create_task(self.usage_store.run(), name="usage-flush"))
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

            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.reload)

            self._tasks.append(
                asyncio.create_task(watch_config(self.config_path, self.reload), name="watch")
            )

    async def stop(self) -> None:
        """Stop the loops, persist usage, close upstream connections."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.accounts.close()
        if self.runtime.config.usage_statistics_enabled:
            try:
                await self.usage_store.flush()
            except OSError as exc:
                log.error("could not persist usage statistics at shutdown: %s", exc)
        await self.clients.aclose()
        await self.store.close()

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
        self._digest = loaded.digest
        old = self.holder.swap(runtime)
        self.state.prune(c.id for c in runtime.credentials)
        self._apply_side_effects(old, runtime)
        log.info(
            "config reloaded (generation %d): %s",
            runtime.generation,
            ", ".join(_changed_keys(old.config, runtime.config)) or "no effective change",
        )
        return ReloadOutcome(True)

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
        set_secrets(_secrets_of(runtime, self.accounts))
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
            set_secrets(_secrets_of(holder.current, self.accounts))

    def _reject(self, reason: str) -> ReloadOutcome:
        self.reload_failures += 1
        self.last_reload_error = reason
        log.error("config reload rejected, the previous config keeps serving: %s", reason)
        return ReloadOutcome(False, reason)

    def _apply_side_effects(self, old: Runtime | None, new: Runtime) -> None:
        config = new.config
        set_secrets(_secrets_of(new, self.accounts))
        if old is None or (old.config.debug, old.config.logging_to_file) != (
            config.debug,
            config.logging_to_file,
        ):
            log_dir = log_dir_for(config, self.config_path) if config.logging_to_file else None
            configure_logging(debug=config.debug, log_dir=log_dir)
        if old is None:
            return
        for key in _RESTART_KEYS:
            if getattr(old.config, key) != getattr(config, key):
                log.warning("%s changed: takes effect after a restart", key.replace("_", "-"))
        if config.usage_statistics_enabled and not old.config.usage_statistics_enabled:
            self.usage_store.load()
            self.usage_store.mark_dirty()


def _secrets_of(runtime: Runtime, accounts: AccountBook) -> list[str]:
    secrets = [c.api_key.reveal() for c in runtime.credentials if isinstance(c, ApiKeyCredential)]
    secrets.extend(runtime.config.api_keys)
    secrets.extend(accounts.secrets())
    return secrets


def _changed_keys(old: Config, new: Config) -> list[str]:
    return [
        name.replace("_", "-")
        for name in Config.__struct_fields__
        if getattr(old, name) != getattr(new, name)
    ]
