"""Executors: canonical or passthrough bodies out to one provider's API, its bytes back.

One executor per provider kind behind the `Executor` protocol; the credential is an argument of
every call, so executors hold no per-credential state. Executors never import Litestar.
"""

from __future__ import annotations

from aiproxyapi.config import Config
from aiproxyapi.credential import ProviderKind
from aiproxyapi.executors.base import Executor, UpstreamCall
from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts
from aiproxyapi.executors.openai_compat import OpenAICompatExecutor

__all__ = ["Executor", "HttpClients", "UpstreamCall", "UpstreamTimeouts", "build_executors"]


def build_executors(config: Config, clients: HttpClients) -> dict[ProviderKind, Executor]:
    """The executors of one config version, keyed by the provider kind they serve."""
    timeouts = UpstreamTimeouts(config.timeouts.connect_seconds, config.timeouts.idle_seconds)
    return {
        ProviderKind.OPENAI_COMPAT: OpenAICompatExecutor(clients, config.proxy_url, timeouts),
    }
