"""Content parts and tool calls, Chat wire ↔ canonical, for requests and answers alike.

Audio input has no canonical part of its own: it becomes a DocumentPart with an `audio/*` media
type (what Gemini's inline data carries too), and goes back to Chat as `input_audio`. Custom
(free-text) tool calls become calls whose arguments are ``{"input": "<text>"}``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.canonical import DocumentPart, ImagePart, TextPart, ToolCallPart
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_chat import _wire as w
from aiproxyapi.formats.openai_chat._common import (
    build_data_url,
    chat_extras,
    make_extras,
    merged,
    parse_data_url,
    unknown_fields,
)

__all__ = [
    "custom_arguments",
    "custom_input",
    "decode_part",
    "decode_tool_call",
    "encode_part",
    "encode_tool_call",
    "simplify",
]

_AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_AUDIO_FORMATS = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}
_FILE_TYPES = {".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown"}
_DEFAULT_DOCUMENT_TYPE = "application/pdf"  # the one file type Chat models read


def decode_part(
    part: w.UserPart | w.RefusalPart, raw: Any, path: str
) -> TextPart | ImagePart | DocumentPart:
    """A Chat content part as a canonical part; unknown keys of the part are kept."""
    extra = unknown_fields(raw, type(part), "type")
    if isinstance(part, w.TextPart):
        return TextPart(text=part.text, extras=make_extras(extra))
    if isinstance(part, w.RefusalPart):
        return TextPart(text=part.refusal, extras=make_extras(extra, {"refusal": True}))
    if isinstance(part, w.ImagePart):
        image = part.image_url
        inline = parse_data_url(image.url)
        detail = image.detail or ""
        if inline is None:
            return ImagePart(url=image.url, detail=detail, extras=make_extras(extra))
        return ImagePart(
            media_type=inline[0], data=inline[1], detail=detail, extras=make_extras(extra)
        )
    if isinstance(part, w.AudioPart):
        audio = part.input_audio
        media_type = _AUDIO_TYPES.get(audio.format, f"audio/{audio.format}")
        return DocumentPart(
            media_type=media_type,
            data=audio.data,
            extras=make_extras(extra, {"audio_format": audio.format}),
        )
    return _decode_file(part.file, extra, path)


def _decode_file(file: w.FileRef, extra: dict[str, Any], path: str) -> DocumentPart:
    if not file.file_data and not file.file_id:
        raise TranslationError("a file part needs `file_data` or `file_id`", f"{path}.file")
    filename = file.filename or ""
    if not file.file_data:
        return DocumentPart(
            file_id=file.file_id or "", filename=filename, extras=make_extras(extra)
        )
    inline = parse_data_url(file.file_data)
    if inline is not None:
        return DocumentPart(
            media_type=inline[0],
            data=inline[1],
            file_id=file.file_id or "",
            filename=filename,
            extras=make_extras(extra),
        )
    # Bare base64: guess the type from the name for other dialects, and send it back bare.
    suffix = filename[filename.rfind(".") :].lower() if "." in filename else ""
    return DocumentPart(
        media_type=_FILE_TYPES.get(suffix, ""),
        data=file.file_data,
        file_id=file.file_id or "",
        filename=filename,
        extras=make_extras(extra, {"bare": True}),
    )


def encode_part(part: TextPart | ImagePart | DocumentPart) -> dict[str, Any]:
    """A canonical content part as a Chat content part."""
    raw, marks = chat_extras(part.extras)
    if isinstance(part, TextPart):
        return merged({"type": "text", "text": part.text}, raw)
    if isinstance(part, ImagePart):
        url = build_data_url(part.media_type or "image/png", part.data) if part.data else part.url
        image: dict[str, Any] = {"url": url}
        if part.detail:
            image["detail"] = part.detail
        return merged({"type": "image_url", "image_url": image}, raw)
    if part.media_type.startswith("audio/") and part.data:
        audio_format = marks.get("audio_format") or _AUDIO_FORMATS.get(
            part.media_type, part.media_type.removeprefix("audio/")
        )
        return merged(
            {"type": "input_audio", "input_audio": {"data": part.data, "format": audio_format}},
            raw,
        )
    if not part.data and not part.file_id:
        raise TranslationError(
            "OpenAI Chat takes documents inline or by file id, not by URL; send the file's data"
        )
    file: dict[str, Any] = {}
    if part.data:
        bare = marks.get("bare") or False
        media_type = part.media_type or _DEFAULT_DOCUMENT_TYPE
        file["file_data"] = part.data if bare else build_data_url(media_type, part.data)
    if part.file_id:
        file["file_id"] = part.file_id
    if part.filename:
        file["filename"] = part.filename
    return merged({"type": "file", "file": file}, raw)


def simplify(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """Content as a plain string when it is one plain text part, else the list of parts."""
    if not parts:
        return ""
    if len(parts) == 1 and parts[0].keys() == {"type", "text"} and parts[0]["type"] == "text":
        text: str = parts[0]["text"]
        return text
    return parts


# ---- tool calls ----------------------------------------------------------------------------


def decode_tool_call(call: w.ToolCall, raw: Any, path: str, fallback_id: str) -> ToolCallPart:
    """A Chat tool call (function or custom) as a canonical tool call."""
    extra = unknown_fields(raw, w.ToolCall)
    call_id = call.id or fallback_id
    if call.type == "function" and call.function is not None:
        arguments = call.function.arguments
        if not isinstance(arguments, str):
            # Some clients send the object itself; the canonical form is its JSON text.
            arguments = msgspec.json.encode(arguments).decode()
        return ToolCallPart(
            id=call_id, name=call.function.name, arguments=arguments, extras=make_extras(extra)
        )
    if call.type == "custom" and call.custom is not None:
        return ToolCallPart(
            id=call_id,
            name=call.custom.name,
            arguments=custom_arguments(call.custom.input),
            extras=make_extras(extra, {"custom": True}),
        )
    raise TranslationError(
        f"a tool call of type `{call.type}` needs its `{call.type}` object", f"{path}.type"
    )


def encode_tool_call(part: ToolCallPart, fallback_id: str) -> dict[str, Any]:
    """A canonical tool call as a Chat tool call."""
    raw, marks = chat_extras(part.extras)
    call_id = part.id or fallback_id
    if marks.get("custom"):
        custom = {"name": part.name, "input": custom_input(part.arguments)}
        return merged({"id": call_id, "type": "custom", "custom": custom}, raw)
    function = {"name": part.name, "arguments": part.arguments}
    return merged({"id": call_id, "type": "function", "function": function}, raw)


def custom_arguments(text: str) -> str:
    """The canonical arguments of a custom tool call's free-text input."""
    return msgspec.json.encode({"input": text}).decode()


def custom_input(arguments: str) -> str:
    """The free-text input of a custom tool call from its canonical arguments."""
    try:
        value = msgspec.json.decode(arguments)
    except (msgspec.DecodeError, UnicodeError):
        return arguments
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        text: str = value["input"]
        return text
    return arguments
