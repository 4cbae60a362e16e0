"""Git repositories for the Git store's tests: a bare remote with a switchable hook, a plain clone.

:class:`Remote` records every branch head it is asked for and checks each one descends from the
one before, so a test that reads heads also proves the remote's history only ever grew.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["Operator", "Remote", "git"]


def git(*args: str, cwd: Path | None = None) -> str:
    """Run the git CLI as an operator would; its output."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "operator", "GIT_AUTHOR_EMAIL": "op@example.com"}
    env |= {"GIT_COMMITTER_NAME": "operator", "GIT_COMMITTER_EMAIL": "op@example.com"}
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=30
    ).stdout


class Remote:
    """A bare repository with a switchable pre-receive hook and a record of its heads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.heads: list[str] = []
        git("init", "-q", "--bare", str(path))
        self._flag = path / "refuse"
        hook = path / "hooks" / "pre-receive"
        hook.write_text(
            f'#!/bin/sh\nif [ -e "{self._flag}" ]; then echo "policy says no" >&2; exit 1; fi\n'
        )
        hook.chmod(0o755)

    def refuse(self, on: bool) -> None:
        """Make the pre-receive hook refuse (or accept) every push."""
        if on:
            self._flag.touch()
        else:
            self._flag.unlink(missing_ok=True)

    def head(self) -> str | None:
        """The branch head, recorded; each record must descend from the one before."""
        if not self.has_main():
            return None
        head = git("--git-dir", str(self.path), "rev-parse", "main").strip()
        if self.heads:  # raises unless the old head is an ancestor: history only grows
            git("--git-dir", str(self.path), "merge-base", "--is-ancestor", self.heads[-1], head)
        self.heads.append(head)
        return head

    def has_main(self) -> bool:
        refs = git(
            "--git-dir", str(self.path), "for-each-ref", "--format=%(refname)", "refs/heads/"
        )
        return "refs/heads/main" in refs.split()

    def count(self) -> int:
        """How many commits the branch has."""
        return int(git("--git-dir", str(self.path), "rev-list", "--count", "main").strip())

    def show(self, path: str) -> bytes:
        """A file's bytes at the branch head."""
        out = subprocess.run(
            ["git", "--git-dir", str(self.path), "show", f"main:{path}"],
            capture_output=True, check=True, timeout=30,
        )  # fmt: skip
        return out.stdout

    def files(self, directory: str) -> set[str]:
        """The file names in one directory at the branch head."""
        out = git("--git-dir", str(self.path), "ls-tree", "--name-only", f"main:{directory}")
        return set(out.split())

    def log(self) -> str:
        """Every commit's author, committer and full message, for leak checks."""
        return git("--git-dir", str(self.path), "log", "main", "--format=%an <%ae> %cn%n%B")


class Operator:
    """A second, plain clone of the remote, edited with the git CLI by 'someone else'."""

    def __init__(self, remote: Remote, path: Path) -> None:
        self.path = path
        git("clone", "-q", "-b", "main", str(remote.path), str(path))

    def commit(self, files: dict[str, bytes | None], message: str = "operator edit") -> None:
        """Write (or, with None, delete) files, commit and push them."""
        git("pull", "-q", "--rebase", cwd=self.path)
        for rel, data in files.items():
            target = self.path / rel
            if data is None:
                git("rm", "-q", rel, cwd=self.path)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                git("add", rel, cwd=self.path)
        git("commit", "-q", "-m", message, cwd=self.path)
        git("push", "-q", "origin", "main", cwd=self.path)
