"""The management API's own long-lived parts, shared by its routes through the router's `opt`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from aiproxyapi.gateway import Gateway
from aiproxyapi.management._http import ManagementError, MgmtRequest
from aiproxyapi.management.bans import FailureBans
from aiproxyapi.management.edit import ConfigEditor
from aiproxyapi.management.logins import LoginSessions
from aiproxyapi.management.secret import ENV_PASSWORD, KeyVerifier, hash_plaintext_secret

__all__ = ["OPT_KEY", "ManagementContext", "context_of"]

log = logging.getLogger("aiproxyapi.management")

OPT_KEY = "management"


class ManagementContext:
    """The editor, key verifier, ban list and logins in progress of one management API."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.editor = ConfigEditor(gateway)
        self.verifier = KeyVerifier(os.environ.get(ENV_PASSWORD, ""))
        self.bans = FailureBans()
        self.logins = LoginSessions()
        self._hashed_generation = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    def __deepcopy__(self, memo: dict[int, Any]) -> ManagementContext:
        # Litestar copies a router's options when it registers it; this is shared state.
        return self

    async def start(self) -> None:
        """At start: hash a plaintext secret in the config file."""
        await self._hash_secret()

    async def stop(self) -> None:
        """At shutdown: cancel the logins still waiting (their callback servers close)."""
        await self.logins.cancel_all()

    def notice_reload(self) -> None:
        """After a reload brought in a plaintext secret, hash it in the background."""
        runtime = self.gateway.runtime
        if runtime.generation == self._hashed_generation:
            return
        self._hashed_generation = runtime.generation
        task = asyncio.get_running_loop().create_task(self._hash_secret())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _hash_secret(self) -> None:
        self._hashed_generation = self.gateway.runtime.generation
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await hash_plaintext_secret(self.gateway.runtime.config, self.editor)
        except ManagementError as exc:
            log.error("could not write the hashed management secret back: %s", exc)
        except OSError as exc:
            log.error("could not write the hashed management secret back: %s", exc.strerror)
        self._hashed_generation = self.gateway.runtime.generation


def context_of(request: MgmtRequest) -> ManagementContext:
    """The management context of the route serving `request`."""
    context: ManagementContext = request.route_handler.opt[OPT_KEY]
    return context
