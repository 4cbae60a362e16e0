"""aiproxyapi: one gateway that speaks every major AI API in front of a pool of credentials.

Embedding: ``aiproxyapi.create_app(config)`` gives the ASGI app and ``aiproxyapi.serve(config)``
runs it (see ``aiproxyapi.embed``); both load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "create_app", "serve"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The web stack loads only when an embedding program asks for it, not for `--version`.
    if name in ("create_app", "serve"):
        from aiproxyapi import embed

        return getattr(embed, name)
    raise AttributeError(f"module 'aiproxyapi' has no attribute {name!r}")
