"""The file backend: CLIProxyAPI's on-disk layout, and the local mirror of every other backend.

Layout (the same for the default backend and for the mirror of a remote one):

* config: the config file path given to the store (``config.yaml``), on its own;
* auth records: one file per record directly in the auth dir, named as the record
  (``<auth-dir>/claude-a@b.com.json``), which is where CLIProxyAPI and its file watcher look;
* state documents: ``<auth-dir>/.state/<key>``; a dot-directory, so a non-recursive
  ``*.json`` watcher of the auth dir never mistakes usage totals for an account.

Every file is written with :func:`storage.atomic.write_atomic` (0600 files, 0700 directories);
reads never follow a symlink (a link planted in the auth dir cannot point the store outside it).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import watchfiles

from storage.atomic import remove_stale_temps, write_atomic_async
from storage.base import Change, ChangeKind, Store, StoreError, StoreUnavailable, check_name

__all__ = ["STATE_DIR", "FileStore", "make_private_dir", "warn_if_exposed"]

log = logging.getLogger("aiproxyapi.storage")

#: Where state documents live, relative to the auth dir.
STATE_DIR = ".state"


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode 0700 (they may hold secrets)."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for item in reversed(missing):
        with contextlib.suppress(FileExistsError):
            item.mkdir(mode=0o700)


def warn_if_exposed(paths: list[Path]) -> list[Path]:
    """Warn, loudly and once per path, of secret files and directories others may read.

    The auth dir, its records and the config file hold tokens, keys and the management hash;
    anything but owner-only access is reported with the fix. Returns the paths reported.
    """
    exposed: list[Path] = []
    for path in paths:
        try:
            mode = path.lstat().st_mode
        except OSError:
            continue
        if stat.S_ISLNK(mode) or not mode & (stat.S_IRWXG | stat.S_IRWXO):
            continue
        exposed.append(path)
        wanted = "700" if stat.S_ISDIR(mode) else "600"
        log.warning(
            "SECURITY: %s is readable by other users (mode %03o) and holds secrets; "
            "run: chmod %s %s",
            path,
            stat.S_IMODE(mode),
            wanted,
            path,
        )
    return exposed


def _read_nofollow(path: Path) -> bytes | None:
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(f"{path.name} is a symbolic link; refusing to follow it") from exc
        raise StoreError(f"cannot read {path.name}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _delete(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    if os.name != "nt":  # make the unlink itself durable, as write_atomic does for renames
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            with contextlib.suppress(OSError):
                os.fsync(fd)
        finally:
            os.close(fd)


async def _write(path: Path, data: bytes) -> None:
    """An atomic replace; a full disk or an I/O error is the store being unavailable."""
    try:
        await write_atomic_async(path, data)
    except OSError as exc:
        raise StoreUnavailable(f"cannot write {path.name}: {exc.strerror or exc}") from exc


class FileStore(Store):
    """Config, auth records and state kept as plain files (the default backend)."""

    kind = "file"

    def __init__(self, auth_dir: Path, config_path: Path, *, debounce_ms: int = 150) -> None:
        self.auth_dir = Path(auth_dir).expanduser().absolute()
        self.config_path = Path(config_path).expanduser().absolute()
        self.state_dir = self.auth_dir / STATE_DIR
        self._debounce_ms = debounce_ms
        self._closed = asyncio.Event()

    async def start(self) -> None:
        """Create the directories (0700) and sweep temp files a crash left behind."""
        await asyncio.to_thread(self._prepare)

    def _prepare(self) -> None:
        self._prepare_dirs_only()
        remove_stale_temps(self.auth_dir)
        remove_stale_temps(self.state_dir)
        remove_stale_temps(self.config_path.parent, name=self.config_path.name)
        warn_if_exposed([self.auth_dir, self.config_path, *self.auth_dir.glob("*.json")])

    async def close(self) -> None:
        """Stop every ``changes()`` iterator."""
        self._closed.set()

    def _auth_path(self, name: str) -> Path:
        path = self.auth_dir / check_name(name)
        if path == self.config_path:
            raise StoreError(f"{name!r} is the config file, not an auth record")
        return path

    async def read_config(self) -> bytes | None:
        """The config file's bytes, or None when it does not exist."""
        return await asyncio.to_thread(_read_nofollow, self.config_path)

    async def write_config(self, data: bytes) -> None:
        """Replace the config file atomically."""
        await _write(self.config_path, data)

    async def list_auth(self) -> dict[str, bytes]:
        """Every regular file in the auth dir with a valid name (links and temps skipped)."""
        return await asyncio.to_thread(self._list_auth)

    def _list_auth(self) -> dict[str, bytes]:
        records: dict[str, bytes] = {}
        try:
            entries = list(os.scandir(self.auth_dir))
        except FileNotFoundError:
            return records
        for entry in entries:
            if not entry.is_file(follow_symlinks=False) or Path(entry.path) == self.config_path:
                continue
            try:
                check_name(entry.name)
            except StoreError:
                continue
            data = _read_nofollow(Path(entry.path))
            if data is not None:  # deleted between the scan and the read
                records[entry.name] = data
        return records

    async def read_auth(self, name: str) -> bytes | None:
        """One auth file's bytes, or None."""
        return await asyncio.to_thread(_read_nofollow, self._auth_path(name))

    async def write_auth(self, name: str, data: bytes) -> None:
        """Create or replace one auth file atomically."""
        await _write(self._auth_path(name), data)

    async def delete_auth(self, name: str) -> None:
        """Remove one auth file; nothing happens when it is already gone."""
        path = self._auth_path(name)
        try:
            await asyncio.to_thread(_delete, path)
        except OSError as exc:
            raise StoreUnavailable(f"cannot delete {path.name}: {exc.strerror or exc}") from exc

    async def read_state(self, key: str) -> bytes | None:
        """One state document, or None."""
        return await asyncio.to_thread(_read_nofollow, self.state_dir / check_name(key))

    async def write_state(self, key: str, data: bytes) -> None:
        """Create or replace one state document atomically."""
        await _write(self.state_dir / check_name(key), data)

    async def state_keys(self) -> list[str]:
        """The keys of every state document on disk (not part of the Store contract)."""
        return await asyncio.to_thread(self._state_keys)

    def _state_keys(self) -> list[str]:
        try:
            entries = list(os.scandir(self.state_dir))
        except FileNotFoundError:
            return []
        keys = []
        for entry in entries:
            if entry.is_file(follow_symlinks=False):
                with contextlib.suppress(StoreError):
                    keys.append(check_name(entry.name))
        return sorted(keys)

    def _classify(self, path: Path) -> Change | None:
        """The change a touched path stands for, or None when the path is none of ours."""
        if path == self.config_path:
            return Change(ChangeKind.CONFIG)
        try:
            check_name(path.name)
        except StoreError:  # temp files, editor droppings, dot files
            return None
        if path.parent == self.auth_dir:
            return Change(ChangeKind.AUTH, path.name)
        if path.parent == self.state_dir:
            return Change(ChangeKind.STATE, path.name)
        return None

    async def changes(self) -> AsyncIterator[Change]:
        """Changes seen by a non-recursive, debounced watch of the three locations."""
        await asyncio.to_thread(self._prepare_dirs_only)
        roots = sorted({self.auth_dir, self.state_dir, self.config_path.parent})

        def concerns(_change: watchfiles.Change, changed: str) -> bool:
            return self._classify(Path(changed)) is not None

        while not self._closed.is_set():
            try:
                async for batch in watchfiles.awatch(
                    *roots,
                    watch_filter=concerns,
                    debounce=self._debounce_ms,
                    step=50,
                    recursive=False,
                    stop_event=self._closed,
                ):
                    # The event kind is unreliable across a rename-swap; whether the file
                    # exists once the burst settles is what the reader needs to know.
                    seen = {c for _, p in batch if (c := self._classify(Path(p))) is not None}
                    for change in sorted(seen, key=lambda c: (c.kind.value, c.name)):
                        path = self._path_of(change)
                        gone = not await asyncio.to_thread(path.exists)
                        yield Change(change.kind, change.name, deleted=gone)
            except FileNotFoundError:  # a watched directory was removed: recreate, re-watch
                await asyncio.sleep(0.5)
                await asyncio.to_thread(self._prepare_dirs_only)

    def _prepare_dirs_only(self) -> None:
        for directory in (self.auth_dir, self.state_dir, self.config_path.parent):
            make_private_dir(directory)

    def _path_of(self, change: Change) -> Path:
        if change.kind is ChangeKind.CONFIG:
            return self.config_path
        if change.kind is ChangeKind.AUTH:
            return self.auth_dir / change.name
        return self.state_dir / change.name
