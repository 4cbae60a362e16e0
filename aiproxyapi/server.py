"""Start the gateway: choose the config, build the gateway, serve it with uvicorn."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from aiproxyapi.access import UnsafeConfigError
from aiproxyapi.api import create_app
from aiproxyapi.config import Config, ConfigError, LoadedConfig, load_config, parse_config
from aiproxyapi.gateway import Gateway

__all__ = ["DEFAULT_CONFIG_TEXT", "resolve_config", "serve"]

log = logging.getLogger("aiproxyapi.server")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

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


def serve(explicit_config: str | None) -> int:
    """Run the gateway until it is stopped; the process exit code."""
    try:
        loaded, path, embedded = resolve_config(explicit_config)
        gateway = Gateway(loaded, path)
    except ConfigError as exc:
        print(f"aiproxyapi: config error: {exc}", file=sys.stderr)
        return 2
    except (UnsafeConfigError, OSError) as exc:
        print(f"aiproxyapi: refusing to start: {exc}", file=sys.stderr)
        return 2
    config = loaded.config
    for warning in loaded.warnings:
        log.warning("config: %s", warning)
    if embedded:
        log.warning(_NEXT_STEPS.format(path=path))
    _announce(gateway, config)
    server = _Server(
        uvicorn.Config(
            create_app(gateway),
            host=config.host or "0.0.0.0",  # noqa: S104 - an empty host means every interface
            port=config.port,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            access_log=False,
            log_config=None,
            server_header=False,
            # Who the peer is comes from the socket, never from X-Forwarded-For.
            proxy_headers=False,
            timeout_graceful_shutdown=30,
        )
    )
    server.run()
    return 0


class _Server(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal at exit: a clean stop exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Route SIGINT and SIGTERM to a graceful shutdown for the life of the server."""
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _announce(gateway: Gateway, config: Config) -> None:
    runtime = gateway.runtime
    log.info(
        "aiproxyapi serving on %s:%d: %d credential(s), %d model(s), strategy %s, client keys: %s",
        config.host or "0.0.0.0",  # noqa: S104
        config.port,
        len(runtime.credentials),
        len(runtime.registry.entries()),
        config.routing.resolved_strategy.value,
        "none (loopback only)" if runtime.client_keys.open else str(len(config.api_keys)),
    )
