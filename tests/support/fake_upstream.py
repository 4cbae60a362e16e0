"""A scriptable fake AI upstream: a real HTTP/1.1 server on 127.0.0.1 speaking every dialect.

It runs its own asyncio loop in a background thread, so sync and async tests use it alike::

    with FakeUpstream() as up:
        up.script(Reply.error(429, retry_after=5), key="sk-a")
        up.script(Reply.ok("hi", thinking="hmm", tool_calls=[ToolCall("f", {"x": 1})]))
        ...  # point the gateway (or a client) at up.base_url / up.root_url / up.codex_base_url
        assert up.requests_for("sk-a")[0].json["model"] == "gpt-4o"

The path picks the dialect (see ``_routes.py`` for the table): OpenAI Chat, embeddings and models
under ``/v1``, OpenAI Responses at ``/v1/responses``, the Codex backend at
``/backend-api/codex/responses``, Anthropic at ``/v1/messages`` (+ ``/count_tokens``), and Gemini
at ``/v1beta/models/{model}:{action}`` and the Vertex publisher paths. A generation answers with
the next scripted :class:`Reply` for the presented key, else the next unkeyed scripted reply,
else the key's default, else ``up.default``, rendered in the request's dialect. Token counting
and embeddings have their own scripts (``endpoint=``) and otherwise answer from the body. A
request without a credential gets the dialect's 401 (403 for Gemini) and consumes no script;
models lists are never scripted. Every request is recorded as a :class:`RecordedRequest`,
including whether the client went away before the reply was done.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from ._http11 import BufferedConn, HttpParseError, HttpRequest, read_request
from ._respond import ResetError, Responder
from ._routes import match, presented_key
from .openai_wire import Usage, error_body
from .replies import Endpoint, RecordedRequest, Reply, ToolCall

__all__ = ["FakeUpstream", "RecordedRequest", "Reply", "ToolCall", "Usage"]

_IDLE_TIMEOUT = 60.0  # a keep-alive connection with no new request is closed after this
_STOP_TIMEOUT = 10.0


class FakeUpstream:
    """The fake upstream server; ``start()``/``stop()`` or use it as a context manager."""

    def __init__(
        self, *, default: Reply | None = None, models: Sequence[str] = ("gpt-4o", "gpt-4o-mini")
    ) -> None:
        self.models = list(models)
        self._lock = threading.Lock()
        self._default = default or Reply.ok()
        self._key_defaults: dict[str, Reply] = {}
        self._queues: dict[tuple[Endpoint, str | None], deque[Reply]] = {}
        self._requests: list[RecordedRequest] = []
        self._responder = Responder(self._next_reply, lambda: list(self.models))
        self._open_connections = 0
        self._total_connections = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._port: int | None = None
        self._conn_tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 5.0) -> FakeUpstream:
        """Start serving on an ephemeral 127.0.0.1 port; returns self."""
        if self._thread is not None:
            raise RuntimeError("FakeUpstream already started")
        self._thread = threading.Thread(target=self._run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"FakeUpstream did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise RuntimeError("FakeUpstream failed to start") from self._error
        return self

    def stop(self) -> None:
        """Close every connection (hanging replies included) and join the server thread."""
        thread, loop, stop_event = self._thread, self._loop, self._stop_event
        if thread is None or not thread.is_alive():
            return
        if loop is not None and stop_event is not None:
            # RuntimeError: the loop closed on its own meanwhile.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop_event.set)
        thread.join(_STOP_TIMEOUT + 5)
        if thread.is_alive():
            raise RuntimeError("FakeUpstream thread did not stop")
        if self._error is not None:
            raise RuntimeError("FakeUpstream server loop failed") from self._error

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        if self._port is None:
            raise RuntimeError("FakeUpstream is not started")
        return self._port

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``, the base URL of Anthropic and Gemini clients."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, what an OpenAI client takes as base URL."""
        return f"{self.root_url}/v1"

    @property
    def codex_base_url(self) -> str:
        """``http://127.0.0.1:PORT/backend-api/codex``; Codex clients post to ``/responses``."""
        return f"{self.root_url}/backend-api/codex"

    # -- scripting ---------------------------------------------------------------------------

    @property
    def default(self) -> Reply:
        """The generation reply used when nothing is scripted and the key has no default."""
        with self._lock:
            return self._default

    @default.setter
    def default(self, reply: Reply) -> None:
        with self._lock:
            self._default = reply

    def set_default(self, reply: Reply | None, *, key: str | None = None) -> None:
        """Set the standing reply for one key (None removes it), or the global default."""
        with self._lock:
            if key is None:
                self._default = reply or Reply.ok()
            elif reply is None:
                self._key_defaults.pop(key, None)
            else:
                self._key_defaults[key] = reply

    def script(
        self,
        *replies: Reply,
        key: str | None = None,
        times: int = 1,
        endpoint: Endpoint = "generate",
    ) -> None:
        """Queue replies, each used for one request (for that key only, if given).

        endpoint picks the requests that consume them: ``generate`` (every dialect's generation
        route), ``count_tokens`` or ``embeddings``.
        """
        with self._lock:
            queue = self._queues.setdefault((endpoint, key), deque())
            for _ in range(times):
                queue.extend(replies)

    def pending(self, key: str | None = None, *, endpoint: Endpoint = "generate") -> int:
        """How many scripted replies are still unused (for one key, or unkeyed)."""
        with self._lock:
            return len(self._queues.get((endpoint, key), ()))

    def _next_reply(self, key: str | None, endpoint: Endpoint = "generate") -> Reply:
        with self._lock:
            keyed = self._queues.get((endpoint, key)) if key is not None else None
            if keyed:
                return keyed.popleft()
            unkeyed = self._queues.get((endpoint, None))
            if unkeyed:
                return unkeyed.popleft()
            if endpoint != "generate":
                return Reply.ok()  # counted or embedded from the body
            if key is not None and key in self._key_defaults:
                return self._key_defaults[key]
            return self._default

    # -- recording ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the list of requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, key: str) -> list[RecordedRequest]:
        """The requests that presented this key (in whichever header or query it came)."""
        return [r for r in self.requests if r.key == key]

    def clear(self, *, scripts: bool = False) -> None:
        """Forget the recorded requests (and, with scripts=True, every queued or keyed reply)."""
        with self._lock:
            self._requests.clear()
            if scripts:
                self._queues.clear()
                self._key_defaults.clear()

    @property
    def open_connections(self) -> int:
        """Client connections currently open."""
        with self._lock:
            return self._open_connections

    @property
    def total_connections(self) -> int:
        """Client connections accepted since start."""
        with self._lock:
            return self._total_connections

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll predicate every 10 ms until it is true or the timeout passes; returns its value."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    async def wait_until_async(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:  # noqa: ASYNC109
        """:meth:`wait_until` for async tests: polls without blocking the caller's loop."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # -- server thread -----------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self._ready.set()

    async def _serve(self) -> None:
        self._stop_event = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            tasks = list(self._conn_tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=_STOP_TIMEOUT)
            await asyncio.wait_for(server.wait_closed(), _STOP_TIMEOUT)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conn_tasks.add(task)
        with self._lock:
            self._open_connections += 1
            self._total_connections += 1
        try:
            await self._serve_connection(BufferedConn(reader), writer)
        except asyncio.CancelledError:
            pass  # stop() cancels us; on 3.11 a cancelled callback task makes asyncio log an error
        except Exception as exc:
            self._error = self._error or exc  # a bug in the fake: stop() raises it
        finally:
            writer.close()
            with contextlib.suppress(TimeoutError, ConnectionError, asyncio.CancelledError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            with self._lock:
                self._open_connections -= 1
            self._conn_tasks.discard(task)

    async def _serve_connection(self, conn: BufferedConn, writer: asyncio.StreamWriter) -> None:
        # Each pass serves one request; idle connections time out, so this loop is bounded.
        while True:
            try:
                async with asyncio.timeout(_IDLE_TIMEOUT):
                    request = await read_request(conn, writer)
            except HttpParseError as exc:
                await self._responder.write_simple(
                    writer, 400, error_body(400, str(exc)), close=True
                )
                return
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                return
            if request is None or not await self._exchange(request, conn, writer):
                return

    async def _exchange(
        self, request: HttpRequest, conn: BufferedConn, writer: asyncio.StreamWriter
    ) -> bool:
        """Record and answer one request; returns whether the connection may be reused."""
        record = self._record(request)
        respond = asyncio.ensure_future(self._responder.respond(request, record, writer))
        watch = asyncio.ensure_future(conn.wait_eof())
        try:
            await asyncio.wait({respond, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            client_gone = watch.done() and not watch.cancelled()  # else: the fake is stopping
            watch.cancel()
            if not respond.done():
                if client_gone:
                    record._disconnected.set()
                respond.cancel()
            await asyncio.gather(respond, watch, return_exceptions=True)
        if respond.cancelled():
            return False
        exc = respond.exception()
        if isinstance(exc, ResetError):
            return False
        if isinstance(exc, ConnectionError):
            record._disconnected.set()
            return False
        if exc is not None:
            raise exc
        record._completed.set()
        return respond.result() and request.keep_alive

    def _record(self, request: HttpRequest) -> RecordedRequest:
        headers: dict[str, str] = {}
        for name, value in request.headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        try:
            parsed: Any = json.loads(request.body) if request.body else None
        except ValueError:
            parsed = None
        route = match(request)
        dialect = route.dialect if route is not None else None
        model = route.model if route is not None else None
        if model is None and isinstance(parsed, dict) and isinstance(parsed.get("model"), str):
            model = parsed["model"]
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=headers,
            body=request.body,
            json=parsed,
            key=presented_key(request, dialect),
            timestamp=time.time(),
            monotonic=time.monotonic(),
            dialect=dialect or "openai",
            model=model,
            endpoint=route.endpoint if route is not None else "other",
        )
        with self._lock:
            self._requests.append(record)
        return record
