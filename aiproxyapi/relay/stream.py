"""Streamed answers: the first upstream bytes before committing, then event-by-event relay.

Until the first upstream bytes arrive the attempt can still fail over; after the first byte has
reached the client nothing is retried, and a broken upstream ends the client's stream with the
dialect's error event, never a fake terminator.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

import httpx

from aiproxyapi.canonical import Event, StreamEnd, StreamError, Usage
from aiproxyapi.errors import UpstreamFailure
from aiproxyapi.executors.transport import pooled_chunks
from aiproxyapi.formats import Format, codec_for, openai_chat
from aiproxyapi.formats.codec import ErrorInfo, StreamDecoder
from aiproxyapi.formats.sse import SSEDecoder, SSEEvent, SSETooLarge
from aiproxyapi.formats.translate import StreamTranslator
from aiproxyapi.relay.plan import Plan, UpstreamBody
from aiproxyapi.relay.send import open_candidate
from aiproxyapi.relay.types import (
    CLIENT_CLOSED,
    ClientCall,
    Inbound,
    Streaming,
    UsageSink,
    build_record,
)
from aiproxyapi.routing import Candidate
from aiproxyapi.runtime import Runtime
from aiproxyapi.usage.pricing import PriceTable

__all__ = ["open_stream"]


@dataclass(slots=True)
class _Opened:
    candidate: Candidate
    dialect: Format
    upstream: UpstreamBody
    response: httpx.Response
    chunks: AsyncIterator[bytes]
    first: bytes


async def open_stream(runtime: Runtime, inbound: Inbound, plan: Plan, sink: UsageSink) -> Streaming:
    """Dispatch until an upstream stream yields its first bytes; return the client's stream."""
    call = plan.call

    async def attempt(candidate: Candidate) -> _Opened:
        dialect, upstream, response = await open_candidate(runtime, plan, candidate, stream=True)
        chunks = pooled_chunks(response) or response.aiter_bytes()
        try:
            first = await anext(chunks, b"")
        except httpx.HTTPError as exc:
            await response.aclose()
            raise UpstreamFailure(
                f"stream failed before its first byte ({type(exc).__name__})",
                status=None,
                timed_out=isinstance(exc, httpx.TimeoutException),
            ) from None
        return _Opened(candidate, dialect, upstream, response, chunks, first)

    opened = await runtime.dispatcher.dispatch(plan.route, attempt)
    relay = (
        _PassthroughRelay(opened)
        if opened.upstream.passthrough
        else _TranslatingRelay(opened, plan)
    )
    media = "text/event-stream" if call.sse else "application/json"
    keepalive = runtime.config.streaming.keepalive_seconds
    first_byte_ms = (time.perf_counter() - inbound.started) * 1000.0
    pump = _pump(relay, opened, inbound, plan, sink, keepalive=keepalive, prices=runtime.prices)
    return Streaming(pump, media_type=media, first_byte_ms=first_byte_ms)


# The events a Chat passthrough must look at: usage chunks and the terminator; the others go out
# as the upstream framed them, unparsed.
_TAPPED = (b'"usage"', b"[DONE]")


class _PassthroughRelay:
    """Same dialect: events go out as they came; a decoder only watches for usage and the end."""

    def __init__(self, opened: _Opened) -> None:
        self.decoder = SSEDecoder()
        self._tap: openai_chat.StreamTap | None = None
        self._watch: StreamDecoder | None = None
        if opened.dialect is Format.OPENAI_CHAT:
            self._tap = openai_chat.StreamTap(opened.upstream.hide_usage_chunk)
        else:
            self._watch = codec_for(opened.dialect).stream_decoder()
        self._dialect = opened.dialect
        self.completed = False
        self.errored = False

    def feed_chunk(self, chunk: bytes) -> bytes:
        if self._tap is None:
            return self.feed(self.decoder.feed(chunk))
        raw, events = self.decoder.feed_raw(chunk, _TAPPED)
        return raw + self.feed(events) if events else raw

    def feed(self, events: list[SSEEvent]) -> bytes:
        out = []
        for event in events:
            if self._tap is not None:
                if event.data and not self._tap.keep(event.data):
                    continue
                self.completed = self._tap.done
            elif self._watch is not None and event.data:
                self._observe(self._watch.feed(event))
            out.append(event.raw)
        return b"".join(out)

    def _observe(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, StreamEnd):
                self.completed = True
            elif isinstance(event, StreamError):
                self.errored = True

    def close(self) -> bytes:
        return b""

    def fail(self, message: str) -> bytes:
        self.errored = True
        return codec_for(self._dialect).encode_stream_error(
            ErrorInfo(502, message, "upstream_error")
        )

    @property
    def usage(self) -> Usage | None:
        if self._tap is not None:
            return self._tap.usage
        return self._watch.usage if self._watch is not None else None


