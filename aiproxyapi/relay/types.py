"""The records that flow through the relay: the client's call, the answers, the usage sink."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiproxyapi.canonical import Usage
from aiproxyapi.credential import Credential
from aiproxyapi.formats import Format
from aiproxyapi.routing import Candidate, Route
from aiproxyapi.usage.pricing import SUBSCRIPTION, PriceTable, cost_of
from aiproxyapi.usage.record import TokenCounts, UsageRecord

__all__ = [
    "CLIENT_CLOSED",
    "ClientCall",
    "Completed",
    "Inbound",
    "Streaming",
    "UsageSink",
    "build_record",
]

UsageSink = Callable[[UsageRecord], None]

CLIENT_CLOSED = 499


@dataclass(slots=True)
class Inbound:
    """Who asked what: the facts about a client request that usage and logs need."""

    endpoint: str
    request_id: str
    client: str
    started: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True, slots=True)
class ClientCall:
    """A client's request as the API layer hands it over: dialect, body, model, stream mode."""

    dialect: Format
    body: dict[str, Any]
    """The client's JSON body (Gemini bodies carry no model: it is in the path)."""
    model: str
    stream: bool
    forward_headers: tuple[tuple[str, str], ...] = ()
    """Dialect headers (e.g. `anthropic-beta`) passed on to an upstream of the same dialect."""
    sse: bool = True
    """False for Gemini's default stream framing: one JSON array written incrementally."""


@dataclass(frozen=True, slots=True)
class Completed:
    """A complete, non-streaming answer."""

    status: int
    body: bytes
    content_type: str = "application/json"
    record: UsageRecord | None = None
    """The request's usage record, for the cost and latency response headers."""


@dataclass(frozen=True, slots=True)
class Streaming:
    """A stream whose first bytes are ready; iterate `chunks` to relay it."""

    chunks: AsyncIterator[bytes]
    media_type: str = "text/event-stream"
    first_byte_ms: float | None = None
    """Gateway latency until the upstream's first bytes; the cost is known only at the end."""


def build_record(
    inbound: Inbound,
    route: Route | None,
    candidate: Candidate | None,
    usage: Usage | None,
    status: int,
    *,
    stream: bool,
    first_byte: float | None = None,
    prices: PriceTable | None = None,
) -> UsageRecord:
    """The usage record of one finished request, priced when a credential served it."""
    now = time.perf_counter()
    usage = usage or Usage()
    credential = candidate.credential if candidate else None
    tokens = TokenCounts(
        input_tokens=usage.input,
        output_tokens=usage.output,
        reasoning_tokens=usage.reasoning,
        cached_tokens=usage.cached,
        total_tokens=usage.total,
    )
    cost, pricing = 0.0, ""
    if candidate is not None and prices is not None:
        quote = prices.quote(candidate.upstream_model, route.model if route else "")
        cost = cost_of(quote.price, tokens, usage.cache_write)
        pricing = (
            SUBSCRIPTION
            if quote.price and _is_subscription(candidate.credential)
            else (quote.basis)
        )
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
        cache_write_tokens=usage.cache_write,
        latency_ms=(now - inbound.started) * 1000.0,
        ttft_ms=None if first_byte is None else (first_byte - inbound.started) * 1000.0,
        status=status,
        failed=status >= 400,
        stream=stream,
        cost_usd=cost,
        pricing=pricing,
    )


def _is_subscription(credential: Credential) -> bool:
    """Whether a credential is a subscription account (OAuth) rather than a metered API key."""
    return type(credential).__struct_config__.tag != "api-key"
