"""PostgreSQL records through an outage: requests never wait, queued records land afterwards."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest

from aiproxyapi.usage.records import RecordsUnavailable
from aiproxyapi.usage.records_pg import PostgresRecords
from tests.storage.backends import PG_DSN, drop_schema, require_postgres, unique_schema
from tests.usage.test_records import SAMPLE


class Switch:
    """A TCP relay to the test PostgreSQL that can refuse every connection."""

    def __init__(self) -> None:
        self.up = True
        self.port = 0
        self._links: set[asyncio.StreamWriter] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        target = urlsplit(PG_DSN)
        up_reader, up_writer = await asyncio.open_connection(target.hostname, target.port or 5432)
        self._links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        """Refuse new connections and break the open ones."""
        self.up = False
        for link in self._links:
            link.close()
        self._links.clear()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Switch]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self
            self.cut()

    def dsn(self) -> str:
        parts = urlsplit(PG_DSN)
        return parts._replace(netloc=f"127.0.0.1:{self.port}").geturl()


@pytest.mark.invariant(13)
async def test_an_outage_queues_records_and_reading_says_unavailable() -> None:
    await require_postgres()
    schema = unique_schema()
    try:
        async with Switch().running() as switch:
            switch.cut()
            store = PostgresRecords(switch.dsn(), schema)
            await store.start()  # an unreachable server is not fatal at start
            for item in SAMPLE:
                store.add(item)  # and adding never waits on it
            with pytest.raises(RecordsUnavailable):
                await store.breakdown()
            switch.up = True
            await store.flush(wait_seconds=20.0)
            assert [r.request_id for r in await store.fetch()] == [r.request_id for r in SAMPLE]
            await store.close()
    finally:
        await drop_schema(schema)
