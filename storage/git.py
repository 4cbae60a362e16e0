"""Git backend: every document a file in a repository, every write a commit pushed to the remote.

A working clone lives at ``local_path`` (``git init`` + fetch, so an empty remote works too: it
gets an empty first commit on the branch). Reads come from that working tree. A write replaces
the file atomically, commits it as "aiproxyapi" with a message naming only the document kind
and name ("Update auth claude-a@b.com.json"), and pushes.

Pushing never forces and never rewrites what the remote published. A non-fast-forward push
fetches, rebases our commits on top (a document changed on both sides keeps our whole version,
never a line-level mix) and pushes again, with backoff, all within ``timeout``. A push the
server refuses (a hook) makes the write raise StoreUnavailable, but the commit stays in the
local clone and reads already see it: it is pushed again by the next write, by :meth:`flush`
and by every poll of :meth:`changes`. :meth:`pending` counts such commits, for an alert.

Credentials go to git through a credential helper fed by the child's environment (see
``storage._gitcmd``): never in ``.git/config``, a URL, a log line or an error message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

from storage._fanout import Fanout
from storage._gitcmd import GitRunner, redact_url, split_credentials
from storage._gitsync import Clone
from storage._layout import AUTH_DIR, locate
from storage.atomic import remove_stale_temps, write_atomic_async
from storage.base import Change, ChangeKind, Store, StoreError, StoreUnavailable, check_name

__all__ = ["GitStore"]

log = logging.getLogger("aiproxyapi.storage.git")

_BRANCH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")


class GitStore(Store):
    """Documents in a Git repository; see the module docstring for the push policy."""

    kind = "git"

    def __init__(
        self,
        url: str,
        *,
        username: str = "",
        token: str = "",
        branch: str = "main",
        local_path: Path,
        timeout: float = 30.0,
        poll_interval: float = 5.0,
    ) -> None:
        clean, url_user, url_token = split_credentials(url)
        if not _BRANCH.match(branch) or ".." in branch or branch.endswith((".lock", "/")):
            raise StoreError(f"invalid git branch name {branch[:80]!r}")
        self._path = Path(local_path)
        runner = GitRunner(
            self._path, username=username or url_user, token=token or url_token, timeout=timeout
        )
        self._clone = Clone(runner, clean, branch)
        self._timeout, self._poll_interval = timeout, poll_interval
        self._lock = asyncio.Lock()  # one git operation at a time
        self._closed = asyncio.Event()
        self._recover = True
        self._feed = Fanout(self._poll_changes)

    def __repr__(self) -> str:
        return f"GitStore({redact_url(self._clone.url)!r}, branch={self._clone.branch!r})"

    async def start(self) -> None:
        """Create or reuse the working clone, catch up with the remote, push what is pending."""
        clone, branch = self._clone, self._clone.branch
        async with self._op() as deadline:
            await asyncio.to_thread(self._prepare_dir)
            if not (self._path / ".git").is_dir():
                await clone.run(deadline, "init", "-q")
            current = (await clone.run(deadline, "symbolic-ref", "-q", "HEAD", check=False)).strip()
            if current != f"refs/heads/{branch}":
                if await clone.rev("HEAD") is not None:
                    raise StoreError(f"the clone at {self._path} is on {current!r}, not {branch!r}")
                await clone.run(deadline, "symbolic-ref", "HEAD", f"refs/heads/{branch}")
            await clone.run(deadline, "config", "remote.origin.url", clone.url)
            spec = f"+refs/heads/{branch}:{clone.tracking}"
            await clone.run(deadline, "config", "remote.origin.fetch", spec)
            await clone.recover(deadline)
            self._recover = False
            if await clone.ls_remote(deadline) is None:
                if await clone.rev("HEAD") is None:
                    msg = "Initialize aiproxyapi store"
                    await clone.run(
                        deadline, "commit", "-q", "--no-verify", "--allow-empty", "-m", msg
                    )
                await clone.push(deadline)  # the branch must exist before anyone can use it
            else:
                await clone.integrate(deadline)
                await self._push_quietly(deadline)
            clone.unseen.clear()  # the caller loads everything after start

    async def close(self) -> None:
        """Stop :meth:`changes`; the clone stays on disk for the next start."""
        self._closed.set()

    async def flush(self) -> None:
        """Push commits a refused or failed push left behind; StoreUnavailable if still refused."""
        async with self._op() as deadline:
            await self._clone.push(deadline)

    async def pending(self) -> int:
        """How many local commits the remote does not have yet (0 when all are pushed)."""
        async with self._op():
            return await self._clone.ahead()

    async def read_config(self) -> bytes | None:
        """The config document, or None."""
        return await self._read(locate(ChangeKind.CONFIG))

    async def write_config(self, data: bytes) -> None:
        """Replace the config document, commit and push."""
        await self._write(locate(ChangeKind.CONFIG), data, "Update config")

    async def list_auth(self) -> dict[str, bytes]:
        """Every auth record in the working tree, by name."""
        async with self._clone.tree:
            return await asyncio.to_thread(_read_dir, self._path / AUTH_DIR)

    async def read_auth(self, name: str) -> bytes | None:
        """One auth record, or None."""
        return await self._read(locate(ChangeKind.AUTH, name))

    async def write_auth(self, name: str, data: bytes) -> None:
        """Create or replace one auth record, commit and push."""
        await self._write(locate(ChangeKind.AUTH, name), data, f"Update auth {name}")

    async def delete_auth(self, name: str) -> None:
        """Remove one auth record (a no-op when it is gone), commit and push."""
        await self._write(locate(ChangeKind.AUTH, name), None, f"Delete auth {name}")

    async def read_state(self, key: str) -> bytes | None:
        """One state document, or None."""
        return await self._read(locate(ChangeKind.STATE, key))

    async def write_state(self, key: str, data: bytes) -> None:
        """Create or replace one state document, commit and push."""
        await self._write(locate(ChangeKind.STATE, key), data, f"Update state {key}")

    def changes(self) -> AsyncIterator[Change]:
        """Poll the branch head with ``ls-remote``; when it moved, fetch, rebase and report.

        Changes a write's rebase pulled in are reported too. One poller serves every iterator.
        """
        return self._feed.subscribe()

    async def _poll_changes(self) -> AsyncIterator[Change]:
        unseen = self._clone.unseen
        while not self._closed.is_set():
            while unseen:
                yield unseen.pop(next(iter(unseen)))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._closed.wait()
            if self._closed.is_set():
                return
            try:
                await self._poll()
            except StoreUnavailable as exc:
                log.warning("git store: poll failed: %s", exc)

    @contextlib.asynccontextmanager
    async def _op(self) -> AsyncIterator[float]:
        """Hold the operation lock; yields the deadline, which the wait for the lock counts in."""
        deadline = asyncio.get_running_loop().time() + self._timeout
        try:
            async with asyncio.timeout(self._timeout):
                await self._lock.acquire()
        except TimeoutError:
            raise StoreUnavailable(
                "git store busy: an earlier operation is still running"
            ) from None
        try:
            yield deadline
        finally:
            self._lock.release()

    def _prepare_dir(self) -> None:
        self._path.mkdir(mode=0o700, parents=True, exist_ok=True)
        for sub in ("config", "auths", "state"):
            remove_stale_temps(self._path / sub)

    async def _read(self, rel: str) -> bytes | None:
        async with self._clone.tree:
            return await asyncio.to_thread(_read_file, self._path / rel)

    async def _write(self, rel: str, data: bytes | None, message: str) -> None:
        clone = self._clone
        async with self._op() as deadline:
            try:
                if self._recover:
                    await clone.recover(deadline)
                    self._recover = False
                if data is None:
                    await clone.run(deadline, "rm", "-q", "-f", "--ignore-unmatch", "--", rel)
                else:
                    await write_atomic_async(self._path / rel, data)
                    await clone.run(deadline, "add", "--", rel)
                await clone.commit_staged(deadline, message)
                await clone.push(deadline)
            except BaseException:
                self._recover = True  # cheap: re-check the tree before the next write
                raise

    async def _poll(self) -> None:
        clone = self._clone
        head = await clone.ls_remote(asyncio.get_running_loop().time() + self._timeout)
        async with self._op() as deadline:
            if head is not None and head != await clone.rev(clone.tracking):
                try:
                    await clone.integrate(deadline)
                except BaseException:
                    self._recover = True
                    raise
            await self._push_quietly(deadline)

    async def _push_quietly(self, deadline: float) -> None:
        if await self._clone.ahead():
            try:
                await self._clone.push(deadline)
            except StoreUnavailable as exc:
                log.warning("git store: local commits not pushed yet: %s", exc)


def _read_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None


def _read_dir(directory: Path) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    if not directory.is_dir():
        return found
    for entry in directory.iterdir():
        try:
            name = check_name(entry.name)
        except StoreError:
            continue  # a temp file or a .gitkeep: not a record
        if entry.is_file() and not entry.is_symlink():
            data = _read_file(entry)
            if data is not None:
                found[name] = data
    return found
