"""PooledTransport against real HTTP/1.1 servers on 127.0.0.1 (tiny asyncio servers below).

Every test builds its own server and client, so the core ones also run on uvloop at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gzip
import ipaddress
import os
import socket
import ssl
import struct
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvloop

from aiproxyapi.executors.base import read_answer
from aiproxyapi.executors.http import HttpClients, UpstreamTimeouts
from aiproxyapi.executors.transport import PooledTransport, pooled_chunks

# -- a tiny server -------------------------------------------------------------------------------


@dataclass
class Req:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    reader: asyncio.StreamReader
    connection: int = 0

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


async def read_request(reader: asyncio.StreamReader) -> Req | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ")
    headers = [(k, v) for k, v in (line.split(": ", 1) for line in lines[1:] if line)]
    req = Req(method, target, headers, b"", reader)
    if length := req.header("content-length"):
        req.body = await reader.readexactly(int(length[0]))
    elif "chunked" in req.header("transfer-encoding"):
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        await reader.readexactly(2)
        req.body = b"".join(parts)
    return req


Respond = Callable[[Req, asyncio.StreamWriter], Awaitable[bool | None]]
"""Writes the answer to a request; False closes the connection afterwards."""


def answer(
    body: bytes = b"", status: int = 200, headers: tuple[tuple[str, str], ...] = ()
) -> bytes:
    lines = [f"HTTP/1.1 {status} Whatever", *(f"{k}: {v}" for k, v in headers)]
    if not any(k.lower() in {"content-length", "transfer-encoding"} for k, _ in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def echo(req: Req, writer: asyncio.StreamWriter) -> None:
    writer.write(answer(f"{req.method} {req.target} {len(req.body)}".encode()))


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class Upstream:
    respond: Respond = echo
    tls: ssl.SSLContext | None = None
    connections: int = 0
    open: int = 0
    max_open: int = 0
    requests: list[Req] = field(default_factory=list)
    port: int = 0
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> Upstream:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", 0, ssl=self.tls, backlog=2048
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while (req := await read_request(reader)) is not None:
                req.connection = number
                self.requests.append(req)
                if await self.respond(req, writer) is False:
                    break
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # a handler cancelled at shutdown ends quietly
        finally:
            self.open -= 1
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.transport.abort()


@contextlib.asynccontextmanager
async def client(
    up: Upstream, timeouts: httpx.Timeout | float = 5.0, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    transport = PooledTransport(**options)
    async with httpx.AsyncClient(transport=transport, base_url=up.url, timeout=timeouts) as c:
        yield c


async def until(condition: Callable[[], bool], limit: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


# -- requests ------------------------------------------------------------------------------------


async def test_keep_alive_reuses_one_connection() -> None:
    async with Upstream() as up, client(up) as c:
        for i in range(5):
            r = await c.get(f"/n{i}?q=1")
            assert (r.status_code, r.text) == (200, f"GET /n{i}?q=1 0")
            assert r.http_version == "HTTP/1.1"
            assert r.reason_phrase == "Whatever"
        assert up.connections == 1


async def test_request_line_headers_and_body_go_out_as_httpx_built_them() -> None:
    async with Upstream() as up, client(up) as c:
        r = await c.post("/v1/x?a=b%20c", content=b'{"k": 1}', headers={"X-Key": "v"})
        assert r.status_code == 200
    (req,) = up.requests
    assert (req.method, req.target, req.body) == ("POST", "/v1/x?a=b%20c", b'{"k": 1}')
    names = [name.lower() for name, _ in req.headers]
    assert len(names) == len(set(names))
    assert req.header("host") == [f"127.0.0.1:{up.port}"]
    assert req.header("content-length") == ["8"]
    assert req.header("x-key") == ["v"]


async def test_chunked_request_body_when_httpx_streams() -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b"hello ", b"", b"chunked ", b"world"):
            yield part

    async with Upstream() as up, client(up) as c:
        r = await c.post("/up", content=parts())
        assert r.text == "POST /up 19"
    assert up.requests[0].header("transfer-encoding") == ["chunked"]
    assert up.requests[0].body == b"hello chunked world"


async def test_header_injection_is_refused() -> None:
    async with Upstream() as up, client(up) as c:
        with pytest.raises(httpx.LocalProtocolError):
            await c.get("/", headers={"x-a": "1\r\nx-b: 2"})
        assert up.requests == []


# -- response bodies -----------------------------------------------------------------------------


async def test_content_length_chunked_and_close_delimited_bodies() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> bool | None:
        if req.target == "/length":
            writer.write(answer(b"fixed body"))
        elif req.target == "/chunked":
            writer.write(answer(headers=(("Transfer-Encoding", "chunked"),)))
            writer.write(chunk(b"one ") + chunk(b"two") + b"0\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
            return False
        return None

    async with Upstream(respond) as up, client(up) as c:
        assert (await c.get("/length")).text == "fixed body"
        assert (await c.get("/chunked")).text == "one two"
        assert up.connections == 1
        assert (await c.get("/close")).text == "until the end"
        assert (await c.get("/length")).text == "fixed body"
        assert up.connections == 2


async def test_connection_close_answer_is_not_reused() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(b"bye", headers=(("Connection", "close"),)))

    async with Upstream(respond) as up, client(up) as c:
        for _ in range(3):
            assert (await c.get("/")).text == "bye"
        assert up.connections == 3


async def test_headers_keep_order_and_duplicates() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        headers = (("Set-Cookie", "a=1"), ("X-Mid", "m"), ("Set-Cookie", "b=2"))
        writer.write(answer(b"", headers=headers))

    async with Upstream(respond) as up, client(up) as c:
        r = await c.get("/")
    assert [(k, v) for k, v in r.headers.multi_items() if k != "content-length"] == [
        ("set-cookie", "a=1"),
        ("x-mid", "m"),
        ("set-cookie", "b=2"),
    ]


async def test_content_encoding_is_left_to_httpx() -> None:
    packed = gzip.compress(b"decoded by httpx" * 100)

    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(packed, headers=(("Content-Encoding", "gzip"),)))

    async with Upstream(respond) as up, client(up) as c:
        assert (await c.get("/")).text == "decoded by httpx" * 100
        async with c.stream("GET", "/") as r:
            assert b"".join([part async for part in r.aiter_raw()]) == packed


async def test_answers_read_whole_skip_httpx_only_when_it_would_decode_nothing() -> None:
    packed = gzip.compress(b"decoded by httpx" * 100)

    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        if req.target == "/gzip":
            writer.write(answer(packed, headers=(("Content-Encoding", "gzip"),)))
        else:
            writer.write(answer(b"plain " * 1000))

    clients = HttpClients()
    try:
        async with Upstream(respond) as up:
            c = clients.get("direct", "", UpstreamTimeouts(connect=2, idle=5))
            r = await clients.post(c, up.url + "/gzip", {}, b"")
            assert pooled_chunks(r) is None
            assert await read_answer(r) == b"decoded by httpx" * 100
            await r.aclose()
            r = await clients.post(c, up.url + "/plain", {}, b"")
            assert pooled_chunks(r) is not None
            assert await read_answer(r) == b"plain " * 1000
            await r.aclose()
            async with c.stream("POST", up.url + "/plain") as wrapped:
                assert pooled_chunks(wrapped) is None  # httpx's own response: httpx reads it
                assert await read_answer(wrapped) == b"plain " * 1000
            assert up.connections == 1  # every body was read to its end: one connection
    finally:
        await clients.aclose()


async def test_chunks_stream_before_the_body_ends() -> None:
    go_on = asyncio.Event()

    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(headers=(("Transfer-Encoding", "chunked"),)) + chunk(b"first"))
        await writer.drain()
        await go_on.wait()
        writer.write(chunk(b"second") + b"0\r\n\r\n")

    async with Upstream(respond) as up, client(up) as c, c.stream("GET", "/") as r:
        parts = r.aiter_raw()
        assert await anext(parts) == b"first"
        go_on.set()
        assert [part async for part in parts] == [b"second"]


async def test_head_204_and_304_have_no_body_and_keep_the_connection() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        if req.method == "HEAD":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        elif req.target == "/204":
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif req.target == "/304":
            writer.write(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n")
        else:
            await echo(req, writer)

    async with Upstream(respond) as up, client(up) as c:
        r = await c.head("/")
        assert (r.status_code, r.headers["content-length"], r.content) == (200, "100", b"")
        assert (await c.get("/204")).content == b""
        assert (await c.get("/304")).status_code == 304
        assert (await c.get("/after")).text == "GET /after 0"
        assert up.connections == 1


async def test_interim_100_continue_is_skipped() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" + answer(b"final"))

    async with Upstream(respond) as up, client(up) as c:
        r = await c.post("/", content=b"x")
        assert (r.status_code, r.text, "x-interim" in r.headers) == (200, "final", False)


async def test_large_bodies_both_ways() -> None:
    blob = os.urandom(10 * 1024 * 1024)

    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(blob if req.method == "GET" else str(len(req.body)).encode()))

    async with Upstream(respond) as up, client(up) as c:
        async with c.stream("GET", "/") as r:
            got = [part async for part in r.aiter_raw()]
        assert b"".join(got) == blob
        assert len(got) > 1
        assert (await c.post("/", content=blob)).text == str(len(blob))
        assert up.connections == 1


# -- early close, errors -------------------------------------------------------------------------


async def test_early_close_discards_an_unfinished_body() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        if req.target == "/big":
            writer.write(answer(headers=(("Content-Length", str(1 << 20)),)) + b"x" * 1000)
            await writer.drain()
            await req.reader.read()  # until the client goes away
        else:
            await echo(req, writer)

    async with Upstream(respond) as up, client(up) as c:
        async with c.stream("GET", "/big") as r:
            assert await anext(r.aiter_raw()) == b"x" * 1000
        assert (await c.get("/next")).text == "GET /next 0"
        assert up.connections == 2
        await until(lambda: up.open == 1)


async def test_early_close_drains_a_small_remainder() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        if req.target == "/small":
            writer.write(answer(headers=(("Content-Length", "2000"),)) + b"a" * 1000)
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(b"b" * 1000)
        else:
            await echo(req, writer)

    async with Upstream(respond) as up, client(up) as c:
        async with c.stream("GET", "/small") as r:
            assert await anext(r.aiter_raw()) == b"a" * 1000
        assert (await c.get("/next")).text == "GET /next 0"
        assert up.connections == 1


async def test_reset_mid_body_is_a_read_error() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(headers=(("Content-Length", "1000"),)) + b"x" * 100)
        await writer.drain()
        await asyncio.sleep(0.05)
        reset(writer)
        return False

    async with Upstream(respond) as up, client(up) as c:
        with pytest.raises(httpx.ReadError):
            await c.get("/")


async def test_truncated_body_is_a_protocol_error() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> bool:
        writer.write(answer(headers=(("Content-Length", "1000"),)) + b"x" * 100)
        return False

    async with Upstream(respond) as up, client(up) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            await c.get("/")


async def test_malformed_answer_is_a_protocol_error() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")

    async with Upstream(respond) as up, client(up) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            await c.get("/")


async def test_connect_refused_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with httpx.AsyncClient(transport=PooledTransport()) as c:
        with pytest.raises(httpx.ConnectError):
            await c.get(f"http://127.0.0.1:{port}/")


async def test_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = PooledTransport()

    async def slow_resolve(host: str, port: int) -> list[tuple[int, str]]:
        await asyncio.sleep(10)
        return []

    monkeypatch.setattr(transport, "_resolve", slow_resolve)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, connect=0.1)) as c:
        with pytest.raises(httpx.ConnectTimeout):
            await c.get("http://upstream.invalid/")


async def test_read_timeout_is_an_idle_timeout() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        if req.target == "/late-head":
            await asyncio.sleep(0.6)
        writer.write(answer(headers=(("Transfer-Encoding", "chunked"),)))
        if req.target == "/pause":
            writer.write(chunk(b"a"))
            await writer.drain()
            await asyncio.sleep(0.6)
        else:  # trickles for 1.2 s, never idle for long
            for _ in range(12):
                writer.write(chunk(b"t"))
                await writer.drain()
                await asyncio.sleep(0.1)
        writer.write(b"0\r\n\r\n")

    timeout = httpx.Timeout(5, read=0.3)
    async with Upstream(respond) as up, client(up, timeouts=timeout) as c:
        assert (await c.get("/trickle")).text == "t" * 12
        with pytest.raises(httpx.ReadTimeout):
            await c.get("/late-head")
        async with c.stream("GET", "/pause") as r:
            parts = r.aiter_raw()
            assert await anext(parts) == b"a"
            with pytest.raises(httpx.ReadTimeout):
                await anext(parts)


async def test_write_timeout_when_the_upstream_stops_reading() -> None:
    stalled: list[asyncio.StreamWriter] = []

    async def stalled_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stalled.append(writer)  # and reads nothing

    async def parts() -> AsyncIterator[bytes]:
        block = b"z" * (1 << 20)
        for _ in range(256):
            yield block

    server = await asyncio.start_server(stalled_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        timeout = httpx.Timeout(5, write=0.2)
        async with httpx.AsyncClient(transport=PooledTransport(), timeout=timeout) as c:
            with pytest.raises(httpx.WriteTimeout):
                await c.post(f"http://127.0.0.1:{port}/", content=parts())
    finally:
        server.close()
        for writer in stalled:
            writer.transport.abort()
        await server.wait_closed()


# -- the pool ------------------------------------------------------------------------------------


async def test_concurrency_cap() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.02)
        await echo(req, writer)

    async with Upstream(respond) as up, client(up, max_connections=3) as c:
        results = await asyncio.gather(*(c.get(f"/{i}") for i in range(20)))
        assert [r.text for r in results] == [f"GET /{i} 0" for i in range(20)]
        assert (up.connections, up.max_open) == (3, 3)


async def test_waiters_are_served_in_arrival_order() -> None:
    async with Upstream() as up, client(up, max_connections=1) as c:
        async with c.stream("GET", "/hold"):
            tasks = []
            for i in range(5):
                tasks.append(asyncio.create_task(c.get(f"/w{i}")))
                await asyncio.sleep(0.02)
        results = await asyncio.gather(*tasks)
        assert [r.text for r in results] == [f"GET /w{i} 0" for i in range(5)]
        assert [req.target for req in up.requests] == ["/hold"] + [f"/w{i}" for i in range(5)]
        assert up.connections == 1


async def test_idle_connections_are_reused_newest_first() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05 if req.target == "/slow" else 0)
        await echo(req, writer)

    async with Upstream(respond) as up, client(up) as c:
        await asyncio.gather(c.get("/slow"), c.get("/fast"))
        fast_conn = next(req.connection for req in up.requests if req.target == "/fast")
        slow_conn = next(req.connection for req in up.requests if req.target == "/slow")
        for i in range(4):
            await c.get(f"/n{i}")
        # The slow one was released last: LIFO keeps reusing it, the other stays idle.
        assert [req.connection for req in up.requests[2:]] == [slow_conn] * 4
        assert fast_conn != slow_conn


async def test_a_slow_reader_pauses_the_socket() -> None:
    size = 32 * 1024 * 1024
    buffered: list[int] = []

    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(headers=(("Content-Length", str(size)),)))
        writer.write(b"s" * size)
        await asyncio.sleep(0.3)
        buffered.append(writer.transport.get_write_buffer_size())

    async with Upstream(respond) as up, client(up) as c, c.stream("GET", "/") as r:
        parts = r.aiter_raw()
        received = len(await anext(parts))
        await asyncio.sleep(0.4)
        received += sum([len(part) async for part in parts])
        assert received == size
    # The client stopped reading while its buffer was full: most bytes waited at the server.
    assert buffered[0] > size // 2


async def test_an_unread_body_buffers_at_most_the_high_water_mark_and_one_read() -> None:
    size = 8 * 1024 * 1024
    seen: list[int] = []

    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(headers=(("Content-Length", str(size)),)))
        writer.write(b"s" * size)
        await writer.drain()

    async with Upstream(respond) as up, client(up) as c, c.stream("GET", "/") as r:
        parts = r.aiter_raw()
        received = len(await anext(parts))
        await asyncio.sleep(0.3)  # the reader stalls; the connection must not take it all in
        second = await anext(parts)
        seen.append(len(second))
        received += len(second) + sum([len(part) async for part in parts])
        assert received == size
    # What piled up while nobody read: at most the 64 KiB mark plus one 16 KiB read.
    assert seen[0] <= 64 * 1024 + 16 * 1024


async def test_a_body_closed_unread_after_it_all_arrived_leaves_a_usable_connection() -> None:
    size = 600 * 1024  # crosses the read-pause threshold with its last bytes

    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        writer.write(answer(b"b" * size if req.target == "/big" else b"small"))

    async with Upstream(respond) as up, client(up, timeouts=httpx.Timeout(5, read=1)) as c:
        for _ in range(5):
            async with c.stream("GET", "/big"):
                await asyncio.sleep(0.1)  # the whole body arrives meanwhile, nothing is read
            assert (await c.get("/small")).text == "small"


async def test_pool_timeout() -> None:
    async with (
        Upstream() as up,
        client(up, timeouts=httpx.Timeout(5, pool=0.1), max_connections=1) as c,
    ):
        async with c.stream("GET", "/hold"):
            with pytest.raises(httpx.PoolTimeout):
                await c.get("/waits")
        assert (await c.get("/after")).text == "GET /after 0"
        assert up.connections == 1


async def test_cancelled_request_frees_its_connection() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        if req.target == "/hang":
            await asyncio.sleep(10)
        await echo(req, writer)

    async with Upstream(respond) as up, client(up, max_connections=1) as c:
        task = asyncio.create_task(c.get("/hang"))
        await until(lambda: len(up.requests) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await c.get("/ok")).text == "GET /ok 0"
        assert up.connections == 2


async def test_expired_idle_connections_are_replaced() -> None:
    async with Upstream() as up, client(up, keepalive_expiry=0.1) as c:
        await c.get("/a")
        await c.get("/b")
        assert up.connections == 1
        await asyncio.sleep(0.2)
        await c.get("/c")
        assert up.connections == 2
        await until(lambda: up.open == 1)  # the expired one was closed


async def test_a_bursts_surplus_idle_connections_close_soon_after_it() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        await echo(req, writer)

    async with Upstream(respond) as up, client(up, max_connections=200) as c:
        await asyncio.gather(*(c.get(f"/{i}") for i in range(150)))
        assert up.connections == 150
        # 64 stay for the keep-alive expiry; the other 86 close after half a second unused.
        await until(lambda: up.open == 64, limit=3.0)
        await asyncio.sleep(0.7)
        assert up.open == 64
        await asyncio.gather(*(c.get(f"/again{i}") for i in range(64)))
        assert up.connections == 150  # the kept ones served the next burst


async def test_connection_closed_by_the_server_while_idle_is_replaced() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> bool:
        await echo(req, writer)
        return False  # closes after answering, without saying so

    async with Upstream(respond) as up, client(up) as c:
        await c.get("/a")
        await until(lambda: up.open == 0)
        await asyncio.sleep(0.02)
        assert (await c.get("/b")).text == "GET /b 0"
        assert up.connections == 2


async def test_aclose_closes_every_connection() -> None:
    async with Upstream() as up:
        transport = PooledTransport()
        c = httpx.AsyncClient(transport=transport, base_url=up.url)
        await asyncio.gather(*(c.get("/") for _ in range(3)))
        held = await c.send(c.build_request("GET", "/held"), stream=True)
        assert up.open >= 2
        await c.aclose()
        await until(lambda: up.open == 0)
        await held.aclose()


async def test_thousand_concurrent_requests() -> None:
    async def respond(req: Req, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.05)
        await echo(req, writer)

    async with Upstream(respond) as up, client(up, timeouts=60) as c:
        results = await asyncio.gather(*(c.post(f"/{i}", content=b"x" * 100) for i in range(1000)))
        assert all(r.text == f"POST /{i} 100" for i, r in enumerate(results))
        assert up.connections <= 1000


async def test_hostname_lookups_are_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    lookups: list[object] = []
    real = loop.getaddrinfo

    async def counted(*args: Any, **kwargs: Any) -> Any:
        lookups.append(args[0])
        return await real(*args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", counted)
    async with Upstream() as up, httpx.AsyncClient(transport=PooledTransport()) as c:
        results = await asyncio.gather(*(c.get(f"http://localhost:{up.port}/") for _ in range(10)))
        assert {r.status_code for r in results} == {200}
    assert lookups == ["localhost"]


# -- TLS -----------------------------------------------------------------------------------------


def self_signed() -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def server_context(cert_pem: bytes, key_pem: bytes, names: list[str | None]) -> ssl.SSLContext:
    """A server context for the certificate that records the SNI names clients send."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        with open(cert_file, "wb") as f:
            f.write(cert_pem)
        with open(key_file, "wb") as f:
            f.write(key_pem)
        context.load_cert_chain(cert_file, key_file)

    def record(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = record  # type: ignore[assignment]
    return context


async def test_tls_with_sni_against_a_self_signed_server() -> None:
    cert_pem, key_pem = self_signed()
    names: list[str | None] = []
    server_ctx = server_context(cert_pem, key_pem, names)
    trusting = ssl.create_default_context(cadata=cert_pem.decode())

    async with Upstream(tls=server_ctx) as up:
        async with httpx.AsyncClient(transport=PooledTransport(ssl_context=trusting)) as c:
            for _ in range(3):
                r = await c.post(f"https://localhost:{up.port}/tls", content=b"secret")
                assert r.text == "POST /tls 6"
            assert (await c.get(f"https://127.0.0.1:{up.port}/ip")).text == "GET /ip 0"
        assert names[0] == "localhost"
        assert up.connections == 2
        async with httpx.AsyncClient(transport=PooledTransport()) as c:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await c.get(f"https://localhost:{up.port}/")


# -- the client factory --------------------------------------------------------------------------


async def test_client_factory_uses_the_pooled_transport_only_without_a_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}:
            monkeypatch.delenv(name)
    clients = HttpClients()

    def pooled(proxy: str, global_proxy: str = "") -> bool:
        built = clients.get(proxy, global_proxy, UpstreamTimeouts(connect=1, idle=2))
        return isinstance(built._transport, PooledTransport)

    try:
        assert pooled("")
        assert pooled("direct")
        assert pooled("", "none")
        assert not pooled("http://127.0.0.1:3128")
        assert not pooled("", "socks5://127.0.0.1:1080")
        await clients.aclose()
        monkeypatch.setenv("https_proxy", "http://127.0.0.1:3128")
        assert not pooled("")
        assert pooled("direct")
    finally:
        await clients.aclose()


