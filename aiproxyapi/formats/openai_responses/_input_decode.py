"""Responses `input` items into canonical turns.

Items the hub can model become parts; every other item (custom tool calls, hosted-tool items,
`item_reference`, `additional_tools`, …) and every system/developer message is kept verbatim in
the extras of the next part or turn under "before" (or in the request's "input_tail"), so an
encode back into Responses puts each one where it was. System and developer text is also
hoisted into the canonical `system` for the other dialects.
"""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.canonical import (
    DocumentPart,
    ImagePart,
    Message,
    Part,
    Role,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_responses._common import FMT, rest, split_data_url, tagged

_MESSAGE_KEYS = frozenset({"type", "role", "content"})
_CALL_KEYS = frozenset({"type", "call_id", "name", "arguments"})
_OUTPUT_KEYS = frozenset({"type", "call_id", "output"})
_REASONING_KEYS = frozenset({"type", "summary", "encrypted_content"})


def _string(value: Any, param: str, what: str) -> str:
    if not isinstance(value, str):
        raise TranslationError(f"{what} must be a string", param)
    return value


def _text_of(entry: Any) -> str:
    text = entry.get("text") if isinstance(entry, dict) else None
    return text if isinstance(text, str) else ""


def content_part(part: Any, param: str) -> TextPart | ImagePart | DocumentPart:
    """One content part of a message (or of a function_call_output) as a canonical part."""
    if not isinstance(part, dict):
        raise TranslationError("each content part must be an object", param)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        text = _string(part.get("text"), f"{param}.text", "`text`")
        extra = rest(part, frozenset({"type", "text"}))
        # Empty annotation and logprob lists are what every output_text carries: no news.
        extra = {key: value for key, value in extra.items() if value != []}
        return TextPart(text=text, extras=tagged({"part": extra} if extra else {}))
    if kind == "refusal":
        text = _string(part.get("refusal"), f"{param}.refusal", "`refusal`")
        return TextPart(text=text, extras=tagged({"refusal": True}))
    if kind == "input_image":
        return _image(part, param)
    if kind == "input_file":
        return _file(part, param)
    raise TranslationError(f"content part type {kind!r} is not supported", f"{param}.type")


def _image(part: dict[str, Any], param: str) -> ImagePart:
    url = part.get("image_url") or ""
    _string(url, f"{param}.image_url", "`image_url`")
    extra = rest(part, frozenset({"type", "image_url", "detail"}))
    if not url and not part.get("file_id"):
        raise TranslationError("`input_image` needs an `image_url` or a `file_id`", param)
    detail = part.get("detail") or ""
    extras = tagged({"part": extra} if extra else {})
    inline = split_data_url(url)
    if inline is not None:
        return ImagePart(media_type=inline[0], data=inline[1], detail=detail, extras=extras)
    return ImagePart(url=url, detail=detail, extras=extras)


def _file(part: dict[str, Any], param: str) -> DocumentPart:
    data = part.get("file_data") or ""
    _string(data, f"{param}.file_data", "`file_data`")
    url = part.get("file_url") or ""
    file_id = part.get("file_id") or ""
    if not (data or url or file_id):
        raise TranslationError("`input_file` needs `file_data`, `file_url` or `file_id`", param)
    inline = split_data_url(data)
    media_type, data = inline if inline is not None else ("", data)
    extra = rest(part, frozenset({"type", "file_data", "file_url", "file_id", "filename"}))
    return DocumentPart(
        media_type=media_type,
        data=data,
        url=url,
        file_id=file_id,
        filename=part.get("filename") or "",
        extras=tagged({"part": extra} if extra else {}),
    )


def message_content(content: Any, param: str) -> list[TextPart | ImagePart | DocumentPart]:
    """A message's `content`: a string or a list of parts."""
    if isinstance(content, str):
        return [TextPart(text=content)]
    if not isinstance(content, list):
        raise TranslationError("`content` must be a string or an array of parts", param)
    return [content_part(part, f"{param}[{i}]") for i, part in enumerate(content)]


def call_part(item: dict[str, Any], param: str) -> ToolCallPart:
    """A `function_call` item as a tool call; its item id and status ride in the extras."""
    call_id = _string(item.get("call_id"), f"{param}.call_id", "`call_id`")
    name = _string(item.get("name"), f"{param}.name", "`name`")
    arguments = item.get("arguments", "")
    if isinstance(arguments, dict):
        arguments = msgspec.json.encode(arguments).decode()
    arguments = _string(arguments, f"{param}.arguments", "`arguments`")
    fields = rest(item, _CALL_KEYS)
    return ToolCallPart(
        id=call_id,
        name=name,
        arguments=arguments or "{}",
        extras=tagged({"item": fields} if fields else {}),
    )


def thinking_part(item: dict[str, Any], param: str) -> ThinkingPart:
    """A `reasoning` item: summary paragraphs joined, `encrypted_content` as the signature."""
    summary = item.get("summary") or []
    if not isinstance(summary, list):
        raise TranslationError("`summary` must be an array", f"{param}.summary")
    texts = [_text_of(s) for s in summary]
    raw = item.get("content")
    text = "\n\n".join(texts)
    if not texts and isinstance(raw, list):
        # Open-weight models send raw reasoning text instead of a summary.
        text = "\n\n".join(_text_of(c) for c in raw)
    fields: dict[str, Any] = {}
    if item_fields := rest(item, _REASONING_KEYS):
        fields["item"] = item_fields
    if len(texts) != 1:
        fields["summary"] = texts
    encrypted = item.get("encrypted_content")
    return ThinkingPart(
        text=text,
        signature=encrypted if isinstance(encrypted, str) else "",
        signature_source=FMT,
        extras=tagged(fields),
    )


class InputReader:
    """Walks the input items once, building turns in order."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.system: list[TextPart] = []
        self.pending: list[dict[str, Any]] = []
        """Verbatim items waiting for the next part or turn to ride on."""
        self._turn: Message | None = None
        self._turn_kind = ""
        self._last_was_message = False
        self._call_names: dict[str, str] = {}

    def read(self, items: list[Any]) -> None:
        """Read every item of the `input` array."""
        for i, item in enumerate(items):
            param = f"input[{i}]"
            if not isinstance(item, dict):
                raise TranslationError("each input item must be an object", param)
            kind = item.get("type", "message" if "role" in item else None)
            if kind == "message":
                self._message(item, param)
            elif kind == "function_call":
                self._function_call(item, param)
            elif kind == "function_call_output":
                self._function_output(item, param)
            elif kind == "reasoning":
                self._reasoning(item, param)
            elif isinstance(kind, str):
                self.pending.append(item)
            else:
                raise TranslationError("an input item needs a `type` or a `role`", param)

    def _message(self, item: dict[str, Any], param: str) -> None:
        role = item.get("role")
        parts = message_content(item.get("content"), f"{param}.content")
        fields = rest(item, _MESSAGE_KEYS)
        blank = all(isinstance(part, TextPart) and not part.text for part in parts)
        if role in ("system", "developer") or (blank and role in ("user", "assistant")):
            # The item itself stays in place for Responses; its text goes to the system prompt.
            # An empty turn is kept the same way: other dialects refuse empty turns.
            self.pending.append(item)
            self.system += [
                TextPart(text=part.text, extras=tagged({"hoisted": True}))
                for part in parts
                if isinstance(part, TextPart) and part.text
            ]
        elif role == "user":
            self._new_turn(Role.USER, "", list(parts), fields)
        elif role == "assistant":
            marker = fields if fields or self._last_was_message else None
            self._add_assistant(list(parts), marker)
            self._last_was_message = True
        else:
            raise TranslationError(f"message role {role!r} is not supported", f"{param}.role")

    def _function_call(self, item: dict[str, Any], param: str) -> None:
        part = call_part(item, param)
        self._call_names[part.id] = part.name
        self._add_assistant([part], None)

    def _function_output(self, item: dict[str, Any], param: str) -> None:
        call_id = _string(item.get("call_id"), f"{param}.call_id", "`call_id`")
        output = item.get("output")
        fields = rest(item, _OUTPUT_KEYS)
        content: list[TextPart | ImagePart] = []
        if isinstance(output, str):
            content.append(TextPart(text=output))
        elif isinstance(output, list):
            for part in message_content(output, f"{param}.output"):
                if isinstance(part, DocumentPart):
                    # A file result has no canonical slot: Responses gets the list back whole.
                    fields["output"] = output
                else:
                    content.append(part)
        else:
            raise TranslationError("`output` must be a string or an array of parts", param)
        name = item.get("name")
        result = ToolResultPart(
            tool_call_id=call_id,
            content=content,
            name=name if isinstance(name, str) else self._call_names.get(call_id, ""),
            extras=tagged({"item": fields} if fields else {}),
        )
        if self._turn is not None and self._turn_kind == "results":
            self._attach(result)
            self._turn.parts.append(result)
        else:
            self._new_turn(Role.USER, "results", [result], {})

    def _reasoning(self, item: dict[str, Any], param: str) -> None:
        self._add_assistant([thinking_part(item, param)], None)

    def _new_turn(self, role: Role, kind: str, parts: list[Part], fields: dict[str, Any]) -> None:
        own: dict[str, Any] = {"item": fields} if fields else {}
        if self.pending:
            own["before"], self.pending = self.pending, []
        self._turn = Message(role=role, parts=parts, extras=tagged(own))
        self._turn_kind = kind
        self._last_was_message = False
        self.messages.append(self._turn)

    def _add_assistant(self, parts: list[Part], item_fields: dict[str, Any] | None) -> None:
        if item_fields is not None:
            parts[0].extras.setdefault(FMT, {})["item"] = item_fields
        if self._turn is None or self._turn_kind != "assistant":
            self._new_turn(Role.ASSISTANT, "assistant", parts, {})
            self._turn_kind = "assistant"
            return
        self._attach(parts[0])
        self._turn.parts += parts
        self._last_was_message = False

    def _attach(self, part: Part) -> None:
        if self.pending:
            part.extras.setdefault(FMT, {})["before"], self.pending = self.pending, []
