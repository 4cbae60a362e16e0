"""aiproxyapi: one gateway that speaks every major AI API in front of a pool of credentials.

Embedding: ``aiproxyapi.create_app(config)`` gives the ASGI app and ``aiproxyapi.serve(config)``
runs it (see ``aiproxyapi.embed``); both load on first use.
"""

from __future__ import annotations

import sys
from typing import Any

# httpx imports its command-line tool whenever rich and click are installed, and Litestar always
# installs them: about a third of the start-up time and 10 MB for a tool the gateway never runs.
# With the module marked absent httpx falls back to its stub `main`.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

__all__ = ["__version__", "create_app", "serve"]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The web stack loads only when an embedding program asks for it, not for `--version`.
    if name in ("create_app", "serve"):
        from aiproxyapi import embed

        return getattr(embed, name)
    raise AttributeError(f"module 'aiproxyapi' has no attribute {name!r}")
