"""Watch config.yaml and reload on change (debounced; editors' rename-swaps included)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import watchfiles

__all__ = ["watch_config"]

log = logging.getLogger("aiproxyapi.watch")


async def watch_config(path: Path, reload: Callable[[], Any]) -> None:
    """Call `reload` after the file (an absolute path) changes; runs until cancelled."""
    target = path

    def concerns(_change: watchfiles.Change, changed: str) -> bool:
        return Path(changed).name == target.name

    # The directory is watched, not the file: editors replace files by renaming over them,
    # which a watch on the old inode would miss.
    while True:
        try:
            async for _changes in watchfiles.awatch(
                target.parent, watch_filter=concerns, debounce=300, step=50, recursive=False
            ):
                reload()
        except asyncio.CancelledError:
            raise
        except Exception:  # the watcher must survive anything the filesystem throws at it
            log.exception("config watcher failed; restarting it")
            await asyncio.sleep(1.0)
