"""Canonical parts to Gemini `Part` objects, for request contents and answers alike.

Thought signatures go out only when Gemini issued them (`signature_source == "gemini"`); the
fragments `_part_decode` kept in a part's extras are laid back over the part.
"""

from __future__ import annotations

import mimetypes
import re
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
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.gemini._common import FMT, args_object, gemini_name, own

__all__ = ["PartWriter", "lay"]

_DATA_URL = re.compile(r"data:([^;,]*)(?:;[^,]*)?;base64,(.*)", re.DOTALL)
_SPECIAL = frozenset({"part", "response"})
_GEMINI_FILES = ("files/", "https://generativelanguage.googleapis.com/")


def lay(base: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """`base` with a kept fragment laid over it, one level of objects deep."""
    for key, value in fragment.items():
        current = base.get(key)
        base[key] = (
            {**current, **value} if isinstance(current, dict) and isinstance(value, dict) else value
        )
    return base


class PartWriter:
    """Writes the parts of one request or answer.

    `call_names` maps call ids to tool names (a functionResponse must name its function);
    `answer` selects the answer side: function calls carry their ids, and reasoning from another
    vendor is shown as a thought (in a request it is dropped, as it cannot be replayed).
    """

    __slots__ = ("_answer", "call_names")

    def __init__(self, *, answer: bool) -> None:
        self._answer = answer
        self.call_names: dict[str, str] = {}

    def parts(self, parts: list[Part], path: str) -> list[dict[str, Any]]:
        """The Gemini parts of one turn; media from tool results follow the responses."""
        out: list[dict[str, Any]] = []
        media: list[dict[str, Any]] = []
        for j, part in enumerate(parts):
            where = f"{path}.parts[{j}]"
            if isinstance(part, ToolResultPart):
                out.append(answered := self._result(part, where))
                if "parts" in answered["functionResponse"]:
                    continue  # its media are already nested inside, as the client sent them
                media += [
                    _media(image, where) for image in part.content if isinstance(image, ImagePart)
                ]
            elif (written := self._part(part, where)) is not None:
                out.append(written)
        return out + media

    def _part(self, part: Part, path: str) -> dict[str, Any] | None:
        kept = own(part.extras)
        if isinstance(kept.get("part"), dict):
            return dict(kept["part"])  # a part the hub could not model, kept verbatim
        fragment = _fragment(kept)
        if isinstance(part, TextPart):
            if not part.text and "thoughtSignature" not in fragment:
                return None  # Gemini refuses empty text parts
            return lay({"text": part.text}, fragment)
        if isinstance(part, ThinkingPart):
            return self._thinking(part, fragment)
        if isinstance(part, ToolCallPart):
            self.call_names[part.id] = part.name
            call: dict[str, Any] = {
                "name": self._name(part.name),
                "args": args_object(part.arguments),
            }
            if self._answer:
                call["id"] = part.id
            written = lay({"functionCall": call}, fragment)
            if part.signature and part.signature_source == FMT:
                written["thoughtSignature"] = part.signature
            return written
        if isinstance(part, ImagePart | DocumentPart):
            return lay(_media(part, path), fragment)
        return None

    def _name(self, name: str) -> str:
        # Upstream requests need Gemini-safe names; a client gets back the names it declared.
        return name if self._answer else gemini_name(name)

    def _thinking(self, part: ThinkingPart, fragment: dict[str, Any]) -> dict[str, Any] | None:
        ours = part.signature_source == FMT
        if not ours and not self._answer:
            return None  # another vendor's reasoning cannot be replayed to Gemini
        signature = part.signature if ours else ""
        if part.text:
            written: dict[str, Any] = {"text": part.text, "thought": True}
        elif signature:
            written = {"text": ""}
        else:
            return None
        if signature:
            written["thoughtSignature"] = signature
        return lay(written, fragment)

    def _result(self, part: ToolResultPart, path: str) -> dict[str, Any]:
        kept = own(part.extras)
        # The call's own name first: Gemini checks that the response names the function called.
        name = self.call_names.get(part.tool_call_id) or part.name
        if not name:
            raise TranslationError(
                f"tool result {part.tool_call_id!r} answers no earlier tool call, and Gemini "
                "needs the function's name",
                path,
            )
        text = "\n".join(p.text for p in part.content if isinstance(p, TextPart))
        response = kept.get("response")
        if not isinstance(response, dict):
            response = {"error": text} if part.is_error else {"result": text}
        result: dict[str, Any] = {"name": self._name(name), "response": response}
        if self._answer:
            result["id"] = part.tool_call_id
        return lay({"functionResponse": result}, _fragment(kept))


def _fragment(kept: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in kept.items() if key not in _SPECIAL}


def _media(part: ImagePart | DocumentPart, path: str) -> dict[str, Any]:
    if part.data:
        return {
            "inlineData": {"mimeType": part.media_type or _default_type(part), "data": part.data}
        }
    if part.url:
        found = _DATA_URL.fullmatch(part.url)
        if found:
            return {
                "inlineData": {
                    "mimeType": found.group(1) or _default_type(part),
                    "data": found.group(2),
                }
            }
        file: dict[str, Any] = {"fileUri": part.url}
        mime = part.media_type or mimetypes.guess_type(part.url)[0]
        return {"fileData": ({"mimeType": mime} if mime else {}) | file}
    if isinstance(part, DocumentPart) and part.file_id.startswith(_GEMINI_FILES):
        uri = part.file_id
        if uri.startswith("files/"):
            uri = f"https://generativelanguage.googleapis.com/v1beta/{uri}"
        mime = part.media_type or "application/pdf"
        return {"fileData": {"mimeType": mime, "fileUri": uri}}
    if isinstance(part, DocumentPart) and part.file_id:
        raise TranslationError(
            f"file {part.file_id!r} lives with another provider; Gemini cannot read it", path
        )
    raise TranslationError("an image or file part has neither data nor a URL", path)


def _default_type(part: ImagePart | DocumentPart) -> str:
    return "image/png" if isinstance(part, ImagePart) else "application/octet-stream"