class _TranslatingRelay:
    """Different dialects: upstream events through the canonical model into the client's."""

    def __init__(self, opened: _Opened, plan: Plan) -> None:
        client = codec_for(plan.call.dialect)
        encoder = None
        if plan.call.dialect is Format.GEMINI and not plan.call.sse:
            from aiproxyapi.formats import gemini

            encoder = gemini.json_array_stream_encoder(plan.canonical, plan.route.requested)
        self._translator = StreamTranslator(
            codec_for(opened.dialect), client, plan.canonical, plan.route.requested, encoder
        )
        self.decoder = SSEDecoder()

    @property
    def completed(self) -> bool:
        return self._translator.completed

    @property
    def errored(self) -> bool:
        return self._translator.errored

    def feed_chunk(self, chunk: bytes) -> bytes:
        return self.feed(self.decoder.feed(chunk))

    def feed(self, events: list[SSEEvent]) -> bytes:
        return b"".join(self._translator.feed(event) for event in events if event.data)

    def close(self) -> bytes:
        return self._translator.close()

    def fail(self, message: str) -> bytes:
        return self._translator.fail(message, "upstream_error", 502)

    @property
    def usage(self) -> Usage | None:
        return self._translator.decoder.usage


_PING = b'event: ping\ndata: {"type": "ping"}\n\n'
_COMMENT = b": keepalive\n\n"
_END = object()


def _keepalive_bytes(call: ClientCall) -> bytes | None:
    """The client dialect's keep-alive; none for Gemini's JSON-array framing."""
    if call.dialect is Format.CLAUDE:
        return _PING
    return _COMMENT if call.sse else None


async def _chunks(opened: _Opened, keepalive: float) -> AsyncGenerator[bytes | None, None]:
    """The upstream chunks, first included; with a keep-alive, None after each silence."""
    yield opened.first
    if keepalive <= 0:
        async for chunk in opened.chunks:
            yield chunk
        return
    # A reader task feeds a small queue, so waiting can time out without cancelling the read;
    # the bound keeps a slow client's backlog small (the reader waits, TCP pushes back).
    queue: asyncio.Queue[object] = asyncio.Queue(maxsize=8)

    async def read() -> None:
        try:
            async for chunk in opened.chunks:
                await queue.put(chunk)
            await queue.put(_END)
        except httpx.HTTPError as exc:
            await queue.put(exc)

    reader = asyncio.create_task(read())
    try:
        while True:
            try:
                async with asyncio.timeout(keepalive):
                    item = await queue.get()
            except TimeoutError:
                yield None
                continue
            if item is _END:
                return
            if isinstance(item, httpx.HTTPError):
                raise item
            assert isinstance(item, bytes)
            yield item
    finally:
        reader.cancel()


async def _pump(
    relay: _PassthroughRelay | _TranslatingRelay,
    opened: _Opened,
    inbound: Inbound,
    plan: Plan,
    sink: UsageSink,
    *,
    keepalive: float,
    prices: PriceTable,
) -> AsyncIterator[bytes]:
    first_byte: float | None = None
    status = CLIENT_CLOSED
    ping = _keepalive_bytes(plan.call)
    chunks = _chunks(opened, keepalive if ping else 0.0)
    try:
        async for chunk in chunks:
            if chunk is None:
                assert ping is not None
                yield ping
                continue
            out = relay.feed_chunk(chunk)
            if out:
                if first_byte is None:
                    first_byte = time.perf_counter()
                yield out
        tail = relay.feed(relay.decoder.close()) + relay.close()
        if not relay.completed and not relay.errored:
            tail += relay.fail("the upstream stream ended before it was complete")
        status = 200 if relay.completed else 502
        if tail:
            yield tail
    except httpx.HTTPError as exc:
        status = 502
        yield relay.fail(f"the upstream stream failed ({type(exc).__name__})")
    except SSETooLarge:
        status = 502
        yield relay.fail("the upstream sent a stream event over the size limit")
    finally:
        # Closing the reader now stops its task at once, not when the generator is collected.
        await chunks.aclose()
        await opened.response.aclose()
        sink(
            build_record(
                inbound,
                plan.route,
                opened.candidate,
                relay.usage,
                status,
                stream=True,
                first_byte=first_byte,
                prices=prices,
            )
        )
