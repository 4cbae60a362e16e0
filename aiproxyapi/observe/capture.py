"""The ASGI wrapper that captures exchanges for the request log and the error log.

With `request-log: true` every exchange is written; otherwise only failed ones (status 400 or
more, or no response at all) as `error-*` files, while `error-logs-max-files` is above 0. The
response body is kept only when it will be written, so a successful stream costs one check per
chunk; bodies are kept as references to the chunks already in hand, up to a limit.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiproxyapi.gateway import Gateway, log_dir_for
from aiproxyapi.observe.request_log import Exchange, LogFiles

__all__ = ["RequestCapture"]

Scope = dict[str, Any]
Message = dict[str, Any]

# Management calls carry operator secrets in their bodies (config YAML, uploaded auth records)
# that the log scrubber may not know yet; they and the panel's files are never captured.
_NOT_CAPTURED = ("/v0/management", "/management.html", "/panel/")


class RequestCapture:
    """Wraps an ASGI app; writes the request log files of a gateway."""

    def __init__(self, app: Any, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway
        self._files: dict[Path, LogFiles] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """The ASGI entry point."""
        config = self.gateway.runtime.config
        if (
            scope["type"] != "http"
            or not (config.request_log or config.error_logs_max_files)
            or scope["path"].startswith(_NOT_CAPTURED)
        ):
            await self.app(scope, receive, send)
            return
        full = config.request_log
        client = scope.get("client")
        exchange = Exchange(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            client=client[0] if client else "-",
            request_headers=list(scope["headers"]),
        )

        async def receive_captured() -> Message:
            message: Message = await receive()
            if message["type"] == "http.request":
                exchange.request_body.add(message.get("body", b""))
            return message

        async def send_captured(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = list(message.get("headers", ()))
            elif kind == "http.response.body" and (full or (exchange.status or 0) >= 400):
                exchange.response_body.add(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive_captured, send_captured)
        finally:
            failed = exchange.status is None or exchange.status >= 400
            if full or failed:
                self._write(exchange, error=not full)

    def _write(self, exchange: Exchange, *, error: bool) -> None:
        exchange.finished = time.time()
        config = self.gateway.runtime.config
        directory = log_dir_for(config, self.gateway.config_path)
        files = self._files.get(directory)
        if files is None:
            files = self._files[directory] = LogFiles(directory)
        # The default executor is waited for when the loop closes, so a file being written at
        # shutdown is finished.
        asyncio.get_running_loop().run_in_executor(
            None,
            lambda: files.write(
                exchange,
                error=error,
                max_error_files=config.error_logs_max_files,
                max_total_bytes=config.logs_max_total_size_mb * 1024 * 1024,
            ),
        )
