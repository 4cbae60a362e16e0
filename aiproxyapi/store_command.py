"""`aiproxyapi store rotate-key`: re-encrypt the storage backend under the current key."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from aiproxyapi.config import ConfigError
from aiproxyapi.logs import configure_logging
from aiproxyapi.server import resolve_config
from storage import StoreError
from storage.rotate import rotate_from_env

__all__ = ["rotate_key"]


def rotate_key(explicit_config: str | None) -> int:
    """Rewrite every document that is plain text or under an old key; the exit code."""
    try:
        loaded, path, _embedded = resolve_config(explicit_config)
    except (ConfigError, OSError) as exc:
        print(f"aiproxyapi: config error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    configure_logging(debug=False, log_dir=None)
    auth_dir = Path(loaded.config.auth_dir).expanduser()
    try:
        count, where = asyncio.run(
            rotate_from_env(dict(os.environ), auth_dir=auth_dir, config_path=path)
        )
    except StoreError as exc:
        print(f"aiproxyapi: storage: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    print(f"rotated {count} document(s) to the current key in {where}")
    return 0
