"""Minimal valid requests in each upstream dialect, for tests that drive the fake over raw HTTP.

``dialect_request(up, "claude", key="sk-x", stream=True)`` gives the URL, headers and body a
real client of that dialect would send for one user turn saying "hi".
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .fake_upstream import FakeUpstream
from .replies import Dialect

__all__ = ["DIALECTS", "DialectRequest", "dialect_request"]

DIALECTS: tuple[Dialect, ...] = ("openai", "openai-responses", "codex", "claude", "gemini")


class DialectRequest(NamedTuple):
    """What to POST: ``httpx.post(r.url, headers=r.headers, json=r.body)``."""

    url: str
    headers: dict[str, str]
    body: dict[str, Any]


def dialect_request(
    up: FakeUpstream, dialect: Dialect, *, key: str, stream: bool = False, model: str = "m1"
) -> DialectRequest:
    """One user turn ("hi") in the dialect; Codex always streams, as it must (§7.2)."""
    bearer = {"Authorization": f"Bearer {key}"}
    if dialect == "openai":
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        if stream:
            body["stream"] = True
        return DialectRequest(f"{up.base_url}/chat/completions", bearer, body)
    if dialect == "openai-responses":
        body = {"model": model, "input": "hi", **({"stream": True} if stream else {})}
        return DialectRequest(f"{up.base_url}/responses", bearer, body)
    if dialect == "codex":
        body = {"model": model, "input": "hi", "instructions": "", "store": False, "stream": True}
        return DialectRequest(f"{up.codex_base_url}/responses", bearer, body)
    if dialect == "claude":
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        body = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
        if stream:
            body["stream"] = True
        return DialectRequest(f"{up.root_url}/v1/messages", headers, body)
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    url = f"{up.root_url}/v1beta/models/{model}:{action}"
    return DialectRequest(url, {"x-goog-api-key": key}, body)
