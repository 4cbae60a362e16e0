"""Names, field readers and small conversions shared by the Gemini codec modules."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import msgspec

from aiproxyapi.canonical import StopReason, Usage
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.dialect import Format

FMT = Format.GEMINI.value
"""The extras key and `signature_source` value of this dialect."""

SKIP_SIGNATURE = "skip_thought_signature_validator"
"""The sentinel Gemini 3 accepts in place of a thought signature it never issued (§5.2)."""

_UPPER = re.compile(r"[A-Z]")
_GEMINI_VERSION = re.compile(r"gemini-(\d+)")
_json = msgspec.json.Decoder()


# ---- extras and field access ---------------------------------------------------------------


def own(extras: dict[str, Any]) -> dict[str, Any]:
    """This dialect's share of an extras bag (empty when there is none)."""
    value = extras.get(FMT)
    return value if isinstance(value, dict) else {}


def tagged(fields: dict[str, Any]) -> dict[str, Any]:
    """An extras bag holding `fields` under this dialect, or an empty bag."""
    return {FMT: fields} if fields else {}


def _snake(name: str) -> str:
    return _UPPER.sub(lambda found: "_" + found.group(0).lower(), name)


def pick(obj: dict[str, Any], name: str) -> Any:
    """A field by its camelCase name or the snake_case alias Gemini also accepts (§5.1)."""
    if name in obj:
        return obj[name]
    return obj.get(_snake(name))


