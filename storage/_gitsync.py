"""Keeping the Git store's working clone in step with its remote, without ever forcing.

:class:`Clone` knows the few moves the store needs: commit what is staged, fetch and put our
commits on top of the remote's (fast-forward, or a rebase in which a document changed on both
sides keeps our whole version), push with bounded retries, and undo what an interrupted
operation left behind. Every network call gets the time left before the caller's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from pathlib import Path

from storage._gitcmd import GitRunner, redact_url
from storage._layout import identify
from storage.base import Change, ChangeKind, StoreUnavailable

__all__ = ["Clone"]

# Every file is an opaque blob: no line-ending rewrite, no filter, and no line-level merge, so
# a rebase conflict is resolved per whole document (``-X theirs`` keeps the replayed commit).
_ATTRIBUTES = "* -text -merge -diff -filter -ident\n"
_PUSH_ATTEMPTS = 8  # several instances pushing at once each lose a few races
_REBASE_STEPS = 200
_BACKOFF = 0.2


class Clone:
    """One working clone of one branch of ``origin``."""

    def __init__(self, git: GitRunner, url: str, branch: str) -> None:
        self.git, self.url, self.branch = git, url, branch
        self.tracking = f"refs/remotes/origin/{branch}"
        self.tree = asyncio.Lock()  # held while a rebase or reset moves the working tree
        #: Documents other writers changed, noticed by a fetch and not yet reported.
        self.unseen: dict[tuple[ChangeKind, str], Change] = {}
        self._git_dir = git.cwd / ".git"

    async def run(self, deadline: float, *args: str, check: bool = True) -> str:
        """Run git with the time left before ``deadline``; its standard output."""
        left = deadline - asyncio.get_running_loop().time()
        return (await self.git.run(*args, check=check, limit=left)).stdout

    async def rev(self, ref: str) -> str | None:
        """The commit ``ref`` names, or None (an unborn branch, a missing ref)."""
        result = await self.git.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
        return result.stdout.strip() if result.returncode == 0 else None

    async def ahead(self) -> int:
        """How many local commits the remote-tracking branch lacks."""
        if await self.rev("HEAD") is None:
            return 0
        span = f"{self.tracking}..HEAD" if await self.rev(self.tracking) else "HEAD"
        return int((await self.git.run("rev-list", "--count", span)).stdout.strip() or 0)

    async def ls_remote(self, deadline: float) -> str | None:
        """The remote branch head (one cheap round trip), or None when the branch does not exist."""
        ref = f"refs/heads/{self.branch}"
        for line in (await self.run(deadline, "ls-remote", "origin", ref)).splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                return sha
        return None

    async def commit_staged(self, deadline: float, message: str) -> None:
        """Commit the index if it differs from HEAD (a write of identical bytes commits nothing)."""
        staged = await self.git.run("diff", "--cached", "--quiet", check=False)
        if staged.returncode != 0:
            await self.run(deadline, "commit", "-q", "--no-verify", "-m", message)

    def rebasing(self) -> bool:
        """Whether a rebase is in progress in the working tree."""
        return (self._git_dir / "rebase-merge").exists() or (
            self._git_dir / "rebase-apply"
        ).exists()

    async def recover(self, deadline: float) -> None:
        """Undo what an interrupted operation left: a rebase half done, a stale index lock."""
        if self.rebasing():
            await self.run(deadline, "rebase", "--abort", check=False)
        await asyncio.to_thread((self._git_dir / "index.lock").unlink, missing_ok=True)
        await asyncio.to_thread(_write_attributes, self._git_dir / "info")
        # A file written before a crash but never committed is the newest intent: keep it.
        await self.run(deadline, "add", "-A")
        await self.commit_staged(deadline, "Recover uncommitted changes")

    async def integrate(self, deadline: float) -> None:
        """Fetch the branch, note in ``unseen`` what others changed, put our commits on top."""
        old = await self.rev(self.tracking)
        # "+" lets only our local remote-tracking ref follow a remote that someone else reset;
        # nothing is ever pushed with "+" or --force.
        spec = f"+refs/heads/{self.branch}:{self.tracking}"
        await self.run(deadline, "fetch", "-q", "--no-tags", "origin", spec)
        new = await self.rev(self.tracking)
        if new is None:
            return
        if old is not None and old != new:
            diff = await self.run(deadline, "diff", "--name-status", "-z", "--no-renames", old, new)
            fields = diff.split("\0")
            for status, path in zip(fields[::2], fields[1::2], strict=False):
                change = identify(path, deleted=status.startswith("D"))
                if change is not None:
                    self.unseen[(change.kind, change.name)] = change
        head = await self.rev("HEAD")
        async with self.tree:
            if head is None:
                await self.run(deadline, "reset", "-q", "--hard", new)
            elif await self._is_ancestor(head, new):
                await self.run(deadline, "merge", "-q", "--ff-only", new)
            elif not await self._is_ancestor(new, head):
                await self._rebase(deadline, new)

    async def _is_ancestor(self, older: str, newer: str) -> bool:
        result = await self.git.run("merge-base", "--is-ancestor", older, newer, check=False)
        return result.returncode == 0

    async def _rebase(self, deadline: float, onto: str) -> None:
        try:
            left = deadline - asyncio.get_running_loop().time()
            first = await self.git.run(
                "rebase", "-q", "-X", "theirs", onto, check=False, limit=left
            )
            for _ in range(_REBASE_STEPS):
                if not self.rebasing():
                    break
                await self._take_ours(deadline)
                staged = await self.git.run("diff", "--cached", "--quiet", check=False)
                step = "--continue" if staged.returncode else "--skip"
                await self.run(deadline, "rebase", step, check=False)
            else:
                raise StoreUnavailable("git rebase did not settle")
            if not await self._is_ancestor(onto, "HEAD"):
                raise StoreUnavailable(f"git rebase failed: {self.git.redact(first.stderr)}")
        except BaseException:
            # Leave no half-rebased tree for readers; the next operation re-checks anyway.
            with contextlib.suppress(Exception):
                await self.git.run("rebase", "--abort", check=False, limit=5)
            raise

    async def _take_ours(self, deadline: float) -> None:
        """Resolve every conflicted path in favour of the commit being replayed (stage 3)."""
        stages: dict[str, set[str]] = {}
        for entry in (await self.run(deadline, "ls-files", "-u", "-z")).split("\0"):
            meta, _, path = entry.partition("\t")
            if path:
                stages.setdefault(path, set()).add(meta.split()[-1])
        keep = [path for path, found in stages.items() if "3" in found]
        drop = [path for path, found in stages.items() if "3" not in found]
        if keep:
            await self.run(deadline, "checkout", "--theirs", "--", *keep)
            await self.run(deadline, "add", "--", *keep)
        if drop:
            await self.run(deadline, "rm", "-q", "-f", "--", *drop)

    async def push(self, deadline: float) -> None:
        """Push local commits, rebasing on a non-fast-forward (no force, ever).

        StoreUnavailable once the attempts or the time run out; the commits stay local.
        """
        reason = "no attempt made"
        for attempt in range(_PUSH_ATTEMPTS):
            if attempt:
                delay = _BACKOFF * 2 ** (attempt - 1) * (0.5 + secrets.randbelow(1000) / 1000)
                if deadline - asyncio.get_running_loop().time() <= delay:
                    break
                await asyncio.sleep(delay)
            if not await self.ahead():
                return
            target = f"HEAD:refs/heads/{self.branch}"
            left = deadline - asyncio.get_running_loop().time()
            args = ("push", "--porcelain", "--no-verify", "origin", target)
            result = await self.git.run(*args, check=False, limit=left)
            if result.returncode == 0:
                return
            out = result.stdout + result.stderr
            if "[remote rejected]" in out:
                reason = "the remote refused the push " + _reason(out, "[remote rejected]")
            elif "[rejected]" in out:
                reason = "non-fast-forward " + _reason(out, "[rejected]")
                await self.integrate(deadline)
            else:
                reason = result.stderr
        raise StoreUnavailable(
            f"git push to {redact_url(self.url)} failed: {self.git.redact(reason)}; "
            "the commit is kept in the local clone and pushed again later"
        )


def _reason(output: str, marker: str) -> str:
    line = next((ln for ln in output.splitlines() if marker in ln), "")
    return line.partition(marker)[2].strip()[:200]


def _write_attributes(info: Path) -> None:
    info.mkdir(exist_ok=True)
    (info / "attributes").write_text(_ATTRIBUTES)