async def test_direct_post_sends_what_httpx_would_send() -> None:
    clients = HttpClients()
    timed: list[tuple[str, float]] = []
    clients.on_upstream_headers = lambda host, seconds: timed.append((host, seconds))
    headers = {"x-entry": "e", "authorization": "Bearer k", "accept": "application/json"}
    headers["User-Agent"] = "custom/1"
    try:
        async with Upstream() as up:
            c = clients.get("direct", "", UpstreamTimeouts(connect=2, idle=5))
            url = f"{up.url}/v1/chat/completions?alt=sse"
            sent = await c.send(c.build_request("POST", url, content=b"{}", headers=headers))
            direct = await clients.post(c, url, headers, b"{}")
            assert (direct.status_code, await direct.aread()) == (
                200,
                b"POST /v1/chat/completions?alt=sse 2",
            )
            await direct.aclose()
            await sent.aclose()
    finally:
        await clients.aclose()
    via_httpx, via_post = up.requests
    assert (via_post.method, via_post.target, via_post.body) == ("POST", via_httpx.target, b"{}")
    assert via_post.headers == via_httpx.headers
    assert [host for host, _ in timed] == ["127.0.0.1", "127.0.0.1"]


async def test_direct_post_leaves_framing_headers_to_httpx() -> None:
    clients = HttpClients()
    try:
        async with Upstream() as up:
            c = clients.get("direct", "", UpstreamTimeouts(connect=2, idle=5))
            r = await clients.post(c, up.url + "/", {"Host": "upstream.test"}, b"{}")
            await r.aread()
    finally:
        await clients.aclose()
    (req,) = up.requests
    assert req.header("host") == ["upstream.test"]
    assert req.header("content-length") == ["2"]


