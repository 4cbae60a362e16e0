"""Run an ASGI app under uvicorn with the gateway's lifecycle: TLS, drain on SIGTERM, stop.

SIGTERM or SIGINT starts a drain: the listening sockets close at once (new connections are
refused), idle keep-alive connections close, requests and streams in flight run on for up to
`shutdown-timeout-seconds` (read when the drain starts, so a reload applies), then whatever is
left is cancelled, the app's shutdown hook saves usage, and the process exits 0. A second signal
cuts the drain short. An embedding program stops the server the same way with a
`threading.Event`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from aiproxyapi.config import Config
from aiproxyapi.serving.accept import open_acceptors
from aiproxyapi.serving.memory import IdleTrim
from aiproxyapi.serving.protocol import ConnectionLimits, guarded_protocol

__all__ = ["GatewayServer", "TlsFilesError", "build_server", "check_tls_files"]

log = logging.getLogger("aiproxyapi.server")

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_TUNE_AFTER = 1.0
_YOUNG_THRESHOLD = 20_000


class TlsFilesError(Exception):
    """The configured certificate or key cannot be used; the message names the key."""


def check_tls_files(config: Config) -> None:
    """Load the configured certificate and key once, so a bad pair fails before serving."""
    tls = config.tls
    if not tls.enable:
        return
    for name, value in (("tls.cert", tls.cert), ("tls.key", tls.key)):
        path = Path(value).expanduser()
        if not path.is_file():
            raise TlsFilesError(f"{name}: no readable file at {path}")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(Path(tls.cert).expanduser(), Path(tls.key).expanduser())
    except (ssl.SSLError, OSError) as exc:
        raise TlsFilesError(
            f"tls.cert / tls.key: not a usable certificate and key ({exc})"
        ) from None


class GatewayServer(uvicorn.Server):
    """uvicorn's server with a drain timeout read at shutdown and an optional external stop."""

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        drain_seconds: Callable[[], float],
        stop: threading.Event | None = None,
        own_process: bool = False,
    ) -> None:
        super().__init__(config)
        self._drain_seconds = drain_seconds
        self._stop = stop
        self._own_process = own_process
        # Process-wide memory is the process's to release: not an embedding program's.
        self._idle_trim = IdleTrim() if own_process else None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start-up; then, in a process of its own, the garbage collector is tuned.

        Everything built to start (modules, config, routes, the runtime) lives as long as the
        process: frozen, the collector stops walking it. And the young generation is collected
        less often (see `_tune_collector`).
        """
        if sockets is None and self._accepts_itself():
            await self._start_accepting()
        else:
            await super().startup(sockets)
        if self._own_process and not self.should_exit:
            # A second on, so the collection does not delay the first requests.
            asyncio.get_running_loop().call_later(_TUNE_AFTER, _tune_collector)

    def _accepts_itself(self) -> bool:
        """Under uvloop a host and port are served by `accept.Acceptor` (see its module)."""
        config = self.config
        loop = asyncio.get_running_loop()
        return (
            config.uds is None and config.fd is None and type(loop).__module__.startswith("uvloop")
        )

    async def _start_accepting(self) -> None:
        # uvicorn's own start-up, with the listening sockets this module accepts on.
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config = self.config

        def create_protocol() -> asyncio.Protocol:
            protocol: asyncio.Protocol = config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )
            return protocol

        try:
            acceptors = open_acceptors(
                asyncio.get_running_loop(),
                config.host,
                config.port,
                create_protocol,
                tls=config.ssl,
                backlog=config.backlog,
            )
        except OSError as exc:
            log.error("%s", exc)
            await self.lifespan.shutdown()
            sys.exit(STARTUP_FAILURE)
        self.servers = acceptors  # type: ignore[assignment]
        self._log_started_message([sock for a in acceptors for sock in a.sockets])
        self.started = True

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM drain; a clean stop is exit 0, not a re-raised signal."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """The first stop signal drains; a second one ends the drain at once."""
        if self.should_exit:
            self.force_exit = True
        else:
            self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        """uvicorn's tick (10 a second), the embedding program's stop event, the idle check.

        Twice a second, `memory.IdleTrim` sees whether a burst is over and memory can go back.
        """
        if self._stop is not None and self._stop.is_set():
            self.should_exit = True
        if self._idle_trim is not None and counter % 5 == 0:
            state = self.server_state
            self._idle_trim.tick(
                state.total_requests, lambda: any(_busy(c) for c in state.connections)
            )
        return await super().on_tick(counter)

    async def shutdown(self, sockets: Any = None) -> None:
        """Drain for the timeout configured now, then let uvicorn cancel what is left."""
        seconds = self._drain_seconds()
        # uvicorn types the timeout as int; asyncio takes any number of seconds.
        self.config.timeout_graceful_shutdown = seconds  # type: ignore[assignment]
        busy = sum(1 for c in self.server_state.connections if _busy(c))
        log.info("draining: %d request(s) in flight, up to %.0f s", busy, seconds)
        await super().shutdown(sockets)


def _tune_collector() -> None:
    gc.collect()
    gc.freeze()
    # Requests free their objects by reference counting; a young-generation pass every 700
    # allocations mostly re-walks the objects of the requests in flight. Every 20,000 it
    # still runs several times a second under load.
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_YOUNG_THRESHOLD, older, oldest)


def _busy(connection: Any) -> bool:
    cycle = getattr(connection, "cycle", None)
    return cycle is not None and not cycle.response_complete


def build_server(
    app: Any,
    config: Config,
    *,
    limits: Callable[[], ConnectionLimits],
    drain_seconds: Callable[[], float],
    stop: threading.Event | None = None,
    host: str | None = None,
    port: int | None = None,
    own_process: bool = False,
) -> GatewayServer:
    """The server for `app`, ready for `run()` or for `await serve()` on a running loop.

    `own_process` is for a process that is only the gateway (not an embedding program): the
    garbage collector, which is process-wide, is tuned for serving once it has started.
    """
    tls = config.tls
    return GatewayServer(
        uvicorn.Config(
            app,
            host=host if host is not None else (config.host or "0.0.0.0"),  # noqa: S104 - "" is every interface
            port=port if port is not None else config.port,
            loop="uvloop",
            http=guarded_protocol(limits),
            lifespan="on",
            access_log=False,
            log_config=None,
            server_header=False,
            # Who the peer is comes from the socket, never from X-Forwarded-For.
            proxy_headers=False,
            ssl_certfile=str(Path(tls.cert).expanduser()) if tls.enable else None,
            ssl_keyfile=str(Path(tls.key).expanduser()) if tls.enable else None,
        ),
        drain_seconds=drain_seconds,
        stop=stop,
        own_process=own_process,
    )
