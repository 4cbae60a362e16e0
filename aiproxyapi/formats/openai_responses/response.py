"""The non-streamed Response object (wire-formats §2.3) to and from the canonical response.

Output items the hub cannot model (hosted-tool calls, custom tool calls, …) ride verbatim in
the extras of the next part ("before") or of the response ("output_tail"); the request echo
fields of an upstream answer are kept under "response", so a Responses client loses nothing.
"""

from __future__ import annotations

import time
from typing import Any

from aiproxyapi.canonical import Part, Response, TextPart, ThinkingPart, ToolCallPart, Usage
from aiproxyapi.formats.openai_responses._common import (
    FMT,
    item_id,
    listed,
    own,
    response_id,
    response_object,
    rest,
    status_for,
    stop_reason_for,
    sub,
    tagged,
    usage_from_wire,
)
from aiproxyapi.formats.openai_responses._input_decode import call_part, thinking_part
from aiproxyapi.formats.openai_responses._input_encode import summary_texts

__all__ = ["decode_response", "encode_response", "output_text_part"]

_ENVELOPE = frozenset(
    {
        "id", "object", "created_at", "status", "error", "incomplete_details", "model",
        "output", "usage", "output_text",
    }
)  # fmt: skip
_MESSAGE_KEYS = frozenset({"type", "role", "content"})


def decode_response(body: dict[str, Any]) -> Response:
    """An upstream's Response object as a canonical response."""
    output = body.get("output")
    parts: list[Part] = []
    pending: list[dict[str, Any]] = []
    for i, item in enumerate(output if isinstance(output, list) else []):
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        new: list[Part] = []
        if kind == "message":
            new = _message_parts(item)
        elif kind == "function_call":
            new = [call_part(item, f"output[{i}]")]
        elif kind == "reasoning":
            new = [thinking_part(item, f"output[{i}]")]
        if not new:
            pending.append(item)
            continue
        if pending:
            new[0].extras.setdefault(FMT, {})["before"], pending = pending, []
        parts += new
    status = body.get("status")
    incomplete = body.get("incomplete_details")
    extras: dict[str, Any] = {"response": rest(body, _ENVELOPE), "output_tail": pending}
    if isinstance(body.get("error"), dict):
        extras["error"] = body["error"]
    if isinstance(incomplete, dict):
        extras["incomplete_details"] = incomplete
    created = body.get("created_at")
    return Response(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        parts=parts,
        stop_reason=stop_reason_for(
            status,
            incomplete,
            tool_call=any(isinstance(p, ToolCallPart) for p in parts),
            refusal=any(own(p.extras).get("refusal") for p in parts),
        ),
        usage=usage_from_wire(body.get("usage")) or Usage(),
        created=int(created) if isinstance(created, int | float) else 0,
        extras=tagged({key: value for key, value in extras.items() if value}),
    )


def _message_parts(item: dict[str, Any]) -> list[Part]:
    parts: list[Part] = []
    for content in item.get("content") or []:
        if not isinstance(content, dict):
            continue
        extra = rest(content, frozenset({"type", "text", "refusal"}))
        extra = {key: value for key, value in extra.items() if value != []}
        if content.get("type") == "output_text" and isinstance(content.get("text"), str):
            parts.append(
                TextPart(text=content["text"], extras=tagged({"part": extra} if extra else {}))
            )
        elif content.get("type") == "refusal" and isinstance(content.get("refusal"), str):
            parts.append(TextPart(text=content["refusal"], extras=tagged({"refusal": True})))
    if parts:
        # The first part carries the item's own fields (id, status, phase): a message boundary.
        parts[0].extras.setdefault(FMT, {})["item"] = rest(item, _MESSAGE_KEYS)
    return parts


def output_text_part(part: TextPart) -> dict[str, Any]:
    """An assistant content part: `output_text`, or `refusal` for a refusal."""
    mine = own(part.extras)
    if mine.get("refusal"):
        return {"type": "refusal", "refusal": part.text}
    return {"type": "output_text", "text": part.text, "annotations": []} | sub(mine, "part")


def thinking_item(part: ThinkingPart, ident: str) -> dict[str, Any]:
    """A completed `reasoning` output item; encrypted content only for this dialect's own."""
    mine = own(part.extras) if part.signature_source == FMT else {}
    item: dict[str, Any] = {"id": ident, "type": "reasoning"} | sub(mine, "item")
    item["summary"] = [{"type": "summary_text", "text": t} for t in summary_texts(part, mine)]
    if part.signature and part.signature_source == FMT:
        item["encrypted_content"] = part.signature
    return item


def call_item(part: ToolCallPart, ident: str) -> dict[str, Any]:
    """A completed `function_call` output item."""
    item = {"id": ident, "type": "function_call", "status": "completed"}
    item |= {"call_id": part.id, "name": part.name, "arguments": part.arguments or "{}"}
    return item | sub(own(part.extras), "item")


def encode_response(response: Response, model: str) -> dict[str, Any]:
    """A client's Response object for a canonical answer."""
    resp_id = response_id(response.id)
    output: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []
    fields: dict[str, Any] = {}

    def flush() -> None:
        if run:
            message: dict[str, Any] = {"id": item_id("msg", resp_id, len(output))}
            message["type"] = "message"
            message |= {"status": "completed", "role": "assistant", "content": list(run)}
            output.append(message | fields)
            run.clear()

    for part in response.parts:
        mine = own(part.extras)
        if not isinstance(part, TextPart) or "before" in mine or "item" in mine:
            flush()
        output.extend(listed(mine, "before"))
        if isinstance(part, TextPart):
            if not run:
                fields = sub(mine, "item")
            run.append(output_text_part(part))
        elif isinstance(part, ThinkingPart) and (part.text or part.signature_source == FMT):
            output.append(thinking_item(part, item_id("rs", resp_id, len(output))))
        elif isinstance(part, ToolCallPart):
            output.append(call_item(part, item_id("fc", resp_id, len(output))))
    flush()
    mine = own(response.extras)
    output.extend(listed(mine, "output_tail"))
    refusal = any(own(p.extras).get("refusal") for p in response.parts)
    status, incomplete = status_for(response.stop_reason, refusal=refusal)
    created = response.created or int(time.time())
    body = response_object(
        resp_id, model, created=created, status=status, output=output, usage=response.usage
    )
    if incomplete is not None:
        body["incomplete_details"] = sub(mine, "incomplete_details") or incomplete
    if status == "failed":
        error = sub(mine, "error") or {"code": "server_error", "message": "the model failed"}
        body["error"] = error
    body.update(sub(mine, "response"))
    return body
