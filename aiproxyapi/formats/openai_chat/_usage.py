"""Chat usage objects and finish reasons ↔ canonical Usage and StopReason (wire-formats §9.1, §9.5)."""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.canonical import StopReason, Usage

__all__ = ["WireUsage", "finish_reason", "stop_reason", "usage_from_wire", "usage_to_wire"]


class PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    cached_creation_tokens: int | None = None
    """CLIProxyAPI's non-standard name for cache writes."""


class CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class WireUsage(msgspec.Struct):
    """A Chat `usage` object, as lenient as the compatible servers that send it."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    prompt_tokens_details: PromptDetails | None = None
    completion_tokens_details: CompletionDetails | None = None
    prompt_cache_hit_tokens: int | None = None
    """DeepSeek reports cache reads here."""


def usage_from_wire(raw: WireUsage) -> Usage:
    """Canonical usage of a Chat usage object (the two share OpenAI's semantics)."""
    prompt = raw.prompt_tokens_details or PromptDetails()
    completion = raw.completion_tokens_details or CompletionDetails()
    cached = prompt.cached_tokens
    if cached is None:
        cached = raw.prompt_cache_hit_tokens
    write = prompt.cache_write_tokens
    if write is None:
        write = prompt.cached_creation_tokens
    return Usage(
        input=raw.prompt_tokens or 0,
        output=raw.completion_tokens or 0,
        cached=cached or 0,
        cache_write=write or 0,
        reasoning=completion.reasoning_tokens or 0,
    )


def usage_to_wire(usage: Usage) -> dict[str, Any]:
    """The Chat usage object of canonical usage."""
    prompt: dict[str, int] = {"cached_tokens": usage.cached}
    if usage.cache_write:
        prompt["cache_write_tokens"] = usage.cache_write
    return {
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": usage.total,
        "prompt_tokens_details": prompt,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    }


_STOPS = {
    "stop": StopReason.END,
    "length": StopReason.MAX_TOKENS,
    "max_tokens": StopReason.MAX_TOKENS,  # some translating gateways send this for Gemini
    "tool_calls": StopReason.TOOL_USE,
    "function_call": StopReason.TOOL_USE,
    "content_filter": StopReason.CONTENT_FILTER,
    "error": StopReason.ERROR,
}


def stop_reason(finish: str | None, tool_calls: bool) -> StopReason:
    """The canonical reason of a `finish_reason`; a tool call turns a plain stop into tool use."""
    reason = _STOPS.get(finish or "stop", StopReason.END)
    return StopReason.TOOL_USE if tool_calls and reason is StopReason.END else reason


def finish_reason(reason: StopReason, tool_calls: bool) -> str:
    """The `finish_reason` of a canonical reason; `tool_calls` only when calls were sent."""
    if reason is StopReason.MAX_TOKENS:
        return "length"
    if reason is StopReason.CONTENT_FILTER:
        return "content_filter"
    return "tool_calls" if tool_calls else "stop"
