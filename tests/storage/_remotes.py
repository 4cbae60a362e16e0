"""Remote backends for gateway-process tests: PostgreSQL behind a relay, moto S3, a bare Git repo.

Each :class:`Remote` gives the environment one more gateway instance needs (its own local
mirror under its home), can be cut off and restored (PostgreSQL: the relay in front of the
real server drops every connection and closes its port; S3: the moto server is stopped and
started again on the same port, keeping its data; Git: the pre-receive hook refuses pushes),
and reads what the backend itself holds, to prove a write arrived and is encrypted.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import threading
import urllib.parse
from pathlib import Path
from typing import Any

from storage._layout import CONFIG_PATH, locate
from storage.base import ChangeKind
from tests.storage._git_repos import Remote as GitRemote
from tests.storage.backends import PG_DSN, drop_schema, unique_schema
from tests.support.gateway import free_port

__all__ = ["GitBackend", "PostgresBackend", "Remote", "S3Backend", "ThreadRelay"]

#: Settings every instance gets: quick change checks, short per-call bounds.
COMMON_ENV = {"AIPROXYAPI_STORE_POLL_INTERVAL": "0.3", "AIPROXYAPI_STORE_TIMEOUT": "5"}


class ThreadRelay:
    """127.0.0.1:<port> forwarded to a target; ``cut`` drops everything, ``restore`` reopens."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._open = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def restore(self) -> None:
        """Listen again on the same port."""
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.1)
        self._listener = listener
        self._open.set()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the port and reset every relayed connection."""
        self._open.clear()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._open.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(src, dst), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class Remote:
    """One shared backend; subclasses fill in the four operations."""

    kind = ""
    leaf = ""

    def env(self, home: Path) -> dict[str, str]:
        """The environment of one more gateway instance living in ``home``."""
        raise NotImplementedError

    def mirror(self, home: Path) -> Path:
        """The local mirror of the instance living in ``home``."""
        return home / self.leaf

    def cut(self) -> None:
        """Make the backend unreachable (or refuse writes)."""
        raise NotImplementedError

    def restore(self) -> None:
        """Bring the backend back."""
        raise NotImplementedError

    def raw(self, kind: ChangeKind, name: str = "") -> bytes | None:
        """The bytes the backend itself holds for one document."""
        raise NotImplementedError

    def close(self) -> None:
        """Tear the backend down."""


class PostgresBackend(Remote):
    """The real server on 127.0.0.1:5432, one schema per test, reached through a relay."""

    kind, leaf = "postgres", "pgstore"

    def __init__(self) -> None:
        url = urllib.parse.urlsplit(PG_DSN)
        self.relay = ThreadRelay((url.hostname or "127.0.0.1", url.port or 5432))
        self.relay.restore()
        self.schema = unique_schema()
        netloc = f"{url.username}@" if url.username else ""
        self.dsn = urllib.parse.urlunsplit(
            (url.scheme, f"{netloc}127.0.0.1:{self.relay.port}", url.path, url.query, "")
        )

    def env(self, home: Path) -> dict[str, str]:
        return {
            **COMMON_ENV,
            "PGSTORE_DSN": self.dsn,
            "PGSTORE_SCHEMA": self.schema,
            "PGSTORE_LOCAL_PATH": str(home),
        }

    def cut(self) -> None:
        self.relay.cut()

    def restore(self) -> None:
        self.relay.restore()

    def raw(self, kind: ChangeKind, name: str = "") -> bytes | None:
        import asyncpg

        table, column = {
            ChangeKind.CONFIG: ("config", "id"),
            ChangeKind.AUTH: ("auth", "name"),
            ChangeKind.STATE: ("state", "key"),
        }[kind]

        async def fetch() -> Any:
            conn = await asyncpg.connect(PG_DSN, timeout=5)
            try:
                sql = f'SELECT content FROM "{self.schema}".aiproxyapi_{table} WHERE {column} = $1'
                return await conn.fetchval(sql, name or "config")
            finally:
                await conn.close()

        value = asyncio.run(fetch())
        return None if value is None else bytes(value)

    def close(self) -> None:
        self.relay.cut()
        asyncio.run(drop_schema(self.schema))


class S3Backend(Remote):
    """moto's S3 server on a fixed loopback port; its data outlives a stop and a start."""

    kind, leaf = "s3", "objectstore"

    def __init__(self) -> None:
        self.port = free_port()
        self.bucket = unique_schema().replace("_", "-")
        self._server: Any = None
        self.restore()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, home: Path) -> dict[str, str]:
        return {
            **COMMON_ENV,
            "OBJECTSTORE_ENDPOINT": self.endpoint,
            "OBJECTSTORE_BUCKET": self.bucket,
            "OBJECTSTORE_ACCESS_KEY": "test",
            "OBJECTSTORE_SECRET_KEY": "test-secret-canary",
            "OBJECTSTORE_LOCAL_PATH": str(home),
        }

    def cut(self) -> None:
        self._server.stop()

    def restore(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer("127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def raw(self, kind: ChangeKind, name: str = "") -> bytes | None:
        import boto3
        from botocore.exceptions import ClientError

        client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        key = CONFIG_PATH if kind is ChangeKind.CONFIG else locate(kind, name)
        try:
            return bytes(client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except ClientError:
            return None
        finally:
            client.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._server.stop()


class GitBackend(Remote):
    """A local bare repository whose pre-receive hook can refuse every push."""

    kind, leaf = "git", "gitstore"

    def __init__(self, root: Path) -> None:
        self.remote = GitRemote(root / "remote.git")

    def env(self, home: Path) -> dict[str, str]:
        return {
            **COMMON_ENV,
            "GITSTORE_GIT_URL": str(self.remote.path),
            "GITSTORE_LOCAL_PATH": str(home),
        }

    def cut(self) -> None:
        self.remote.refuse(True)

    def restore(self) -> None:
        self.remote.refuse(False)

    def raw(self, kind: ChangeKind, name: str = "") -> bytes | None:
        rel = CONFIG_PATH if kind is ChangeKind.CONFIG else locate(kind, name)
        if not self.remote.has_main():
            return None
        try:
            return self.remote.show(rel)
        except subprocess.CalledProcessError:
            return None
