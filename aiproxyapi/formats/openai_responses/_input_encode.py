"""Canonical turns into Responses `input` items, the verbatim items put back where they were."""

from __future__ import annotations

from typing import Any

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
from aiproxyapi.formats.openai_responses._common import FMT, data_url, listed, own, sub

_FILENAMES = {"application/pdf": "document.pdf", "text/plain": "document.txt"}


def encode_input(messages: list[Message]) -> list[dict[str, Any]]:
    """The `input` array for canonical turns."""
    items: list[dict[str, Any]] = []
    for message in messages:
        mine = own(message.extras)
        items += listed(mine, "before")
        if message.role is Role.USER:
            _user_turn(message, sub(mine, "item"), items)
        else:
            _assistant_turn(message, items)
    return items


def _user_turn(message: Message, fields: dict[str, Any], items: list[dict[str, Any]]) -> None:
    run: list[dict[str, Any]] = []
    first = True

    def flush() -> None:
        nonlocal first
        if run:
            item = {"type": "message", "role": "user", "content": list(run)}
            items.append(item | fields if first else item)
            first = False
            run.clear()

    for part in message.parts:
        before = own(part.extras).get("before")
        if before or isinstance(part, ToolResultPart):
            flush()
        items += before or []
        if isinstance(part, ToolResultPart):
            items.append(tool_output(part))
        elif isinstance(part, TextPart | ImagePart | DocumentPart):
            run.append(input_content(part))
    flush()


def _assistant_turn(message: Message, items: list[dict[str, Any]]) -> None:
    run: list[dict[str, Any]] = []
    fields: dict[str, Any] = {}

    def flush() -> None:
        if run:
            items.append({"type": "message", "role": "assistant", "content": list(run)} | fields)
            run.clear()

    for part in message.parts:
        mine = own(part.extras)
        if not isinstance(part, TextPart) or "before" in mine or "item" in mine:
            flush()
        items += listed(mine, "before")
        if isinstance(part, TextPart):
            if not run:
                fields = sub(mine, "item")
            run.append(_output_content(part, mine))
        elif isinstance(part, ToolCallPart):
            items.append(_function_call(part, mine))
        elif isinstance(part, ThinkingPart) and _replayable(part, mine):
            items.append(reasoning_item(part, mine))
    flush()


def _replayable(part: ThinkingPart, mine: dict[str, Any]) -> bool:
    # Reasoning goes back only to the vendor that produced it (wire-formats §9.4), and only
    # when it can be found again: by its encrypted content or by its stored item id.
    return part.signature_source == FMT and bool(part.signature or sub(mine, "item").get("id"))


def input_content(part: Part) -> dict[str, Any]:
    """A user-side content part (`input_text`, `input_image`, `input_file`)."""
    mine = own(part.extras)
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text} | sub(mine, "part")
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"type": "input_image"}
        if part.url or part.data:
            image["image_url"] = part.url or data_url(part.media_type, part.data)
        if part.detail:
            image["detail"] = part.detail
        return image | sub(mine, "part")
    assert isinstance(part, DocumentPart)
    document: dict[str, Any] = {"type": "input_file"}
    if part.data:
        document["file_data"] = (
            data_url(part.media_type, part.data) if part.media_type else part.data
        )
        # The API wants a name with inline data; other dialects often have none.
        document["filename"] = part.filename or _FILENAMES.get(part.media_type, "document")
    elif part.filename:
        document["filename"] = part.filename
    if part.url:
        document["file_url"] = part.url
    if part.file_id:
        document["file_id"] = part.file_id
    return document | sub(mine, "part")


def _output_content(part: TextPart, mine: dict[str, Any]) -> dict[str, Any]:
    if mine.get("refusal"):
        return {"type": "refusal", "refusal": part.text}
    return {"type": "output_text", "text": part.text} | sub(mine, "part")


def tool_output(part: ToolResultPart) -> dict[str, Any]:
    """A `function_call_output` item; a lone plain text result is sent as a string."""
    fields = dict(sub(own(part.extras), "item"))
    output: Any = fields.pop("output", None)
    if output is None:
        content = part.content
        if not content:
            output = ""
        elif len(content) == 1 and isinstance(content[0], TextPart) and not own(content[0].extras):
            output = content[0].text
        else:
            output = [input_content(c) for c in content]
    return {"type": "function_call_output", "call_id": part.tool_call_id, "output": output} | fields


def _function_call(part: ToolCallPart, mine: dict[str, Any]) -> dict[str, Any]:
    call = {"type": "function_call", "call_id": part.id, "name": part.name}
    return call | {"arguments": part.arguments} | sub(mine, "item")


def summary_texts(part: ThinkingPart, mine: dict[str, Any]) -> list[str]:
    """The summary paragraphs of a reasoning item, split again as they came."""
    stored = mine.get("summary")
    if isinstance(stored, list) and (not stored or "\n\n".join(stored) == part.text):
        return stored
    return [part.text] if part.text else []


def reasoning_item(part: ThinkingPart, mine: dict[str, Any]) -> dict[str, Any]:
    """A `reasoning` item for a thinking part of this dialect."""
    item: dict[str, Any] = {"type": "reasoning"} | sub(mine, "item")
    item["summary"] = [{"type": "summary_text", "text": t} for t in summary_texts(part, mine)]
    if part.signature:
        item["encrypted_content"] = part.signature
    return item
