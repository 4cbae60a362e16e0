"""The relay: one client request through routing, the pool and an executor, and back.

Knows nothing of the web framework: the API layer hands it a decoded request and gets back
either a complete answer or an async iterator of stream bytes. Usage is recorded when the answer
has been delivered (or has failed), exactly once per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from aiproxyapi.canonical import Usage
from aiproxyapi.errors import GatewayError, UpstreamFailure
from aiproxyapi.executors import UpstreamCall
from aiproxyapi.formats import openai_chat
from aiproxyapi.formats.sse import SSEDecoder
from aiproxyapi.routing import Candidate, Route
from aiproxyapi.runtime import Runtime
from aiproxyapi.usage.record import UsageRecord

__all__ = ["Completed", "Inbound", "Streaming", "UsageSink", "relay_chat"]

UsageSink = Callable[[UsageRecord], None]

UPSTREAM_BODY_LIMIT = 64 * 1024 * 1024
CLIENT_CLOSED = 499


@dataclass(slots=True)
class Inbound:
    """Who asked what: the facts about a client request the relay and usage need."""

    endpoint: str
    request_id: str
    client: str
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True, slots=True)
class Completed:
    """A complete, non-streaming answer."""

    status: int
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class Streaming:
    """A stream whose first bytes are ready; iterate `chunks` to relay it."""

    chunks: AsyncIterator[bytes]


@dataclass(slots=True)
class _Opened:
    candidate: Candidate
    response: httpx.Response
    chunks: AsyncIterator[bytes]
    first: bytes
    hide_usage_chunk: bool


_EFFORT = {"auto": None, "max": "xhigh"}


async def relay_chat(
    runtime: Runtime, inbound: Inbound, payload: dict[str, Any], sink: UsageSink
) -> Completed | Streaming:
    """Serve an OpenAI Chat Completions request from an OpenAI-compatible upstream."""
    stream = bool(payload.get("stream"))
    try:
        route = runtime.registry.resolve(payload["model"])
    except GatewayError as error:
        sink(_record(inbound, None, None, None, error.status, stream=stream))
        raise
    effort = None
    if route.thinking is not None:
        effort = _EFFORT.get(route.thinking.level, route.thinking.level)

    def call_for(candidate: Candidate) -> tuple[UpstreamCall, bool]:
        body, added = openai_chat.prepare_passthrough(
            payload, candidate.upstream_model, reasoning_effort=effort
        )
        call = UpstreamCall(
            credential=candidate.credential,
            upstream_model=candidate.upstream_model,
            body=body,
            stream=stream,
        )
        return call, added

    try:
        if not stream:
            return await _complete(runtime, inbound, route, call_for, sink)
        opened = await runtime.dispatcher.dispatch(route, _stream_opener(runtime, call_for))
    except GatewayError as error:
        sink(_record(inbound, route, None, None, error.status, stream=stream))
        raise
    except asyncio.CancelledError:
        sink(_record(inbound, route, None, None, CLIENT_CLOSED, stream=stream))
        raise
    return Streaming(_relay_stream(inbound, route, opened, sink))


async def _complete(
    runtime: Runtime,
    inbound: Inbound,
    route: Route,
    call_for: Callable[[Candidate], tuple[UpstreamCall, bool]],
    sink: UsageSink,
) -> Completed:
    async def attempt(candidate: Candidate) -> tuple[Candidate, Completed]:
        call, _ = call_for(candidate)
        response = await runtime.executors[candidate.credential.kind].open(call)
        try:
            body = await _read_body(response)
        finally:
            await response.aclose()
        content_type = response.headers.get("content-type", "application/json")
        return candidate, Completed(response.status_code, body, content_type)

    candidate, answer = await runtime.dispatcher.dispatch(route, attempt)
    usage = openai_chat.usage_from_body(answer.body)
    sink(_record(inbound, route, candidate, usage, answer.status, stream=False))
    return answer


def _stream_opener(
    runtime: Runtime, call_for: Callable[[Candidate], tuple[UpstreamCall, bool]]
) -> Callable[[Candidate], Any]:
    async def attempt(candidate: Candidate) -> _Opened:
        call, added = call_for(candidate)
        response = await runtime.executors[candidate.credential.kind].open(call)
        chunks = response.aiter_bytes()
        # Wait for the first bytes before answering the client: until then a dead upstream can
        # still be replaced by another credential without the client noticing.
        try:
            first = await anext(chunks, b"")
        except httpx.HTTPError as exc:
            await response.aclose()
            raise UpstreamFailure(
                f"stream failed before its first byte ({type(exc).__name__})",
                status=None,
                timed_out=isinstance(exc, httpx.TimeoutException),
            ) from None
        return _Opened(candidate, response, chunks, first, added)

    return attempt


async def _relay_stream(
    inbound: Inbound, route: Route, opened: _Opened, sink: UsageSink
) -> AsyncIterator[bytes]:
    decoder = SSEDecoder()
    tap = openai_chat.StreamTap(opened.hide_usage_chunk)
    ttft: float | None = None
    status = CLIENT_CLOSED
    try:
        chunk = opened.first
        while True:
            kept = [e.raw for e in decoder.feed(chunk) if not e.data or tap.keep(e.data)]
            if kept:
                if ttft is None:
                    ttft = time.perf_counter()
                yield b"".join(kept)
            try:
                chunk = await anext(opened.chunks)
            except StopAsyncIteration:
                break
        tail = [e.raw for e in decoder.close() if not e.data or tap.keep(e.data)]
        if tail:
            yield b"".join(tail)
        status = 200 if tap.done else 502
        if not tap.done:
            yield openai_chat.encode_stream_error(
                "the upstream stream ended before it was complete",
                "upstream_error",
                "upstream_error",
            )
    except httpx.HTTPError as exc:
        status = 502
        yield openai_chat.encode_stream_error(
            f"the upstream stream failed ({type(exc).__name__})", "upstream_error", "upstream_error"
        )
    finally:
        await opened.response.aclose()
        sink(
            _record(
                inbound, route, opened.candidate, tap.usage, status, stream=True, first_byte=ttft
            )
        )


async def _read_body(response: httpx.Response) -> bytes:
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > UPSTREAM_BODY_LIMIT:
                raise UpstreamFailure("upstream answer exceeds the size limit", status=None)
            parts.append(chunk)
    except httpx.HTTPError as exc:
        raise UpstreamFailure(
            f"reading the answer failed ({type(exc).__name__})",
            status=None,
            timed_out=isinstance(exc, httpx.TimeoutException),
        ) from None
    return b"".join(parts)


def _record(
    inbound: Inbound,
    route: Route | None,
    candidate: Candidate | None,
    usage: Usage | None,
    status: int,
    *,
    stream: bool,
    first_byte: float | None = None,
) -> UsageRecord:
    now = time.perf_counter()
    usage = usage or Usage()
    credential = candidate.credential if candidate else None
    return UsageRecord(
        timestamp=time.time(),
        request_id=inbound.request_id,
        endpoint=inbound.endpoint,
        client=inbound.client,
        credential=credential.label if credential else "",
        provider=credential.provider if credential else "",
        requested_model=route.requested if route else "",
        upstream_model=candidate.upstream_model if candidate else "",
        input_tokens=usage.input,
        output_tokens=usage.output,
        reasoning_tokens=usage.reasoning,
        cached_tokens=usage.cached,
        total_tokens=usage.total,
        latency_ms=(now - inbound.started) * 1000.0,
        ttft_ms=None if first_byte is None else (first_byte - inbound.started) * 1000.0,
        status=status,
        failed=status >= 400,
        stream=stream,
    )
