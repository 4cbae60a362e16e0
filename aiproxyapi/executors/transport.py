"""`PooledTransport`: httpx's transport API over our own HTTP/1.1 connections (no httpcore).

Executors keep using `httpx.AsyncClient.build_request` / `send(stream=True)` and get a plain
`httpx.Response`; underneath, each (scheme, host, port) origin keeps its own pool:

* idle connections sit in a deque and are reused newest first (LIFO), so acquire and release
  are O(1) whatever the pool size; idle ones older than `keepalive_expiry`, or closed by the
  server, are dropped when met (the newest on acquire, the oldest on every acquire/release);
  past the first `_KEEP_IDLE`, idle connections close after `_SURPLUS_EXPIRY` unused (a timer
  sweeps them), so a burst's connections do not outlive it by the whole keep-alive expiry;
* at most `max_connections` per origin exist (open, opening or in use); beyond that requests
  queue FIFO for a released connection or a freed slot, each for at most the pool timeout;
* a connection is reused only after a complete body on a keep-alive answer; errors,
  `Connection: close` and bodies closed before their end (bar a small remainder, drained)
  close it.

New connections go through `loop.create_connection` (TLS with SNI for https). Host names are
resolved by the loop's getaddrinfo; concurrent lookups for one host share one call and the
answer is kept `_DNS_TTL` seconds, so a burst of new connections costs one lookup. IP literals
skip resolution. A `check_resolved` hook sees every resolved address list before a connection
is attempted and may refuse it (the SSRF guard of `aiproxyapi.egress`). Timeouts follow
`request.extensions["timeout"]`: connect, pool, write (per blocked write) and read, which
bounds each wait for bytes (an idle timeout, not a total).
Response bodies are raw (httpx decodes content-encoding) and stream as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

import httpx

from aiproxyapi.executors._http11 import Connection, check_head, send_bytes, send_request

__all__ = ["PooledTransport", "pooled_chunks"]

_DRAIN_LIMIT = 64 * 1024  # an abandoned body with at most this much left is read to the end
_DRAIN_TIMEOUT = 1.0  # ...within this long, else the connection is closed
_DNS_TTL = 30.0
_PORTS = {b"http": 80, b"https": 443}
_TARGETS = 1024  # parsed URLs kept for `post` (forgotten all at once when full)
_KEEP_IDLE = 64  # idle connections per origin kept for the whole keep-alive expiry
_SURPLUS_EXPIRY = 0.5  # idle connections past _KEEP_IDLE close after this long unused

Address = tuple[int, str]  # (family, IP literal)


class _Origin:
    """The connections to one (scheme, host, port)."""

    __slots__ = (
        "_connect",
        "_expiry",
        "_limit",
        "_sweep_timer",
        "closed",
        "idle",
        "live",
        "total",
        "waiters",
    )

    def __init__(
        self, connect: Callable[[float | None], Awaitable[Connection]], limit: int, expiry: float
    ) -> None:
        self._connect = connect
        self._limit = limit
        self._expiry = expiry
        self.idle: deque[Connection] = deque()
        self.waiters: deque[asyncio.Future[Connection | None]] = deque()
        self.live: set[Connection] = set()
        self.total = 0  # connections open, opening or promised to a waiter
        self.closed = False
        self._sweep_timer: asyncio.TimerHandle | None = None

    async def acquire(
        self, pool_timeout: float | None, connect_timeout: float | None
    ) -> Connection:
        """A usable connection: the newest idle one, a new one, or one released to us."""
        idle = self.idle
        if idle:
            now = asyncio.get_running_loop().time()
            self._prune(now)
            while idle:
                conn = idle.pop()
                if not conn.closed and now - conn.idle_since < self._expiry:
                    return conn
                self._drop(conn)
        if self.total < self._limit:
            self.total += 1
        else:
            handed = await self._wait(pool_timeout)
            if handed is not None:
                if not handed.closed:
                    return handed
                self.live.discard(handed)  # lost on the way: its slot is ours to connect with
        try:
            conn = await self._connect(connect_timeout)
        except BaseException:
            self._free_slot()
            raise
        if self.closed:  # the transport was closed while we connected
            conn.close()
            raise httpx.ConnectError("the transport was closed")
        self.live.add(conn)
        return conn

    def release(self, conn: Connection) -> None:
        """A connection whose exchange ended cleanly: to the first waiter, else to the idle."""
        conn.busy = False
        if conn.closed or self.closed:
            self._drop(conn)
            return
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        loop = asyncio.get_running_loop()
        now = loop.time()
        conn.idle_since = now
        self.idle.append(conn)
        self._prune(now)
        if len(self.idle) > _KEEP_IDLE and self._sweep_timer is None:
            self._sweep_timer = loop.call_later(_SURPLUS_EXPIRY, self._sweep)

    def discard(self, conn: Connection) -> None:
        """A connection that must not be reused: close it and free its slot."""
        conn.busy = False
        self._drop(conn)

    def close(self) -> None:
        """Close every connection and fail every waiter."""
        self.closed = True
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
            self._sweep_timer = None
        for conn in list(self.live):
            conn.close()
        self.live.clear()
        self.idle.clear()
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(httpx.ConnectError("the transport was closed"))

    async def _wait(self, limit: float | None) -> Connection | None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Connection | None] = loop.create_future()
        self.waiters.append(fut)
        timer = None if limit is None else loop.call_later(limit, _pool_timeout, fut)
        try:
            return await fut
        except BaseException:
            # Cancelled after being handed a connection or a slot: give it back.
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                handed = fut.result()
                if handed is None:
                    self._free_slot()
                else:
                    self.release(handed)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _drop(self, conn: Connection) -> None:
        conn.close()
        if conn in self.live:
            self.live.discard(conn)
            self._free_slot()

    def _free_slot(self) -> None:
        waiters = self.waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to the waiter, which connects
                return
        self.total -= 1

    def _prune(self, now: float) -> None:
        # The oldest idle connection is leftmost. A burst's surplus (past _KEEP_IDLE) goes soon
        # after the burst, so a thousand connections opened for it do not stay for the expiry.
        idle = self.idle
        while idle:
            oldest = now - idle[0].idle_since
            if not (
                idle[0].closed
                or oldest >= self._expiry
                or (len(idle) > _KEEP_IDLE and oldest >= _SURPLUS_EXPIRY)
            ):
                break
            self._drop(idle.popleft())

    def _sweep(self) -> None:
        """Close the surplus idle connections once no request has come to reuse them."""
        self._sweep_timer = None
        loop = asyncio.get_running_loop()
        self._prune(loop.time())
        if len(self.idle) > _KEEP_IDLE and not self.closed:
            self._sweep_timer = loop.call_later(_SURPLUS_EXPIRY, self._sweep)


def _pool_timeout(fut: asyncio.Future[Connection | None]) -> None:
    if not fut.done():
        fut.set_exception(httpx.PoolTimeout("no upstream connection became free in time"))


class _Body(httpx.AsyncByteStream):
    """A response body streamed off its connection, which goes back to the pool at the end."""

    __slots__ = ("_conn", "_origin", "_timeout")

    def __init__(self, origin: _Origin, conn: Connection, timeout: float | None) -> None:
        self._origin = origin
        self._conn: Connection | None = conn
        self._timeout = timeout

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        conn = self._conn
        if conn is None:
            raise StopAsyncIteration
        try:
            data = await conn.read_chunk(self._timeout)
        except BaseException:
            self._done()
            raise
        if data:
            return data
        self._done()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            remaining = None if conn.complete else conn.remaining()
            if remaining is not None and 0 < remaining <= _DRAIN_LIMIT:
                with contextlib.suppress(httpx.TransportError, TimeoutError):
                    async with asyncio.timeout(_DRAIN_TIMEOUT):
                        while await conn.read_chunk(self._timeout):
                            pass
        finally:
            self._done()

    def _done(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if conn.complete and conn.keep_alive and not conn.closed:
            self._origin.release(conn)
        else:
            self._origin.discard(conn)


def pooled_chunks(response: httpx.Response) -> AsyncIterator[bytes] | None:
    """A pooled answer's body straight off its connection, when httpx would decode nothing.

    `Response.aiter_bytes` costs a decoder, a chunker and bookkeeping per answer; for an
    identity-encoded body from this transport they change nothing. None otherwise.
    """
    stream = response.stream
    if type(stream) is _Body and "content-encoding" not in response.headers:
        return stream
    return None


class PooledTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 to upstreams with per-origin O(1) pools; no proxy support (see module doc)."""

    def __init__(
        self,
        *,
        max_connections: int = 1000,
        keepalive_expiry: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = True,
        check_resolved: Callable[[str, list[str]], None] | None = None,
    ) -> None:
        self._limit = max_connections
        self._check_resolved = check_resolved
        self._expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._trust_env = trust_env
        self._origins: dict[tuple[bytes, str, int], _Origin] = {}
        self._dns: dict[tuple[str, int], tuple[float, list[Address]]] = {}
        self._lookups: dict[tuple[str, int], asyncio.Task[list[Address]]] = {}
        self._targets: dict[str, tuple[tuple[bytes, str, int], bytes, bytes]] = {}
        """URL -> (origin key, request target, Host value), for `post`."""
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme.decode()!r}")
        host = url.raw_host.decode("ascii")  # IDNA-encoded, IPv6 without brackets
        key = (scheme, host, url.port or _PORTS[scheme])
        timeouts = request.extensions.get("timeout") or {}
        head_only = request.method == "HEAD"
        return await self._exchange(
            key,
            head_only,
            timeouts,
            lambda conn: send_request(conn, request, timeouts.get("write")),
        )

    async def post(
        self,
        url: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeouts: Mapping[str, float | None],
    ) -> httpx.Response:
        """POST `body` to `url` with exactly `headers` (plus Host), without an httpx.Request.

        The hot path of the executors: the same bytes on the wire as `AsyncClient.send` with
        those headers, at a fraction of the cost. The URL is parsed by httpx (once per URL).
        """
        target = self._targets.get(url)
        if target is None:
            target = self._target(url)
        key, raw_path, netloc = target
        head = [b"POST ", raw_path, b" HTTP/1.1\r\nHost: ", netloc, b"\r\n"]
        for name, value in headers:
            head += (name, b": ", value, b"\r\n")
        head.append(b"\r\n")
        data = b"".join(head)
        check_head(data, len(headers) + 3)
        return await self._exchange(
            key, False, timeouts, lambda conn: send_bytes(conn, data, body, timeouts.get("write"))
        )

    def _target(self, url: str) -> tuple[tuple[bytes, str, int], bytes, bytes]:
        parsed = httpx.URL(url)
        scheme = parsed.raw_scheme
        if scheme not in _PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme.decode()!r}")
        host = parsed.raw_host.decode("ascii")
        target = ((scheme, host, parsed.port or _PORTS[scheme]), parsed.raw_path, parsed.netloc)
        if len(self._targets) >= _TARGETS:
            self._targets.clear()
        self._targets[url] = target
        return target

    async def _exchange(
        self,
        key: tuple[bytes, str, int],
        head_only: bool,
        timeouts: Mapping[str, float | None],
        write: Callable[[Connection], Awaitable[None]],
    ) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        origin = self._origins.get(key)
        if origin is None:
            scheme, host, port = key
            connect = functools.partial(self._connect, scheme == b"https", host, port)
            origin = self._origins[key] = _Origin(connect, self._limit, self._expiry)
        read_timeout = timeouts.get("read")
        conn = await origin.acquire(timeouts.get("pool"), timeouts.get("connect"))
        try:
            conn.start(head_only=head_only)
            await write(conn)
            await conn.read_head(read_timeout)
        except BaseException:
            origin.discard(conn)
            raise
        version = b"HTTP/1.1" if conn.version == "1.1" else b"HTTP/" + conn.version.encode()
        return httpx.Response(
            conn.status,
            headers=conn.headers,
            stream=_Body(origin, conn, read_timeout),
            extensions={"http_version": version, "reason_phrase": conn.reason},
        )

    async def aclose(self) -> None:
        self._closed = True
        origins, self._origins = list(self._origins.values()), {}
        for origin in origins:
            origin.close()

    async def _connect(self, tls: bool, host: str, port: int, limit: float | None) -> Connection:
        loop = asyncio.get_running_loop()
        context = self._tls_context() if tls else None
        server_hostname = host if tls else None

        def factory() -> Connection:
            return Connection(loop)

        try:
            async with asyncio.timeout(limit):
                error: OSError = OSError(f"no address for {host}")
                addresses = await self._resolve(host, port)
                if self._check_resolved is not None:
                    # Before any socket opens; the connection then goes to a checked address.
                    try:
                        self._check_resolved(host, [address for _, address in addresses])
                    except ValueError as exc:
                        raise httpx.ConnectError(str(exc)) from None
                for family, address in addresses:
                    try:
                        _, conn = await loop.create_connection(
                            factory,
                            address,
                            port,
                            family=family,
                            ssl=context,
                            server_hostname=server_hostname,
                        )
                    except OSError as exc:
                        error = exc
                    else:
                        return conn
                self._dns.pop((host, port), None)
                raise error
        except TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {exc}") from None

    async def _resolve(self, host: str, port: int) -> list[Address]:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, host)]
        key = (host, port)
        loop = asyncio.get_running_loop()
        cached = self._dns.get(key)
        if cached is not None and cached[0] > loop.time():
            return cached[1]
        lookup = self._lookups.get(key)
        if lookup is None:
            lookup = self._lookups[key] = loop.create_task(self._lookup(host, port))
        # Shielded: one caller giving up must not cancel the lookup the others wait on.
        return await asyncio.shield(lookup)

    async def _lookup(self, host: str, port: int) -> list[Address]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        finally:
            self._lookups.pop((host, port), None)
        addresses: list[Address] = list(
            dict.fromkeys((int(info[0]), str(info[4][0])) for info in infos)
        )
        self._dns[(host, port)] = (loop.time() + _DNS_TTL, addresses)
        return addresses

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            # httpx's own default (certifi, or SSL_CERT_FILE/SSL_CERT_DIR when trusting the
            # environment): the same trust store as the httpcore transport this replaces.
            context = httpx.create_ssl_context(trust_env=self._trust_env)
            context.set_alpn_protocols(["http/1.1"])
            self._ssl_context = context
        return self._ssl_context