async def test_direct_post_refuses_header_injection() -> None:
    clients = HttpClients()
    try:
        async with Upstream() as up:
            c = clients.get("direct", "", UpstreamTimeouts(connect=2, idle=5))
            with pytest.raises(httpx.LocalProtocolError):
                await clients.post(c, up.url + "/", {"x-a": "1\r\nx-b: 2"}, b"")
            with pytest.raises(httpx.UnsupportedProtocol):
                await clients.post(c, "ftp://127.0.0.1/", {}, b"")
            assert up.requests == []
    finally:
        await clients.aclose()


# -- the same on uvloop --------------------------------------------------------------------------

_ON_UVLOOP = [
    test_keep_alive_reuses_one_connection,
    test_chunked_request_body_when_httpx_streams,
    test_content_length_chunked_and_close_delimited_bodies,
    test_chunks_stream_before_the_body_ends,
    test_head_204_and_304_have_no_body_and_keep_the_connection,
    test_large_bodies_both_ways,
    test_early_close_discards_an_unfinished_body,
    test_early_close_drains_a_small_remainder,
    test_reset_mid_body_is_a_read_error,
    test_truncated_body_is_a_protocol_error,
    test_connect_refused_is_a_connect_error,
    test_read_timeout_is_an_idle_timeout,
    test_waiters_are_served_in_arrival_order,
    test_idle_connections_are_reused_newest_first,
    test_a_slow_reader_pauses_the_socket,
    test_a_body_closed_unread_after_it_all_arrived_leaves_a_usable_connection,
    test_pool_timeout,
    test_cancelled_request_frees_its_connection,
    test_expired_idle_connections_are_replaced,
    test_connection_closed_by_the_server_while_idle_is_replaced,
    test_thousand_concurrent_requests,
    test_tls_with_sni_against_a_self_signed_server,
    test_direct_post_sends_what_httpx_would_send,
]


@pytest.mark.parametrize("case", _ON_UVLOOP, ids=lambda case: case.__name__[5:])
def test_on_uvloop(case: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(case())  # type: ignore[arg-type]
