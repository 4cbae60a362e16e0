"""Running git for the Git store: never blocking the loop, bounded in time, never leaking a token.

Every call is an ``asyncio.create_subprocess_exec`` in its own process group, killed (the
whole group, so a stuck ``git-remote-https`` or ``ssh`` child goes too) when it outlives its
timeout. Credentials reach git through a credential helper that reads two environment
variables of the child process: the token is never written to ``.git/config``, never part of
a remote URL and never on a command line. Every text that can end in an error message passes
through :meth:`GitRunner.redact` first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from pathlib import Path
from typing import NamedTuple

from storage.base import StoreUnavailable

__all__ = ["AUTHOR", "GitResult", "GitRunner", "redact_url", "split_credentials"]

AUTHOR = "aiproxyapi"
_USER_VAR = "AIPROXYAPI_GIT_USERNAME"
_TOKEN_VAR = "AIPROXYAPI_GIT_TOKEN"  # noqa: S105 - the name of a variable, not a secret
# The helper prints the pair only for "get"; "store" and "erase" are ignored, so no other
# helper ever learns the token (the list of configured helpers is reset before this one).
_HELPER = (
    '!f() { test "$1" = get && '
    f'printf \'username=%s\\npassword=%s\\n\' "${_USER_VAR}" "${_TOKEN_VAR}"; }}; f'
)
# Variables that would point git at another repository or another prompt than ours.
_DROPPED_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "GIT_CONFIG_PARAMETERS",
    "GIT_EDITOR",
    "GIT_SEQUENCE_EDITOR",
)
# Byte-exact documents and no interactive or signing surprises from the user's global config.
_CONFIG = (
    "core.autocrlf=false",
    "core.quotePath=false",
    "commit.gpgSign=false",
    "rebase.autoStash=false",
    "rebase.updateRefs=false",
    "gc.autoDetach=false",
    "maintenance.autoDetach=false",
    "advice.detachedHead=false",
)
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")


def redact_url(text: str) -> str:
    """``text`` with the user-info part of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def split_credentials(url: str) -> tuple[str, str, str]:
    """(url without user-info, username, password) for an http(s) URL; others pass unchanged."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "@" not in parts.netloc:
        return url, "", ""
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), unquote(user), unquote(password)


class GitResult(NamedTuple):
    """What one git call returned."""

    returncode: int
    stdout: str
    stderr: str


class GitRunner:
    """Runs git in one working tree with a fixed identity, environment and time bound."""

    def __init__(self, cwd: Path, *, username: str, token: str, timeout: float) -> None:
        self.cwd = cwd
        self.timeout = timeout
        self._secrets = [s for s in (token,) if s]
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
        env.update(
            GIT_TERMINAL_PROMPT="0",
            GCM_INTERACTIVE="never",
            LC_ALL="C",
            LANGUAGE="C",
            GIT_AUTHOR_NAME=AUTHOR,
            GIT_AUTHOR_EMAIL=f"{AUTHOR}@localhost",
            GIT_COMMITTER_NAME=AUTHOR,
            GIT_COMMITTER_EMAIL=f"{AUTHOR}@localhost",
            GIT_EDITOR="true",
        )
        env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
        config = [arg for item in _CONFIG for arg in ("-c", item)]
        if token:
            env[_USER_VAR] = username or "git"
            env[_TOKEN_VAR] = token
            config += ["-c", "credential.helper=", "-c", f"credential.helper={_HELPER}"]
        self._env = env
        self._config = config

    def redact(self, text: str) -> str:
        """``text`` without the token and without user-info in URLs, cut to a readable size."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = redact_url(text).strip()
        return text if len(text) <= 500 else text[:500] + "..."

    async def run(self, *args: str, check: bool = True, limit: float | None = None) -> GitResult:
        """Run ``git args`` in the tree; StoreUnavailable on timeout or (with check) failure.

        ``limit`` (seconds, default the runner's timeout) bounds this one call.
        """
        limit = self.timeout if limit is None else min(limit, self.timeout)
        if limit <= 0:
            raise StoreUnavailable(f"git {args[0]}: no time left within the store timeout")
        proc = await asyncio.create_subprocess_exec(
            "git", *self._config, *args,
            cwd=self.cwd,
            env=self._env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=os.name != "nt",
        )  # fmt: skip
        try:
            async with asyncio.timeout(limit):
                out, err = await proc.communicate()
        except TimeoutError:
            _kill(proc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await proc.wait()
            raise StoreUnavailable(f"git {args[0]} did not finish within {limit:.1f}s") from None
        except BaseException:
            _kill(proc)
            raise
        result = GitResult(
            proc.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
        )
        if check and result.returncode != 0:
            detail = self.redact(result.stderr or result.stdout)
            raise StoreUnavailable(f"git {args[0]} failed ({result.returncode}): {detail}")
        return result


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.name == "nt":
            proc.kill()
        else:
            os.killpg(proc.pid, signal.SIGKILL)
