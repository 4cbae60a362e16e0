"""Value mappings between Anthropic and the hub: stop reasons, usage, tool ids and arguments."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec

from aiproxyapi.canonical import StopReason, Usage

__all__ = [
    "ToolIds",
    "arguments_to_input",
    "input_to_arguments",
    "stop_from_claude",
    "stop_to_claude",
    "usage_from_claude",
    "usage_to_claude",
]

_STOP_FROM: dict[str, StopReason] = {
    "end_turn": StopReason.END,
    "stop_sequence": StopReason.STOP_SEQUENCE,
    "max_tokens": StopReason.MAX_TOKENS,
    "tool_use": StopReason.TOOL_USE,
    "pause_turn": StopReason.PAUSE,
    "refusal": StopReason.CONTENT_FILTER,
    "model_context_window_exceeded": StopReason.MAX_TOKENS,
}

# wire-formats §9.1: a foreign content filter has no better Anthropic target than end_turn
# (a `refusal` that came from Anthropic itself is restored from the original value instead).
_STOP_TO: dict[StopReason, str] = {
    StopReason.END: "end_turn",
    StopReason.STOP_SEQUENCE: "stop_sequence",
    StopReason.MAX_TOKENS: "max_tokens",
    StopReason.TOOL_USE: "tool_use",
    StopReason.PAUSE: "pause_turn",
    StopReason.CONTENT_FILTER: "end_turn",
    StopReason.ERROR: "end_turn",
}

_ID_BAD = re.compile(r"[^a-zA-Z0-9_-]")
_json = msgspec.json.Decoder()


def stop_from_claude(value: Any) -> StopReason:
    """The hub's stop reason for an Anthropic `stop_reason` (unknown or null: a natural end)."""
    return _STOP_FROM.get(value, StopReason.END) if isinstance(value, str) else StopReason.END


def stop_to_claude(reason: StopReason, original: Any = None) -> str:
    """The Anthropic `stop_reason`; an original Anthropic value that still fits is kept."""
    if isinstance(original, str) and _STOP_FROM.get(original) is reason:
        return original
    return _STOP_TO[reason]


def _count(raw: dict[str, Any], key: str) -> int:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from_claude(raw: dict[str, Any]) -> Usage:
    """Canonical usage from an Anthropic `usage` object (input counts cache reads and writes)."""
    details = raw.get("output_tokens_details")
    thinking = _count(details, "thinking_tokens") if isinstance(details, dict) else 0
    write = _count(raw, "cache_creation_input_tokens")
    read = _count(raw, "cache_read_input_tokens")
    return Usage(
        input=_count(raw, "input_tokens") + write + read,
        output=_count(raw, "output_tokens"),
        reasoning=thinking,
        cached=read,
        cache_write=write,
    )


def usage_to_claude(usage: Usage) -> dict[str, Any]:
    """An Anthropic `usage` object; `input_tokens` excludes the cache reads and writes."""
    return {
        "input_tokens": max(0, usage.input - usage.cached - usage.cache_write),
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cached,
        "output_tokens": usage.output,
    }


def arguments_to_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments text as Anthropic's `input` object.

    Empty text is `{}`. Text that is not a JSON object is wrapped as `{"raw": text}` rather than
    dropped, so the model still sees what it sent.
    """
    if not arguments.strip():
        return {}
    try:
        value = _json.decode(arguments)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        return {"raw": arguments}
    return value if isinstance(value, dict) else {"raw": arguments}


def input_to_arguments(value: Any) -> str:
    """Anthropic's `input` as the hub's JSON arguments text."""
    return msgspec.json.encode({} if value is None else value).decode()


class ToolIds:
    """Tool-call ids made valid for Anthropic (`^[a-zA-Z0-9_-]+$`), one-to-one and stable.

    Ids that are already valid keep themselves (they are reserved up front); others have each
    bad character replaced by `_`, with a numeric suffix when that collides. Calls and results
    go through the same instance, so a result still names its call.
    """

    __slots__ = ("_fresh", "_map", "_prefix", "_used")

    def __init__(self, reserved: Iterable[str] = (), prefix: str = "toolu_") -> None:
        self._map: dict[str, str] = {}
        self._used: set[str] = set()
        self._prefix = prefix
        self._fresh = 0
        for original in reserved:
            if original and not _ID_BAD.search(original):
                self._map[original] = original
                self._used.add(original)

    def __call__(self, original: str) -> str:
        """The Anthropic id for an original id (an empty one gets a generated id)."""
        known = self._map.get(original)
        if known is not None:
            return known
        valid = self._unique(_ID_BAD.sub("_", original)) if original else self.fresh()
        self._map[original] = valid
        return valid

    def fresh(self) -> str:
        """A new generated id, for a call that came without one."""
        self._fresh += 1
        return self._unique(f"{self._prefix}{self._fresh}")

    def _unique(self, base: str) -> str:
        candidate, n = base, 1
        while candidate in self._used:
            candidate = f"{base}_{n}"
            n += 1
        self._used.add(candidate)
        return candidate
