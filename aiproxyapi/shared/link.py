"""The one connection to Redis that every shared piece of state goes through.

A :class:`RedisLink` owns a pool of command connections and one pub/sub connection, and
knows whether Redis is up. Every call is bounded (``timeout``, tens of milliseconds on the
request path); a call that fails or runs out of time marks the link down, and while it is down
no call waits on Redis at all: :meth:`RedisLink.call` raises :class:`RedisUnavailable` at
once and :meth:`RedisLink.run` returns the caller's local fallback. A background task probes
Redis with backoff (0.25 s doubling to 5 s); when it answers again the pub/sub channels are
subscribed anew and every ``on_reconnect`` hook runs, so each subsystem re-syncs its state.
A warning is logged once per outage, not once per request.

redis-py is imported when a link is built, never by a gateway without a `redis` section.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiproxyapi.config import Redis
from storage.select import safe_url

__all__ = ["Handler", "Hook", "RedisLink", "RedisUnavailable"]

log = logging.getLogger("aiproxyapi.shared")

T = TypeVar("T")
F = TypeVar("F")

Hook = Callable[[], Awaitable[None]]
"""Run each time the link comes up: at start and after every outage."""
Handler = Callable[[bytes], None]
"""Called with the payload of each message on a subscribed channel; must not block."""

PROBE_MIN = 0.25
PROBE_MAX = 5.0
CONNECT_TIMEOUT = 1.0
"""Bound on opening a connection and on the probe's PING."""
START_WAIT = 3.0
"""How long `start` waits for the first connection and the hooks' first sync."""
SYNC_TIMEOUT = 2.0
"""Default bound on a hook's calls (loading a snapshot is not on the request path)."""
STEADY = 10.0
"""A stretch up at least this long resets the probe's backoff."""


class RedisUnavailable(Exception):
    """Redis is down, did not answer in time, or refused the call: go on with local state."""


