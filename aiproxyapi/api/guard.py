"""Per-request set-up shared by the proxy routes: request id, client key, disconnect watch."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from typing import TypeVar

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.gateway import Gateway
from aiproxyapi.logs import REQUEST_ID
from aiproxyapi.management.hosts import host_allowed
from aiproxyapi.runtime import Runtime

__all__ = ["ClientGone", "begin", "gateway_of", "until_disconnect"]

T = TypeVar("T")


class ClientGone(Exception):
    """The client closed its connection before the answer was ready."""


def gateway_of(request: HttpRequest) -> Gateway:
    """The gateway serving this app."""
    gateway: Gateway = request.app.state["gateway"]
    return gateway


class _RequestIds:
    """Random 16-hex-digit request ids, cut from one `os.urandom` read per 512 ids."""

    __slots__ = ("_at", "_random")

    def __init__(self) -> None:
        self._random = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._random, self._at = b"", 0  # a forked child must not repeat its parent's ids

    def next(self) -> str:
        """A fresh id."""
        at = self._at
        if at >= len(self._random):
            self._random, at = os.urandom(4096), 0
        self._at = at + 8
        return self._random[at : at + 8].hex()


_request_ids = _RequestIds()


def begin(request: HttpRequest) -> tuple[Gateway, Runtime, str, str]:
    """Start a proxied request: its id, its snapshot, and the caller's key label (or a 401)."""
    request_id = _request_ids.next()
    REQUEST_ID.set(request_id)
    gateway = gateway_of(request)
    runtime = gateway.runtime
    # Parsing the query string costs more than the rest of the key check: only when there is one.
    query = request.query_params if request.scope["query_string"] else {}
    client = runtime.client_keys.authenticate(request.headers, query)
    # A keyless gateway trusts whoever reaches it; a page whose name re-points at 127.0.0.1
    # (DNS rebinding) must not be one of them.
    if runtime.client_keys.open and not host_allowed(
        request.headers.get("host", ""), runtime.config
    ):
        raise ClientRequestError(
            "host not allowed", status=403, code="host_not_allowed", kind="permission_error"
        )
    return gateway, runtime, request_id, client


async def until_disconnect(request: HttpRequest, work: Awaitable[T]) -> T:
    """Run `work`, cancelling it if the client disconnects first (so the upstream call stops)."""
    current = asyncio.current_task()
    assert current is not None
    receive = request.receive
    gone = False

    async def disconnected() -> None:
        nonlocal gone
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
                current.cancel()
                return

    # The work runs in this task (no second task, no wait on both): the watcher cancels it.
    watcher = asyncio.get_running_loop().create_task(disconnected())
    try:
        return await work
    except asyncio.CancelledError:
        if gone and current.uncancel() == 0:
            raise ClientGone from None
        raise
    finally:
        watcher.cancel()
