"""Start the gateway: choose the config, build the gateway, serve it with uvicorn."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from typing import Any

from aiproxyapi.access import UnsafeConfigError
from aiproxyapi.api import create_app
from aiproxyapi.config import Config, ConfigError, LoadedConfig, load_config, parse_config
from aiproxyapi.gateway import Gateway
from aiproxyapi.observe import RequestCapture
from aiproxyapi.serving import ConnectionLimits, TlsFilesError, check_tls_files, run_server

__all__ = ["DEFAULT_CONFIG_TEXT", "application", "resolve_config", "serve", "serve_gateway"]

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
    for warning in loaded.warnings:
        log.warning("config: %s", warning)
    if embedded:
        log.warning(_NEXT_STEPS.format(path=path))
    return serve_gateway(gateway)


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
    """Serve a built gateway until stopped and drained; the process exit code."""
    config = gateway.runtime.config
    try:
        check_tls_files(config)
    except TlsFilesError as exc:
        print(f"aiproxyapi: refusing to start: {exc}", file=sys.stderr)
        return 2
    _announce(gateway, config)

    def limits() -> ConnectionLimits:
        current = gateway.runtime.config.limits
        return ConnectionLimits(current.header_timeout_seconds, current.client_idle_seconds)

    run_server(
        application(gateway),
        config,
        limits=limits,
        drain_seconds=lambda: gateway.runtime.config.shutdown_timeout_seconds,
        stop=stop,
        host=host,
        port=port,
    )
    return 0


def _announce(gateway: Gateway, config: Config) -> None:
    runtime = gateway.runtime
    log.info(
        "aiproxyapi serving on %s://%s:%d: %d credential(s), %d model(s), strategy %s, client keys: %s",
        "https" if config.tls.enable else "http",
        config.host or "0.0.0.0",  # noqa: S104
        config.port,
        len(runtime.credentials),
        len(runtime.registry.entries()),
        config.routing.resolved_strategy.value,
        "none (loopback only)" if runtime.client_keys.open else str(len(config.api_keys)),
    )
