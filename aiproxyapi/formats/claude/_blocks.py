"""Anthropic content blocks ↔ canonical parts, shared by requests and responses.

Blocks the hub has no part for (server tool use and results, search results, newer kinds) are
not parts: `decode_blocks` hands them back with their positions so the caller can keep them in
an extras bag, and `place` puts them back where they were when encoding to Anthropic again.
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import (
    DocumentPart,
    ImagePart,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from aiproxyapi.formats.claude._fields import (
    at,
    extras_of,
    opt_bool,
    opt_str,
    req_dict,
    req_str,
    with_extras,
)
from aiproxyapi.formats.claude._mapping import ToolIds, arguments_to_input, input_to_arguments
from aiproxyapi.formats.claude._media import (
    decode_document,
    decode_image,
    encode_document,
    image_source,
)
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.dialect import Format

__all__ = ["SOURCE", "decode_block", "decode_blocks", "encode_part", "place"]

SOURCE = Format.CLAUDE.value
"""The `signature_source` of thinking that Anthropic signed."""

_TEXT = frozenset({"type", "text"})
_TOOL_USE = frozenset({"type", "id", "name", "input"})
_TOOL_RESULT = frozenset({"type", "tool_use_id", "content", "is_error"})
_THINKING = frozenset({"type", "thinking", "signature"})
_REDACTED = frozenset({"type", "data"})


def decode_block(value: Any, path: str) -> Part | None:
    """The canonical part for one block, or None for a kind the hub does not model."""
    block = req_dict(value, path)
    kind = req_str(block, "type", path)
    if kind == "text":
        return TextPart(text=req_str(block, "text", path), extras=extras_of(block, _TEXT))
    if kind == "image":
        return decode_image(block, path)
    if kind == "document":
        return decode_document(block, path)
    if kind == "tool_use":
        return ToolCallPart(
            id=req_str(block, "id", path),
            name=req_str(block, "name", path),
            arguments=input_to_arguments(block.get("input")),
            extras=extras_of(block, _TOOL_USE),
        )
    if kind == "tool_result":
        return _tool_result(block, path)
    if kind == "thinking":
        return ThinkingPart(
            text=opt_str(block, "thinking", path) or "",
            signature=opt_str(block, "signature", path) or "",
            signature_source=SOURCE,
            extras=extras_of(block, _THINKING),
        )
    if kind == "redacted_thinking":
        return ThinkingPart(
            redacted=req_str(block, "data", path),
            signature_source=SOURCE,
            extras=extras_of(block, _REDACTED),
        )
    return None


def decode_blocks(value: Any, path: str) -> tuple[list[Part], list[list[Any]]]:
    """Parts of a `content` (string or blocks), and the `[index, block]` pairs kept verbatim."""
    if isinstance(value, str):
        return [TextPart(text=value)], []
    if not isinstance(value, list):
        raise TranslationError(f"`{path}` must be a string or an array of blocks", path)
    parts: list[Part] = []
    kept: list[list[Any]] = []
    for i, block in enumerate(value):
        part = decode_block(block, at(path, i))
        if part is None:
            kept.append([i, block])
        else:
            parts.append(part)
    return parts, kept


def place(blocks: list[dict[str, Any]], kept: Any) -> list[dict[str, Any]]:
    """`blocks` with verbatim blocks put back at their original positions."""
    if not isinstance(kept, list):
        return blocks
    for entry in kept:
        if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], int):
            blocks.insert(min(entry[0], len(blocks)), entry[1])
    return blocks


def _tool_result(block: dict[str, Any], path: str) -> ToolResultPart:
    content = block.get("content")
    parts: list[TextPart | ImagePart] = []
    verbatim = False
    if isinstance(content, str):
        parts.append(TextPart(text=content))
    elif isinstance(content, list):
        for j, item in enumerate(content):
            part = decode_block(item, at(at(path, "content"), j))
            if isinstance(part, TextPart | ImagePart):
                parts.append(part)
            else:
                verbatim = True
    elif content is not None:
        raise TranslationError(f"`{at(path, 'content')}` must be a string or an array", path)
    extras = extras_of(block, _TOOL_RESULT)
    if verbatim:
        # Documents or tool references in a result: other dialects get the text and images,
        # Anthropic gets the content as it was.
        extras.setdefault("claude", {})["content"] = content
    return ToolResultPart(
        tool_call_id=req_str(block, "tool_use_id", path),
        content=parts,
        is_error=opt_bool(block, "is_error", path) or False,
        extras=extras,
    )


def encode_part(
    part: Part, ids: ToolIds, path: str, *, response: bool = False
) -> dict[str, Any] | None:
    """The Anthropic block for a part, or None when it has no place in Anthropic.

    Empty text is dropped (Anthropic refuses empty text blocks). Thinking signed by another
    vendor is dropped from requests; in a response its text is still shown, unsigned.
    """
    if isinstance(part, TextPart):
        if not part.text:
            return None
        return with_extras({"type": "text", "text": part.text}, part.extras)
    if isinstance(part, ImagePart):
        return with_extras({"type": "image", **image_source(part, path)}, part.extras)
    if isinstance(part, DocumentPart):
        return encode_document(part, path)
    if isinstance(part, ThinkingPart):
        return _encode_thinking(part, response)
    if isinstance(part, ToolCallPart):
        block = {
            "type": "tool_use",
            # In a request an empty id must map as its result does; an answer's calls are each new.
            "id": ids.fresh() if response and not part.id else ids(part.id),
            "name": part.name,
            "input": arguments_to_input(part.arguments),
        }
        return with_extras(block, part.extras)
    if response:
        return None
    return _encode_tool_result(part, ids, path)


def _encode_thinking(part: ThinkingPart, response: bool) -> dict[str, Any] | None:
    signed = part.signature_source == SOURCE
    if part.redacted:
        if not signed:
            return None
        return with_extras({"type": "redacted_thinking", "data": part.redacted}, part.extras)
    if signed and part.signature:
        block = {"type": "thinking", "thinking": part.text, "signature": part.signature}
        return with_extras(block, part.extras)
    if response and part.text:
        return {"type": "thinking", "thinking": part.text, "signature": ""}
    # Anthropic rejects unsigned thinking in a request, so it is not replayed.
    return None


def _encode_tool_result(part: ToolResultPart, ids: ToolIds, path: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": ids(part.tool_call_id)}
    own = part.extras.get("claude")
    if not (isinstance(own, dict) and "content" in own):
        only = part.content[0] if len(part.content) == 1 else None
        if isinstance(only, TextPart) and not only.extras:
            block["content"] = only.text
        elif content := [
            encoded
            for j, item in enumerate(part.content)
            if (encoded := encode_part(item, ids, at(at(path, "content"), j))) is not None
        ]:
            block["content"] = content
    if part.is_error:
        block["is_error"] = True
    return with_extras(block, part.extras)
