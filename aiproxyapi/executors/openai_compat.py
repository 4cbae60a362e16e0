"""Executor for OpenAI-compatible upstreams: Chat Completions at `{base-url}/chat/completions`."""

from __future__ import annotations

import httpx

from aiproxyapi.executors.base import UpstreamCall, entry_headers, open_upstream
from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts
from aiproxyapi.formats import Format

__all__ = ["OpenAICompatExecutor"]


class OpenAICompatExecutor:
    """Sends OpenAI Chat Completions bodies with the credential as a Bearer token."""

    dialect = Format.OPENAI_CHAT

    def __init__(self, clients: HttpClients, global_proxy: str, timeouts: UpstreamTimeouts) -> None:
        self._clients = clients
        self._global_proxy = global_proxy
        self._timeouts = timeouts

    async def open(self, call: UpstreamCall) -> httpx.Response:
        """Post the body; the open 2xx response, or UpstreamFailure."""
        credential = call.credential
        client = self._clients.get(credential.proxy_url, self._global_proxy, self._timeouts)
        headers = entry_headers(credential)
        headers["authorization"] = f"Bearer {credential.api_key.reveal()}"
        headers["content-type"] = "application/json"
        headers["accept"] = "text/event-stream" if call.stream else "application/json"
        request = client.build_request(
            "POST", f"{credential.base_url}/chat/completions", content=call.body, headers=headers
        )
        return await open_upstream(client, request, credential)
