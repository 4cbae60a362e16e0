"""One finished request, as the usage book counts it.

A record names who asked (client key label), what answered (credential label, provider,
upstream model) and what it cost in tokens and time. It holds labels only: no key, token or
payload ever reaches a record, because records are persisted and served by the management API.
"""

from __future__ import annotations

import msgspec

__all__ = ["TokenCounts", "UsageRecord"]


class TokenCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Token counts of one response, as a provider reports them (0 when it does not)."""

    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0


class UsageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The usage of one finished request; ``client`` and ``credential`` are labels, never keys."""

    timestamp: float
    """Unix seconds when the request finished."""
    request_id: str
    endpoint: str
    """Method and path as the client called it, e.g. ``"POST /v1/chat/completions"``."""
    client: str
    credential: str
    provider: str
    requested_model: str
    upstream_model: str
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0
    cache_write_tokens: int = 0
    """Prompt tokens written to the provider's cache (a part of ``input_tokens``)."""
    latency_ms: float
    ttft_ms: float | None = None
    """Time to first byte sent to the client; None for non-streamed or failed-before-first-byte."""
    status: int
    """The HTTP status the client received (a mid-stream failure keeps its 200)."""
    failed: bool
    stream: bool = False
    cost_usd: float = 0.0
    """What the answer cost at the price ``pricing`` names (0 when unpriced or failed early)."""
    pricing: str = ""
    """How ``cost_usd`` was priced: ``list``, ``override``, ``unknown`` or
    ``subscription-equivalent``; empty when no credential served the request."""
    cache_hit: bool = False
    """Answered from the response cache: no upstream call, no tokens, no cost."""

    @property
    def tokens(self) -> TokenCounts:
        """The token counts of this record as one value."""
        return TokenCounts(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            reasoning_tokens=self.reasoning_tokens,
            cached_tokens=self.cached_tokens,
            total_tokens=self.total_tokens,
        )
