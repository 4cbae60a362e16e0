"""What the management tests share: a config with a management secret and a client for it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.gateway import GatewayProcess

__all__ = ["SECRET", "UPSTREAM_KEY", "chat", "mgmt", "mgmt_config"]

SECRET = "mgmt-canary-secret-6d41b09e27f3"
UPSTREAM_KEY = "sk-upstream-canary-a83c5e1d90b2"


def mgmt_config(base_url: str, *, secret: str | None = SECRET, **settings: Any) -> str:
    """A gateway config with one OpenAI-compatible upstream and a management secret."""
    management: dict[str, Any] = dict(settings.pop("remote_management", {}))
    if secret is not None:
        management.setdefault("secret-key", secret)
    if management:
        settings["remote-management"] = management
    # The fake upstreams live on loopback; the operator lists that, as for a local model server.
    settings.setdefault("allow-private-upstreams", ["127.0.0.1"])
    entry = openai_entry("up", base_url, [UPSTREAM_KEY])
    return "# the test config\n" + gateway_config(entry, api_keys=[CLIENT_KEY], **settings)


def mgmt(gateway: GatewayProcess, key: str | None = SECRET, **headers: str) -> httpx.Client:
    """An HTTP client for /v0/management of `gateway`, sending `key` as a Bearer token."""
    if key is not None:
        headers.setdefault("Authorization", f"Bearer {key}")
    return httpx.Client(
        base_url=f"{gateway.base_url}/v0/management", headers=headers, timeout=15, trust_env=False
    )


def chat(gateway: GatewayProcess, key: str = CLIENT_KEY) -> httpx.Response:
    """One chat completion through the gateway."""
    return httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": "m1", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {key}"},
        timeout=15,
        trust_env=False,
    )
