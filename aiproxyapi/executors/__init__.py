"""Executors: upstream bodies out to one provider's API, its bytes back.

One executor per provider kind behind the `Executor` protocol; the credential is an argument of
every call, so executors hold no per-credential state. OAuth executors get each call's live
token from a `TokenSource` (the account book). Executors never import Litestar.
"""

from __future__ import annotations

from aiproxyapi.config import Config
from aiproxyapi.credential import ProviderKind
from aiproxyapi.executors.base import Action, Executor, HttpExecutor, UpstreamCall
from aiproxyapi.executors.claude import ClaudeExecutor
from aiproxyapi.executors.claude_oauth import ClaudeOAuthExecutor
from aiproxyapi.executors.codex import ResponsesExecutor
from aiproxyapi.executors.codex_backend import CodexBackendExecutor
from aiproxyapi.executors.gemini import GeminiExecutor, VertexExecutor
from aiproxyapi.executors.gemini_cli import GeminiCliExecutor
from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts
from aiproxyapi.executors.oauth import Grant, OAuthExecutor, TokenSource
from aiproxyapi.executors.openai_compat import OpenAICompatExecutor
from aiproxyapi.executors.openai_oauth import CopilotExecutor, IFlowExecutor, QwenExecutor
from aiproxyapi.executors.vertex_sa import VertexServiceAccountExecutor

__all__ = [
    "Action",
    "Executor",
    "Grant",
    "HttpClients",
    "TokenSource",
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

_OAUTH_BY_KIND: dict[ProviderKind, type[OAuthExecutor]] = {
    ProviderKind.CLAUDE_OAUTH: ClaudeOAuthExecutor,
    ProviderKind.CODEX_OAUTH: CodexBackendExecutor,
    ProviderKind.QWEN: QwenExecutor,
    ProviderKind.IFLOW: IFlowExecutor,
    ProviderKind.COPILOT: CopilotExecutor,
    ProviderKind.VERTEX_SA: VertexServiceAccountExecutor,
}


def build_executors(
    config: Config, clients: HttpClients, tokens: TokenSource | None = None
) -> dict[ProviderKind, Executor]:
    """The executors of one config version, keyed by the provider kind they serve.

    Without a token source only the API-key executors exist.
    """
    timeouts = UpstreamTimeouts(config.timeouts.connect_seconds, config.timeouts.idle_seconds)
    built: dict[ProviderKind, Executor] = {
        kind: cls(clients, config.proxy_url, timeouts) for kind, cls in _BY_KIND.items()
    }
    if tokens is not None:
        for kind, oauth in _OAUTH_BY_KIND.items():
            built[kind] = oauth(clients, config.proxy_url, timeouts, tokens)
        built[ProviderKind.GEMINI_CLI] = GeminiCliExecutor(
            clients, config.proxy_url, timeouts, tokens, config.quota_exceeded
        )
    return built