def rest(obj: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The fields of `obj` the codec does not read, spelled as the client spelled them."""
    snake = {_snake(name) for name in known}
    return {key: value for key, value in obj.items() if key not in known and key not in snake}


def at(path: str, key: str | int) -> str:
    """The dotted path of a key or index below `path`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def obj_at(obj: dict[str, Any], name: str, path: str) -> dict[str, Any]:
    """An optional object field (empty when absent), or a TranslationError naming it."""
    value = pick(obj, name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TranslationError(f"`{at(path, name)}` must be an object", at(path, name))
    return value


def list_at(obj: dict[str, Any], name: str, path: str) -> list[Any]:
    """An optional array field (empty when absent), or a TranslationError naming it."""
    value = pick(obj, name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TranslationError(f"`{at(path, name)}` must be an array", at(path, name))
    return value


def count(value: Any) -> int:
    """A token count from usage metadata (absent or malformed counts are 0)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():  # proto3 JSON may quote int64 values
        return int(value)
    return 0


def text_of(value: Any) -> str:
    """A string field as text (None is empty)."""
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


# ---- tool names, ids and arguments ---------------------------------------------------------

_VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
_BAD_NAME_CHAR = re.compile(r"[^A-Za-z0-9_.:-]")
_BAD_ID_CHAR = re.compile(r"[^A-Za-z0-9_-]")


def gemini_name(name: str) -> str:
    """A function name Gemini accepts: [A-Za-z_] first, then [A-Za-z0-9_.:-], at most 64."""
    if _VALID_NAME.fullmatch(name):
        return name
    clean = _BAD_NAME_CHAR.sub("_", name)
    if not clean or not (clean[0].isascii() and (clean[0].isalpha() or clean[0] == "_")):
        clean = "_" + clean
    if len(clean) > 64:
        # A digest of the whole name keeps long names that share a prefix apart.
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        clean = f"{clean[:55]}_{digest}"
    return clean


def names_back(tools: list[str]) -> dict[str, str]:
    """Gemini function name -> the name the client declared (first one wins on a clash)."""
    back: dict[str, str] = {}
    for name in tools:
        back.setdefault(gemini_name(name), name)
    return back


def call_id(name: str, number: int, salt: str = "") -> str:
    """A deterministic tool-call id, `call_<name>_<n>` (ids must be unique per conversation)."""
    middle = f"{salt}_" if salt else ""
    return f"call_{_BAD_ID_CHAR.sub('_', name)}_{middle}{number}"


def args_text(args: Any) -> str:
    """The JSON text of a functionCall's `args` object."""
    return msgspec.json.encode(args if isinstance(args, dict) else {}).decode()


def args_object(arguments: str) -> dict[str, Any]:
    """A functionCall `args` object from JSON text; broken JSON is kept as {"raw": text}."""
    if not arguments.strip():
        return {}
    try:
        value = _json.decode(arguments)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        return {"raw": arguments}
    return value if isinstance(value, dict) else {"raw": arguments}


def level_model(model: str) -> bool:
    """Whether a model is Gemini 3 or later (thinking levels, mandatory thought signatures)."""
    found = _GEMINI_VERSION.search(model.lower())
    return found is not None and int(found.group(1)) >= 3


# ---- usage and finish reasons --------------------------------------------------------------


def usage_from_wire(meta: Any) -> Usage | None:
    """Canonical usage from `usageMetadata` (§9.5: thoughts count as output and reasoning)."""
    if not isinstance(meta, dict):
        return None
    thoughts = count(meta.get("thoughtsTokenCount"))
    return Usage(
        # Tool-use prompt tokens (grounding results) are billed as input.
        input=count(meta.get("promptTokenCount")) + count(meta.get("toolUsePromptTokenCount")),
        output=count(meta.get("candidatesTokenCount")) + thoughts,
        reasoning=thoughts,
        cached=count(meta.get("cachedContentTokenCount")),
    )


def usage_to_wire(usage: Usage) -> dict[str, Any]:
    """A `usageMetadata` object; candidates leave the thoughts out, the total counts both."""
    meta: dict[str, Any] = {
        "promptTokenCount": usage.input,
        "candidatesTokenCount": max(usage.output - usage.reasoning, 0),
        "totalTokenCount": usage.total,
    }
    if usage.reasoning:
        meta["thoughtsTokenCount"] = usage.reasoning
    if usage.cached:
        meta["cachedContentTokenCount"] = usage.cached
    return meta


_FILTERED = frozenset(
    {
        "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
    }
)  # fmt: skip
_FAILED = frozenset(
    {
        "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS",
        "MISSING_THOUGHT_SIGNATURE", "MALFORMED_RESPONSE",
    }
)  # fmt: skip


def stop_reason_for(finish: str, *, tool_call: bool) -> StopReason:
    """The hub's stop reason for a `finishReason` (§9.1); function calls make it TOOL_USE."""
    if finish == "MAX_TOKENS":
        return StopReason.MAX_TOKENS
    if finish in _FILTERED:
        return StopReason.CONTENT_FILTER
    if finish in _FAILED:
        return StopReason.ERROR
    # STOP, OTHER, LANGUAGE, NO_IMAGE and values newer than this list read as a natural end.
    return StopReason.TOOL_USE if tool_call else StopReason.END


def first_candidate(answer: dict[str, Any]) -> dict[str, Any] | None:
    """The candidate with index 0 (the one the hub models), or None."""
    candidates = answer.get("candidates")
    for candidate in candidates if isinstance(candidates, list) else []:
        # With candidateCount > 1 a stream chunk may carry only another candidate.
        if isinstance(candidate, dict) and count(candidate.get("index")) == 0:
            return candidate
    return None


def prompt_blocked(answer: dict[str, Any]) -> bool:
    """Whether an answer is a blocked prompt: `promptFeedback.blockReason` (§5.3)."""
    feedback = answer.get("promptFeedback")
    return isinstance(feedback, dict) and bool(feedback.get("blockReason"))


def finish_reason_for(stop: StopReason) -> str:
    """The `finishReason` for a stop reason (tool calls, stop sequences and pauses are STOP)."""
    if stop is StopReason.MAX_TOKENS:
        return "MAX_TOKENS"
    if stop is StopReason.CONTENT_FILTER:
        return "SAFETY"
    if stop is StopReason.ERROR:
        return "OTHER"
    return "STOP"
