"""Per-request set-up shared by the proxy routes: request id, client key, disconnect watch."""

from __future__ import annotations

import asyncio
import secrets
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


def begin(request: HttpRequest) -> tuple[Gateway, Runtime, str, str]:
    """Start a proxied request: its id, its snapshot, and the caller's key label (or a 401)."""
    request_id = secrets.token_hex(8)
    REQUEST_ID.set(request_id)
    gateway = gateway_of(request)
    runtime = gateway.runtime
    client = runtime.client_keys.authenticate(request.headers, request.query_params)
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
    task = asyncio.ensure_future(work)
    receive = request.receive

    async def disconnected() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    watcher = asyncio.ensure_future(disconnected())
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task.done():
        return task.result()
    task.cancel()
    raise ClientGone
