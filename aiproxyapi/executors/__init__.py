"""Executors: upstream bodies out to one provider's API, its bytes back.

One executor per provider kind behind the `Executor` protocol; the credential is an argument of
every call, so executors hold no per-credential state. Executors never import Litestar.
"""

from __future__ import annotations

from aiproxyapi.config import Config
from aiproxyapi.credential import ProviderKind
from aiproxyapi.executors.base import Action, Executor, HttpExecutor, UpstreamCall
from aiproxyapi.executors.claude import ClaudeExecutor
from aiproxyapi.executors.codex import ResponsesExecutor
from aiproxyapi.executors.gemini import GeminiExecutor, VertexExecutor
from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts
from aiproxyapi.executors.openai_compat import OpenAICompatExecutor

__all__ = [
    "Action",
    "Executor",
    "HttpClients",
    "UpstreamCall",
    "UpstreamTimeouts",
    "build_executors",
]

_BY_KIND: dict[ProviderKind, type[HttpExecutor]] = {
    ProviderKind.OPENAI_COMPAT: OpenAICompatExecutor,
    ProviderKind.CLAUDE: ClaudeExecutor,
    ProviderKind.GEMINI: GeminiExecutor,
    ProviderKind.CODEX: ResponsesExecutor,
    ProviderKind.VERTEX: VertexExecutor,
}


def build_executors(config: Config, clients: HttpClients) -> dict[ProviderKind, Executor]:
    """The executors of one config version, keyed by the provider kind they serve."""
    timeouts = UpstreamTimeouts(config.timeouts.connect_seconds, config.timeouts.idle_seconds)
    return {kind: cls(clients, config.proxy_url, timeouts) for kind, cls in _BY_KIND.items()}
