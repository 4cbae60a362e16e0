"""Start the gateway: choose the config and the store, build the gateway, serve it with uvicorn.

The store comes from the environment (:func:`storage.store_from_env`): the file store over
auth-dir by default, or PostgreSQL, S3 or Git behind a local mirror. With a remote backend the
store is started first (seeding an empty backend from the local config, else from
config.example.yaml, else from the embedded default); the config the gateway then loads and
watches is the mirror's ``config/config.yaml``. Everything runs on one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiproxyapi.access import UnsafeConfigError
from aiproxyapi.api import create_app
from aiproxyapi.config import Config, ConfigError, LoadedConfig, load_config, parse_config
from aiproxyapi.gateway import Gateway
from aiproxyapi.logs import configure_logging
from aiproxyapi.observe import RequestCapture
from aiproxyapi.serving import (
    ConnectionLimits,
    GatewayServer,
    TlsFilesError,
    build_server,
    check_tls_files,
)
from storage import MirroredStore, Store, StoreError, store_from_env
from storage.select import store_secrets

__all__ = [
    "DEFAULT_CONFIG_TEXT",
    "application",
    "resolve_config",
    "seed_config_text",
    "serve",
    "serve_gateway",
]

log = logging.getLogger("aiproxyapi.server")

DEFAULT_CONFIG_TEXT = """\
# Embedded default: loopback only, no client keys, no credentials.
host: "127.0.0.1"
port: 8317
auth-dir: "~/.cli-proxy-api"
"""

_NEXT_STEPS = (
    "no config file found (looked for {path}): serving the embedded default on "
    "http://127.0.0.1:8317 with no credentials. Next: copy config.example.yaml to {path}, "
    "add your api-keys and an openai-compatibility entry; the gateway picks the file up by itself."
)


def resolve_config(explicit: str | None) -> tuple[LoadedConfig, Path, bool]:
    """The config to start with, the path to watch, and whether the embedded default is used."""
    if explicit is not None:
        path = Path(explicit)
        return load_config(path), path, False
    path = Path.cwd() / "config.yaml"
    if path.is_file():
        return load_config(path), path, False
    return parse_config(DEFAULT_CONFIG_TEXT, "<embedded default>"), path, True


def seed_config_text(local: Path) -> bytes:
    """What an empty backend starts with: the local config, config.example.yaml, the default."""
    package = Path(__file__).resolve().parent
    for candidate in (
        local,
        package / "config.example.yaml",
        package.parent / "config.example.yaml",
    ):
        with contextlib.suppress(OSError):
            return candidate.read_bytes()
    return DEFAULT_CONFIG_TEXT.encode()


def serve(explicit_config: str | None, *, port: int | None = None) -> int:
    """Run the gateway until it is stopped; the process exit code."""
    try:
        loaded, path, embedded = resolve_config(explicit_config)
    except ConfigError as exc:
        return _fail("config error", exc, 2)
    except OSError as exc:
        return _fail("refusing to start", exc, 2)
    configure_logging(
        debug=loaded.config.debug, log_dir=None, json_lines=loaded.config.log_format == "json"
    )
    environ = dict(os.environ)
    try:
        auth_dir = Path(loaded.config.auth_dir).expanduser()
        store, where = store_from_env(environ, auth_dir=auth_dir, config_path=path)
    except StoreError as exc:
        return _fail("storage", exc, 2)
    log.info("storage: %s", where)
    start = _Start(loaded, path, embedded, store, store_secrets(environ), port)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(_serve(start))


@dataclass(frozen=True, slots=True)
class _Start:
    """What the command line and the environment decided before the event loop runs."""

    loaded: LoadedConfig
    path: Path
    embedded: bool
    store: Store
    secrets: list[str]
    port: int | None


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _fail(kind: str, exc: BaseException, code: int) -> int:
    message = " ".join(str(exc).split())  # one line, whatever the cause put in it
    print(f"aiproxyapi: {kind}: {message}", file=sys.stderr)
    return code


async def _open_store(store: Store, local_config: Path) -> Path:
    """Start a remote store, give an empty one a config; the mirror's config path."""
    assert isinstance(store, MirroredStore)
    await store.start()
    if await store.read_config() is None:
        await store.write_config(seed_config_text(local_config))
        log.info("storage: the %s backend had no config; wrote the seed config", store.kind)
    return store.config_path


async def _serve(start: _Start) -> int:
    store, loaded, path, embedded = start.store, start.loaded, start.path, start.embedded
    remote = isinstance(store, MirroredStore)
    try:
        if remote:
            try:
                path = await _open_store(store, path)
            except StoreError as exc:
                await store.close()
                return _fail("storage", exc, 1)
            loaded, embedded = await asyncio.to_thread(load_config, path), False
        gateway = Gateway(loaded, path, store, store_started=remote, extra_secrets=start.secrets)
    except ConfigError as exc:
        await store.close()
        return _fail("config error", exc, 2)
    except (UnsafeConfigError, OSError) as exc:
        await store.close()
        return _fail("refusing to start", exc, 2)
    config = loaded.config
    for warning in loaded.warnings:
        log.warning("config: %s", warning)
    if embedded:
        log.warning(_NEXT_STEPS.format(path=path))
    listen_port = start.port if start.port is not None else config.port
    try:
        check_tls_files(config)
    except TlsFilesError as exc:
        await store.close()
        return _fail("refusing to start", exc, 2)
    _announce(gateway, config, listen_port)
    server = _server_for(gateway, port=listen_port, own_process=True)
    try:
        await server.serve()
    finally:
        if remote and not server.started:
            await store.close()  # the lifespan never ran, so the gateway never closed it
    return 0


def application(gateway: Gateway) -> Any:
    """The ASGI app of a gateway: its routes, wrapped in the request and error log capture."""
    return RequestCapture(create_app(gateway), gateway)


def serve_gateway(
    gateway: Gateway,
    *,
    stop: threading.Event | None = None,
    host: str | None = None,
    port: int | None = None,
) -> int:
    """Serve a built gateway until stopped and drained (its own event loop); the exit code."""
    config = gateway.runtime.config
    try:
        check_tls_files(config)
    except TlsFilesError as exc:
        return _fail("refusing to start", exc, 2)
    _announce(gateway, config, port if port is not None else config.port)
    _server_for(gateway, stop=stop, host=host, port=port).run()
    return 0


def _server_for(
    gateway: Gateway,
    *,
    stop: threading.Event | None = None,
    host: str | None = None,
    port: int | None = None,
    own_process: bool = False,
) -> GatewayServer:
    def limits() -> ConnectionLimits:
        current = gateway.runtime.config.limits
        return ConnectionLimits(
            current.header_timeout_seconds,
            current.client_idle_seconds,
            body_seconds=current.body_timeout_seconds,
        )

    return build_server(
        application(gateway),
        gateway.runtime.config,
        limits=limits,
        drain_seconds=lambda: gateway.runtime.config.shutdown_timeout_seconds,
        stop=stop,
        host=host,
        port=port,
        own_process=own_process,
    )


def _announce(gateway: Gateway, config: Config, port: int) -> None:
    runtime = gateway.runtime
    log.info(
        "aiproxyapi serving on %s://%s:%d: %d credential(s), %d model(s), strategy %s, client keys: %s",
        "https" if config.tls.enable else "http",
        config.host or "0.0.0.0",  # noqa: S104
        port,
        len(runtime.credentials),
        len(runtime.registry.entries()),
        config.routing.resolved_strategy.value,
        "none (loopback only)" if runtime.client_keys.open else str(len(config.api_keys)),
    )
