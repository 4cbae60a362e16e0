"""Minimal client requests to a gateway in each client dialect, over raw HTTP.

``gateway_request(gw.base_url, "claude", key=KEY, stream=True)`` gives what a client of that
dialect sends to the gateway for one user turn saying "hi" (``dialect_request`` aimed at it).
"""

from __future__ import annotations

from .dialect_requests import DialectRequest, dialect_request
from .replies import Dialect

__all__ = ["CLIENT_DIALECTS", "gateway_request"]

CLIENT_DIALECTS: tuple[Dialect, ...] = ("openai", "openai-responses", "claude", "gemini")


class _At:
    """The URLs dialect_request reads, for a gateway instead of a fake upstream."""

    def __init__(self, root: str) -> None:
        self.root_url = root
        self.base_url = f"{root}/v1"
        self.codex_base_url = f"{root}/backend-api/codex"


def gateway_request(
    root: str, dialect: Dialect, *, key: str, stream: bool = False, model: str = "m1"
) -> DialectRequest:
    """One user turn ("hi") in the dialect, addressed to the gateway at `root`."""
    return dialect_request(_At(root), dialect, key=key, stream=stream, model=model)  # type: ignore[arg-type]
