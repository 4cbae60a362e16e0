"""Run the gateway inside another Python program: `create_app(config)` and `serve(config)`.

::

    import aiproxyapi

    app = aiproxyapi.create_app("port: 8317\\napi-keys: [k]\\n...")   # an ASGI app
    aiproxyapi.serve(Path("config.yaml"))                            # blocks until stopped

`config` is a `Config`, a `LoadedConfig`, a path (`pathlib.Path` or any `os.PathLike`: the file
is watched and reloaded on change), or a `str` holding YAML text. The app serves exactly what
the `aiproxyapi` command serves; `serve` adds what the command adds around it (TLS, connection
deadlines, drain on SIGTERM) and stops when `stop` (a `threading.Event`) is set.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any, TypeAlias

from aiproxyapi.config import Config, LoadedConfig, load_config, parse_config
from aiproxyapi.gateway import Gateway
from aiproxyapi.server import application, serve_gateway
from storage import Store

__all__ = ["ConfigSource", "build_gateway", "create_app", "serve"]

ConfigSource: TypeAlias = Config | LoadedConfig | os.PathLike[str] | str


def build_gateway(config: ConfigSource, *, store: Store | None = None) -> Gateway:
    """A gateway for a config given in any of the accepted forms; raises ConfigError when bad."""
    path: Path | None = None
    if isinstance(config, Config):
        digest = hashlib.sha256(repr(config).encode()).hexdigest()
        loaded = LoadedConfig(config=config, warnings=(), digest=digest)
    elif isinstance(config, LoadedConfig):
        loaded = config
    elif isinstance(config, str):
        loaded = parse_config(config, "<embedded config>")
    else:
        path = Path(config)
        loaded = load_config(path)
    return Gateway(loaded, path, store=store)


def create_app(config: ConfigSource, *, store: Store | None = None) -> Any:
    """The gateway as an ASGI app; its lifespan starts and stops the gateway's background work."""
    return application(build_gateway(config, store=store))


def serve(
    config: ConfigSource,
    *,
    stop: threading.Event | None = None,
    host: str | None = None,
    port: int | None = None,
    store: Store | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT (main thread) or `stop` is set, drain, return 0 (2: bad TLS)."""
    return serve_gateway(build_gateway(config, store=store), stop=stop, host=host, port=port)
