"""Atomic file writes: a reader sees the old content or the new, never a torn file.

The recipe: write a temp file beside the target (same directory, so the rename stays on one
filesystem), fsync it, ``os.replace`` it over the target, then fsync the directory so the
rename itself survives a power cut. Temp files are named ``.<name>.tmp-<12 hex>`` so a crash
leftover is recognisable and :func:`remove_stale_temps` can sweep it at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import secrets
from pathlib import Path

__all__ = ["remove_stale_temps", "write_atomic", "write_atomic_async"]

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.tmp-[0-9a-f]{12}$")

# Some filesystems (and Windows) cannot fsync a directory; the write is still atomic there,
# only the rename's durability is weaker, which is no reason to fail the write.
_DIR_FSYNC_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES})


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")


def _make_dirs(directory: Path) -> None:
    # Path.mkdir(parents=True) gives intermediate directories the default mode; every
    # directory we create may hold secrets, so each one gets 0700.
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for item in reversed(missing):
        with contextlib.suppress(FileExistsError):  # a concurrent writer got there first
            item.mkdir(mode=0o700)


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        if exc.errno in _DIR_FSYNC_UNSUPPORTED:
            return
        raise
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _DIR_FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically and durably; the file has ``mode`` throughout."""
    _make_dirs(path.parent)
    temp = _temp_path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, mode)
    try:
        try:
            # os.open's mode is filtered by the umask; fchmod makes the mode exact before
            # the first byte lands, so a secret is never readable by others, even briefly.
            if hasattr(os, "fchmod"):
                os.fchmod(fd, mode)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
        _fsync_dir(path.parent)
    except BaseException:
        # BaseException too: a KeyboardInterrupt mid-write must not leave a temp behind.
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        raise


async def write_atomic_async(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Run :func:`write_atomic` in a worker thread so fsync never blocks the event loop."""
    await asyncio.to_thread(write_atomic, path, data, mode=mode)


def remove_stale_temps(directory: Path, *, name: str | None = None) -> list[Path]:
    """Delete temp files a crashed write left in ``directory``; return what was removed.

    With ``name``, only temps of that target file are touched, so one owner can sweep its
    own leftovers in a directory that other writers share. Call it before writers start:
    a temp of a write in flight looks exactly like a leftover.
    """
    removed: list[Path] = []
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return removed
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        if not entry.is_file() or entry.is_symlink():
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(entry)
    return removed