class RedisLink:
    """A bounded, outage-aware connection to the shared Redis."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        timeout: float = 0.1,
        probe_min: float = PROBE_MIN,
        probe_max: float = PROBE_MAX,
    ) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.prefix = prefix
        """Start of every key and channel name this link's users write."""
        self.timeout = timeout
        """Default bound of one call, in seconds."""
        self.where = safe_url(url)
        """The URL without password or query, for logs and status."""
        self.errors = 0
        """Failed calls since start (timeouts, refused connections, errors Redis answered)."""
        self.outages = 0
        """Times the link went down after having been up."""
        self._probe = (probe_min, probe_max)
        self._fatal: tuple[type[BaseException], ...] = (
            aioredis.ConnectionError,
            aioredis.TimeoutError,
            OSError,
            TimeoutError,
        )
        self._errors: tuple[type[BaseException], ...] = (aioredis.RedisError, *self._fatal)
        # No retries inside redis-py: a failed call is reported at once and the probe decides.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=256,
            timeout=None,
            socket_timeout=max(SYNC_TIMEOUT, timeout),
            socket_connect_timeout=CONNECT_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self.client: Any = aioredis.Redis.from_pool(pool)
        """The redis-py asyncio client; call it through :meth:`call` so failures are seen."""
        self._listener: Any = aioredis.Redis.from_url(
            url,
            socket_timeout=None,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_keepalive=True,
            health_check_interval=10,
            retry=Retry(NoBackoff(), 0),
        )
        self._up = False
        self._warned = False
        self._down = asyncio.Event()
        self._down.set()
        self._first = asyncio.Event()
        self._hooks: list[Hook] = []
        self._handlers: dict[str, Handler] = {}
        self._new_channels: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._pubsub: Any = None

    @classmethod
    def from_settings(cls, settings: Redis) -> RedisLink:
        """The link a config's `redis` section describes (its `url` must be set)."""
        return cls(settings.url, settings.key_prefix, timeout=settings.timeout_ms / 1000.0)

    @property
    def up(self) -> bool:
        """Whether calls go to Redis now (False until the first connection succeeded)."""
        return self._up

    def key(self, *parts: str) -> str:
        """The full name of a key or channel: the prefix, then the parts joined by `:`."""
        return self.prefix + ":".join(parts)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and run the hooks once (bounded); never raises when Redis is down."""
        if self._task is not None:
            return
        log.info("shared state: redis at %s, key prefix %r", self.where, self.prefix)
        self._task = asyncio.create_task(self._supervise(), name="redis-link")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START_WAIT):
                await self._first.wait()

    async def close(self) -> None:
        """Stop the probe and the listener, close every connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._up = False
        for client in (self.client, self._listener):
            with contextlib.suppress(Exception):
                await client.aclose()

    def on_reconnect(self, hook: Hook) -> None:
        """Run `hook` each time the link comes up (at start and after every outage)."""
        self._hooks.append(hook)

    def subscribe(self, channel: str, handler: Handler) -> None:
        """Deliver every message published on `key(channel)` to `handler`, across outages."""
        name = self.key(channel)
        self._handlers[name] = handler
        self._new_channels.add(name)

    # -- calls -----------------------------------------------------------------------------

    async def call(self, fn: Callable[[Any], Awaitable[T]], *, bound: float | None = None) -> T:
        """`fn(client)` within `bound` seconds (else `timeout`); RedisUnavailable if it cannot."""
        if not self._up:
            raise RedisUnavailable("redis is down")
        try:
            async with asyncio.timeout(self.timeout if bound is None else bound):
                return await fn(self.client)
        except self._errors as exc:
            self.fail(exc)
            raise RedisUnavailable(type(exc).__name__) from None

    async def run(
        self, fn: Callable[[Any], Awaitable[T]], fallback: F, *, bound: float | None = None
    ) -> T | F:
        """`fn(client)`, or `fallback` when Redis is down or the call fails."""
        try:
            return await self.call(fn, bound=bound)
        except RedisUnavailable:
            return fallback

    async def publish(self, channel: str, payload: bytes) -> bool:
        """Send `payload` to the subscribers of `key(channel)`; False when it could not."""
        name = self.key(channel)
        return await self.run(lambda r: _published(r.publish(name, payload)), False)

    def fail(self, exc: BaseException) -> None:
        """Count a failed call; a connection failure or timeout takes the link down."""
        self.errors += 1
        if not isinstance(exc, self._fatal):
            log.error("redis refused a call: %s", type(exc).__name__)
            return
        if self._up:
            self.outages += 1
        self._up = False
        self._down.set()
        if not self._warned:
            self._warned = True
            log.warning(
                "redis at %s unreachable (%s): serving on this instance's own state until it "
                "answers again",
                self.where,
                type(exc).__name__,
            )

    # -- supervision -----------------------------------------------------------------------

    async def _supervise(self) -> None:
        delay = self._probe[0]
        while True:
            started = time.monotonic()
            if await self._session() and time.monotonic() - started >= STEADY:
                delay = self._probe[0]  # it was up a while: the first probe comes soon
            self._first.set()
            await asyncio.sleep(delay)
            # A link that keeps dropping right after coming up is probed less and less often.
            delay = min(delay * 2, self._probe[1])

    async def _session(self) -> bool:
        """One stretch of Redis being up: probe, subscribe, sync, listen; True if it came up."""
        came_up = False
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                await self.client.ping()
                if self._handlers:
                    self._pubsub = self._listener.pubsub(ignore_subscribe_messages=True)
                    await self._pubsub.subscribe(*self._handlers)
            self._new_channels.clear()
            recovered = self._warned
            self._warned = False
            self._up = came_up = True
            self._down.clear()
            for hook in list(self._hooks):
                await hook()
            if recovered:
                log.warning("redis at %s answers again: shared state re-synced", self.where)
            self._first.set()
            await self._listen()
        except asyncio.CancelledError:
            raise
        except RedisUnavailable:
            pass  # the failed call has already taken the link down
        except self._errors as exc:
            self.fail(exc)
        except Exception as exc:  # a hook's bug must not end the supervision
            log.exception("redis link: a sync hook failed")
            self.fail(ConnectionError(type(exc).__name__))
        finally:
            pubsub, self._pubsub = self._pubsub, None
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(CONNECT_TIMEOUT):
                        await pubsub.aclose()
        return came_up

    async def _listen(self) -> None:
        """Deliver messages until a failed call takes the link down (or the connection drops)."""
        while self._up:
            if self._new_channels:
                if self._pubsub is None:
                    self._pubsub = self._listener.pubsub(ignore_subscribe_messages=True)
                names, self._new_channels = list(self._new_channels), set()
                await self._pubsub.subscribe(*names)
            if self._pubsub is None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._down.wait()
                continue
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            name = channel.decode() if isinstance(channel, bytes) else str(channel)
            handler = self._handlers.get(name)
            if handler is not None:
                try:
                    handler(message["data"])
                except Exception:  # one bad message must not stop the listener
                    log.exception("redis link: handling a message on %s failed", name)


async def _published(sent: Awaitable[int]) -> bool:
    await sent
    return True
