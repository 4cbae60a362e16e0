"""Gemini `Part` objects to canonical parts, for request contents and answers alike (§5.2).

Per-part fields the hub has no slot for (videoMetadata, mediaResolution, a thoughtSignature on
text or media, a client's functionCall/functionResponse id) ride in the part's
`extras["gemini"]` as a fragment laid over the part again when it is written back to Gemini.
Parts the hub cannot model at all: executableCode and codeExecutionResult become readable text
(the raw part kept in extras under "part"); unknown kinds become an empty ThinkingPart carrying
the raw part, which other dialects drop like any foreign reasoning.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from aiproxyapi.canonical import (
    DocumentPart,
    ImagePart,
    Part,
    Role,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.gemini._common import (
    FMT,
    args_text,
    at,
    call_id,
    obj_at,
    pick,
    rest,
    tagged,
    text_of,
)

__all__ = ["CallBook", "decode_part", "render_code"]

_DATA_KEYS = frozenset(
    {"text", "thought", "thoughtSignature", "inlineData", "fileData", "functionCall",
     "functionResponse"}
)  # fmt: skip
_CALL_KEYS = frozenset({"name", "args", "id"})
_RESULT_KEYS = frozenset({"name", "response", "id", "parts"})
_MEDIA_KEYS = frozenset({"mimeType", "data", "fileUri"})


class CallBook:
    """Ids for function calls (Gemini usually sends none) and which call each response answers.

    A response names its call by id when it carries one that matches, else by name in call
    order; `start` and `salt` keep the ids of an answer apart from those of its conversation.
    """

    __slots__ = ("_by_id", "_count", "_pending", "_salt")

    def __init__(self, start: int = 0, salt: str = "") -> None:
        self._count = start
        self._salt = salt
        self._pending: dict[str, deque[str]] = {}
        self._by_id: dict[str, str] = {}

    def call(self, name: str, wire_id: str) -> str:
        """The id of a call (its own id when it has one)."""
        self._count += 1
        ident = wire_id or call_id(name, self._count, self._salt)
        self._pending.setdefault(name, deque()).append(ident)
        self._by_id[ident] = name
        return ident

    def answer(self, name: str, wire_id: str) -> str:
        """The id of the call a function response answers."""
        if wire_id in self._by_id:
            self._pending[self._by_id.pop(wire_id)].remove(wire_id)
            return wire_id
        queue = self._pending.get(name)
        if queue:
            ident = queue.popleft()
            del self._by_id[ident]
            return ident
        # An answer to no call we saw (a trimmed history): its own id, or a fresh one.
        self._count += 1
        return wire_id or call_id(name, self._count, self._salt)


def render_code(part: dict[str, Any]) -> str:
    """executableCode / codeExecutionResult as the text a reader of another dialect sees."""
    code = pick(part, "executableCode")
    if isinstance(code, dict):
        language = text_of(code.get("language")).lower().replace("language_unspecified", "")
        return f"```{language}\n{text_of(code.get('code'))}\n```"
    result = pick(part, "codeExecutionResult")
    output = text_of(result.get("output")) if isinstance(result, dict) else ""
    return f"```\n{output}\n```"


def decode_part(
    raw: Any, path: str, role: Role, book: CallBook, names: dict[str, str] | None = None
) -> Part | None:
    """The canonical part for one Gemini part (None for an empty text part)."""
    if not isinstance(raw, dict):
        raise TranslationError(f"`{path}` must be an object", path)
    signature = text_of(pick(raw, "thoughtSignature"))
    extra = rest(raw, _DATA_KEYS)
    if "text" in raw:
        return _text(raw, path, signature, extra)
    if (call := pick(raw, "functionCall")) is not None:
        if role is not Role.ASSISTANT:
            raise TranslationError(
                "a functionCall belongs in a model turn", at(path, "functionCall")
            )
        return _call(
            call,
            at(path, "functionCall"),
            signature=signature,
            extra=extra,
            book=book,
            names=names or {},
        )
    if signature:
        extra["thoughtSignature"] = signature
    if (result := pick(raw, "functionResponse")) is not None:
        if role is not Role.USER:
            raise TranslationError(
                "a functionResponse belongs in a user turn", at(path, "functionResponse")
            )
        return _result(result, at(path, "functionResponse"), extra, book)
    for field in ("inlineData", "fileData"):
        if pick(raw, field) is not None:
            return _media(obj_at(raw, field, path), field, extra)
    if pick(raw, "executableCode") is not None or pick(raw, "codeExecutionResult") is not None:
        return TextPart(text=render_code(raw), extras=tagged({"part": raw}))
    return ThinkingPart(signature_source=FMT, extras=tagged({"part": raw}))


def _text(raw: dict[str, Any], path: str, signature: str, extra: dict[str, Any]) -> Part | None:
    text = raw["text"]
    if not isinstance(text, str):
        raise TranslationError(f"`{at(path, 'text')}` must be a string", at(path, "text"))
    if raw.get("thought") is True or (not text and signature):
        # A signature-only part is opaque reasoning state, replayed to Gemini alone. The source
        # is set even without a signature: it marks the reasoning as Gemini's to replay.
        return ThinkingPart(
            text=text, signature=signature, signature_source=FMT, extras=tagged(extra)
        )
    if not text:
        return None
    if signature:
        extra["thoughtSignature"] = signature
    return TextPart(text=text, extras=tagged(extra))


def _call(
    call: Any,
    path: str,
    *,
    signature: str,
    extra: dict[str, Any],
    book: CallBook,
    names: dict[str, str],
) -> ToolCallPart:
    if not isinstance(call, dict):
        raise TranslationError(f"`{path}` must be an object", path)
    name = call.get("name")
    if not isinstance(name, str) or not name:
        raise TranslationError(f"`{at(path, 'name')}` is required", at(path, "name"))
    args = call.get("args")
    if args is not None and not isinstance(args, dict):
        raise TranslationError(f"`{at(path, 'args')}` must be an object", at(path, "args"))
    wire_id = text_of(call.get("id"))
    inner = rest(call, _CALL_KEYS) | ({"id": wire_id} if wire_id else {})
    if inner:
        extra["functionCall"] = inner
    return ToolCallPart(
        id=book.call(name, wire_id),
        name=names.get(name, name),
        arguments=args_text(args),
        signature=signature,
        signature_source=FMT if signature else "",
        extras=tagged(extra),
    )


def _result(result: Any, path: str, extra: dict[str, Any], book: CallBook) -> ToolResultPart:
    if not isinstance(result, dict):
        raise TranslationError(f"`{path}` must be an object", path)
    name = result.get("name")
    if not isinstance(name, str) or not name:
        raise TranslationError(f"`{at(path, 'name')}` is required", at(path, "name"))
    response = result.get("response")
    if response is not None and not isinstance(response, dict):
        raise TranslationError(f"`{at(path, 'response')}` must be an object", at(path, "response"))
    response = response or {}
    wire_id = text_of(result.get("id"))
    nested = _nested_parts(result, path)
    # Gemini 3 nests media in the response; the raw list goes back to Gemini as it came.
    inner = rest(result, _RESULT_KEYS) | ({"id": wire_id} if wire_id else {})
    inner |= {"parts": nested} if nested else {}
    if inner:
        extra["functionResponse"] = inner
    text, is_error = _result_text(response)
    if response != ({"error": text} if is_error else {"result": text}):
        extra["response"] = response  # replayed verbatim to Gemini; others read the text
    content: list[TextPart | ImagePart] = [TextPart(text=text)] if text else []
    content += [image for sub in nested if (image := _nested_image(sub)) is not None]
    return ToolResultPart(
        tool_call_id=book.answer(name, wire_id),
        name=name,
        content=content,
        is_error=is_error,
        extras=tagged(extra),
    )


def _nested_parts(result: dict[str, Any], path: str) -> list[Any]:
    """The multimodal `parts` of a functionResponse (Gemini 3)."""
    parts = result.get("parts")
    if parts is None:
        return []
    if not isinstance(parts, list):
        raise TranslationError(f"`{at(path, 'parts')}` must be an array", at(path, "parts"))
    return parts


def _nested_image(part: Any) -> ImagePart | None:
    if not isinstance(part, dict):
        return None
    inline, file = pick(part, "inlineData"), pick(part, "fileData")
    media = inline if isinstance(inline, dict) else file if isinstance(file, dict) else {}
    mime = text_of(pick(media, "mimeType"))
    if not mime.startswith("image/"):
        return None  # other files have no place in a canonical tool result
    if media is inline:
        return ImagePart(media_type=mime, data=_standard_base64(text_of(media.get("data"))))
    return ImagePart(media_type=mime, url=text_of(pick(media, "fileUri")))


def _standard_base64(data: str) -> str:
    """Gemini accepts URL-safe base64 (google-genai sends it); every other dialect needs standard."""
    if "-" in data or "_" in data:
        return data.translate(_URLSAFE)
    return data


_URLSAFE = str.maketrans("-_", "+/")


def _result_text(response: dict[str, Any]) -> tuple[str, bool]:
    # Gemini's conventions: {"output": ...} or {"result": ...} for results, {"error": ...}.
    if len(response) == 1:
        ((key, value),) = response.items()
        if key in ("result", "output", "content", "error"):
            text = value if isinstance(value, str) else msgspec.json.encode(value).decode()
            return text, key == "error"
    return (msgspec.json.encode(response).decode() if response else ""), False


def _media(media: dict[str, Any], field: str, extra: dict[str, Any]) -> Part:
    mime = text_of(pick(media, "mimeType"))
    inner = rest(media, _MEDIA_KEYS)
    if inner:
        extra[field] = inner
    extras = tagged(extra)
    if field == "inlineData":
        data = _standard_base64(text_of(media.get("data")))
        if mime.startswith("image/"):
            return ImagePart(media_type=mime, data=data, extras=extras)
        return DocumentPart(media_type=mime, data=data, extras=extras)
    uri = text_of(pick(media, "fileUri"))
    if mime.startswith("image/"):
        return ImagePart(media_type=mime, url=uri, extras=extras)
    return DocumentPart(media_type=mime, url=uri, extras=extras)
