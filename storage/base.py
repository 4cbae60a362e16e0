"""The Store contract: what every storage backend (file, PostgreSQL, Git, S3) promises.

A store keeps three kinds of documents, each a whole byte string replaced atomically:

* the **config** document (config.yaml, comments included);
* **auth records**, one per account, named like CLIProxyAPI's files (`claude-a@b.com.json`);
* **state** documents the gateway wants to survive a restart (usage totals, cooldowns), keyed by
  a short name (`usage`, `cooldowns`).

Rules every backend follows:

1. A write is all or nothing: a reader sees the old bytes or the new bytes, never a mix.
2. A successful write is durable before the call returns (fsync, COMMIT, pushed, PUT).
3. Names are checked with `check_name` before any backend sees them; no name ever leaves the
   store's own namespace (no path separators, no `..`).
4. Deleting a missing record is not an error.
5. `changes()` reports changes made by *other* writers (another gateway instance, an operator
   editing the bucket or repository); a backend may also report its own writes. After a
   change is reported, a read returns the new bytes.
6. Every call is bounded in time: a backend that does not answer raises `StoreUnavailable`
   within its timeout; it never blocks the event loop.
7. Secrets are bytes like any other: encryption at rest is applied by a wrapper above the
   backend (`storage.crypto`), so backends never see a key.
"""

from __future__ import annotations

import abc
import enum
import re
from collections.abc import AsyncIterator

import msgspec

__all__ = [
    "Change",
    "ChangeKind",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "check_name",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")


class StoreError(Exception):
    """A store operation failed for a reason retrying will not fix (bad name, corrupt data)."""


class StoreUnavailable(StoreError):
    """The backend could not be reached or did not answer in time; retrying later may work."""


class ChangeKind(enum.Enum):
    """What changed in a store."""

    CONFIG = "config"
    AUTH = "auth"
    STATE = "state"


class Change(msgspec.Struct, frozen=True):
    """One change seen in the store: which kind of document, its name, whether it is gone."""

    kind: ChangeKind
    name: str = ""
    deleted: bool = False


def check_name(name: str) -> str:
    """The name if it is a safe document name; StoreError otherwise.

    Allowed: letters, digits and `._@+-`, starting with a letter or digit, at most 200
    characters; `..` anywhere is refused.
    """
    if not _NAME.match(name) or ".." in name:
        raise StoreError(f"invalid document name {name[:80]!r}")
    return name


class Store(abc.ABC):
    """A storage backend. See the module docstring for the promises every method keeps."""

    #: Short backend name for logs and status: "file", "postgres", "git", "s3".
    kind: str

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect and prepare (create tables, clone, check the bucket); StoreUnavailable if down."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and background work."""

    @abc.abstractmethod
    async def read_config(self) -> bytes | None:
        """The config document, or None when the store has none yet."""

    @abc.abstractmethod
    async def write_config(self, data: bytes) -> None:
        """Replace the config document."""

    @abc.abstractmethod
    async def list_auth(self) -> dict[str, bytes]:
        """Every auth record, by name."""

    @abc.abstractmethod
    async def read_auth(self, name: str) -> bytes | None:
        """One auth record, or None when there is none of that name."""

    async def fetch_auth(self, name: str) -> bytes | None:
        """One auth record as the backend holds it this moment (a mirror asks its backend).

        For a store that is its own backend this is `read_auth`; a gateway about to renew a
        token uses it to see a renewal another instance stored a moment ago.
        """
        return await self.read_auth(name)

    @abc.abstractmethod
    async def write_auth(self, name: str, data: bytes) -> None:
        """Create or replace one auth record."""

    @abc.abstractmethod
    async def delete_auth(self, name: str) -> None:
        """Remove one auth record (no error when it is already gone)."""

    @abc.abstractmethod
    async def read_state(self, key: str) -> bytes | None:
        """One state document, or None."""

    @abc.abstractmethod
    async def write_state(self, key: str, data: bytes) -> None:
        """Create or replace one state document."""

    @abc.abstractmethod
    def changes(self) -> AsyncIterator[Change]:
        """Changes made by other writers, as they are noticed; runs until the store closes."""
