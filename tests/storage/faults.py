"""Fault-injection helpers for the storage tests: a backend that can be switched off, a TCP
relay that cuts PostgreSQL away and brings it back, and polling with a deadline."""

from __future__ import annotations

import asyncio
import socket
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from storage.base import Change, Store, StoreUnavailable
from storage.file import FileStore

__all__ = ["FlakyStore", "TcpRelay", "closed_port", "eventually", "with_port"]


class FlakyStore(Store):
    """A FileStore-backed 'remote' that can be switched off; records what reached it."""

    kind = "flaky"

    def __init__(self, root: Path) -> None:
        self.inner = FileStore(root / "auths", root / "config.yaml")
        self.down = False
        self.received: list[tuple[str, str, bytes | None]] = []

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("flaky backend is switched off")

    async def start(self) -> None:
        self._check()
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def read_config(self) -> bytes | None:
        self._check()
        return await self.inner.read_config()

    async def write_config(self, data: bytes) -> None:
        self._check()
        self.received.append(("config", "", data))
        await self.inner.write_config(data)

    async def list_auth(self) -> dict[str, bytes]:
        self._check()
        return await self.inner.list_auth()

    async def read_auth(self, name: str) -> bytes | None:
        self._check()
        return await self.inner.read_auth(name)

    async def write_auth(self, name: str, data: bytes) -> None:
        self._check()
        self.received.append(("auth", name, data))
        await self.inner.write_auth(name, data)

    async def delete_auth(self, name: str) -> None:
        self._check()
        self.received.append(("auth", name, None))
        await self.inner.delete_auth(name)

    async def read_state(self, key: str) -> bytes | None:
        self._check()
        return await self.inner.read_state(key)

    async def write_state(self, key: str, data: bytes) -> None:
        self._check()
        self.received.append(("state", key, data))
        await self.inner.write_state(key, data)

    async def changes(self) -> AsyncIterator[Change]:
        self._check()
        async for change in self.inner.changes():
            yield change


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    """Poll until ``check()`` is true; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - health has no event to wait on
            await asyncio.sleep(0.05)


class TcpRelay:
    """Forwards 127.0.0.1:<port> to PostgreSQL; ``stop`` cuts every connection and closes
    the port, ``start`` opens the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


def with_port(dsn: str, port: int, password: str = "") -> str:
    url = urllib.parse.urlsplit(dsn)
    auth = (
        f"{url.username or 'root'}:{password}@"
        if password
        else (f"{url.username}@" if url.username else "")
    )
    return urllib.parse.urlunsplit((url.scheme, f"{auth}127.0.0.1:{port}", url.path, url.query, ""))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
