"""What happens around the relay for one call: history spliced in, cache looked up and filled.

Both are opt-in per request: `X-Conversation-Id` names a shared conversation (its requests
never touch the cache, their answers depend on the history), and the response cache, when
configured, is skipped with `Cache-Control: no-cache` (lookup) or `no-store` (lookup and fill).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from litestar import Response
from litestar.response import Stream

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.cache import CachedAnswer, cache_key
from aiproxyapi.canonical import Message
from aiproxyapi.conversation import (
    answer_message,
    check_conversation_id,
    stream_answer_message,
    with_history,
)
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.gateway import Gateway
from aiproxyapi.relay import ClientCall, Inbound
from aiproxyapi.runtime import Runtime
from aiproxyapi.usage import UsageRecord
from storage import StoreError

__all__ = ["CACHE_HEADER", "CACHE_PRICING", "STREAM_HEADERS", "Shortcuts", "finish_after"]

log = logging.getLogger("aiproxyapi.api")

CACHE_HEADER = "x-aiproxyapi-cache"
CACHE_PRICING = "cache"
"""The pricing basis of an answer served from the response cache: no upstream cost."""
STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
FILL_WAIT = 1.0
"""Seconds a cache miss waits for an identical call's answer that is about to be kept."""


@dataclasses.dataclass(slots=True)
class Shortcuts:
    """One call's conversation and cache decisions, made before the relay and kept after it."""

    gateway: Gateway
    runtime: Runtime
    inbound: Inbound
    call: ClientCall
    conversation: str = ""
    added: list[Message] = dataclasses.field(default_factory=list)
    key: str = ""
    record: UsageRecord | None = None

    @property
    def cache_on(self) -> bool:
        """Whether the answer carries the cache header (the cache is configured)."""
        return self.gateway.cache is not None and not self.conversation

    @property
    def keeps_answers(self) -> bool:
        """Whether the answer is kept afterwards (cached, or appended to a conversation)."""
        return bool(self.key) or bool(self.conversation)

    async def splice_history(self, request: HttpRequest) -> ClientCall:
        """The call with its conversation's history in front, when it names one."""
        wanted = request.headers.get("x-conversation-id", "").strip()
        if not wanted:
            return self.call
        self.conversation = check_conversation_id(wanted)
        history = await self.gateway.conversations.load(self.inbound.client, self.conversation)
        call = self.call
        try:
            body, self.added = with_history(call.dialect, call.body, call.model, history)
        except TranslationError as exc:
            raise ClientRequestError(exc.message, param=exc.param) from None
        self.call = dataclasses.replace(call, body=body)
        return self.call

    async def lookup(self, request: HttpRequest, resolved: str) -> CachedAnswer | None:
        """The cached answer for this call, if the cache is on, allowed and holds one."""
        cache = self.gateway.cache
        if cache is None or self.conversation:
            return None
        directives = {
            part.strip().lower() for part in request.headers.get("cache-control", "").split(",")
        }
        if "no-store" in directives:
            return None
        call = self.call
        self.key = cache_key(
            self.runtime.config.cache,
            client=self.inbound.client,
            dialect=call.dialect.value,
            model=call.model,
            resolved=resolved,
            stream=call.stream,
            sse=call.sse,
            body=call.body,
        )
        if "no-cache" in directives:
            cache.fills.start(self.key)
            return None
        hit = await cache.get(self.key)
        if hit is None and await cache.fills.wait(self.key, FILL_WAIT):
            hit = await cache.get(self.key)
        if hit is None:
            cache.fills.start(self.key)
        else:
            self.record = self._hit_record()
            self.gateway.record_usage(self.record)
        return hit

    def sink(self, record: UsageRecord) -> None:
        """The usage sink of the relayed call: remembers the record, then counts it."""
        self.record = record
        self.gateway.record_usage(record)

    def end_fill(self) -> None:
        """The call is over: calls waiting for its answer look in the cache again."""
        cache = self.gateway.cache
        if cache is not None and self.key:
            cache.fills.end(self.key)

    async def keep(self, answer: CachedAnswer) -> None:
        """After a complete answer: fill the cache and extend the conversation."""
        try:
            await self._keep(answer)
        finally:
            self.end_fill()

    async def _keep(self, answer: CachedAnswer) -> None:
        if self.record is None or self.record.status != 200 or answer.status != 200:
            return
        cache = self.gateway.cache
        if cache is not None and self.key:
            await cache.put(self.key, answer)
        if self.conversation:
            call = self.call
            message = (
                stream_answer_message(call.dialect, answer.chunks, sse=call.sse)
                if answer.stream
                else answer_message(call.dialect, b"".join(answer.chunks))
            )
            if message is None:
                return
            try:
                await self.gateway.conversations.append(
                    self.inbound.client,
                    self.conversation,
                    [*self.added, message],
                    self.runtime.config.conversations,
                )
            except StoreError as exc:
                log.error("conversation %s not saved: %s", self.conversation, exc)

    def replay(self, hit: CachedAnswer, extra: dict[str, str]) -> Response[bytes] | Stream:
        """A cached answer as the client first received it, with `extra` headers."""
        headers = {**extra, "x-request-id": self.inbound.request_id, CACHE_HEADER: "hit"}
        if hit.stream:
            return Stream(
                _chunks(hit.chunks),
                media_type=hit.media_type,
                headers={**STREAM_HEADERS, **headers},
            )
        return Response(
            b"".join(hit.chunks), status_code=hit.status, media_type=hit.media_type, headers=headers
        )

    def _hit_record(self) -> UsageRecord:
        inbound = self.inbound
        return UsageRecord(
            timestamp=time.time(),
            request_id=inbound.request_id,
            endpoint=inbound.endpoint,
            client=inbound.client,
            credential="",
            provider="",
            requested_model=self.call.model,
            upstream_model="",
            latency_ms=(time.perf_counter() - inbound.started) * 1000.0,
            status=200,
            failed=False,
            stream=self.call.stream,
            cache_hit=True,
            pricing=CACHE_PRICING,
        )


async def _chunks(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def finish_after(
    chunks: AsyncIterator[bytes], done: Callable[[list[bytes]], Awaitable[None]]
) -> AsyncIterator[bytes]:
    """Relay a stream; once it has been delivered whole, hand its bytes to `done`."""
    parts: list[bytes] = []
    async for chunk in chunks:
        parts.append(chunk)
        yield chunk
    try:
        await done(parts)
    except Exception:  # the client has its answer; keeping it is best effort
        log.exception("keeping a streamed answer failed")
