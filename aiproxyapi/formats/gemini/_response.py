"""`GenerateContentResponse` to and from the canonical answer (wire-formats §5.3, §6.2, §9.1).

Only the first candidate is read. Candidate and answer fields the hub has no slot for
(safetyRatings, citationMetadata, groundingMetadata, promptFeedback, the exact finishReason,
usage details) are kept in `extras["gemini"]` and written back when the answer goes out in this
dialect again.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from aiproxyapi.canonical import Request, Response, Role, StopReason, ToolCallPart, Usage
from aiproxyapi.formats.gemini._common import (
    count,
    finish_reason_for,
    first_candidate,
    names_back,
    own,
    prompt_blocked,
    rest,
    stop_reason_for,
    tagged,
    text_of,
    usage_from_wire,
    usage_to_wire,
)
from aiproxyapi.formats.gemini._part_decode import CallBook, decode_part
from aiproxyapi.formats.gemini._part_encode import PartWriter, lay

__all__ = [
    "answer_book",
    "created_from",
    "decode_response",
    "encode_response",
    "unwrap_code_assist_chunk",
]

_ANSWER = frozenset({"candidates", "usageMetadata", "modelVersion", "responseId"})
_CANDIDATE = frozenset({"content", "finishReason", "index"})
_USAGE = frozenset(
    {"promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount",
     "cachedContentTokenCount", "totalTokenCount"}
)  # fmt: skip


def unwrap_code_assist_chunk(obj: Any) -> Any:
    """The Gemini answer inside a Code Assist `{"response": {...}, "traceId": ...}` (§6.2)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("response"), dict):
        return obj
    inner: dict[str, Any] = obj["response"]
    trace = obj.get("traceId")
    if isinstance(trace, str) and trace and not inner.get("responseId"):
        inner = {**inner, "responseId": trace}  # what Gemini CLI itself uses as the id
    return inner


def answer_book(request: Request | None, response_id: str) -> tuple[CallBook, dict[str, str]]:
    """Call ids for an answer and the map back to the client's tool names.

    With the request known, ids continue its numbering (unique in the conversation); without it
    they carry the answer's id so they cannot collide with earlier turns.
    """
    if request is None:
        salt = "".join(c for c in response_id if c.isalnum())[:12] or secrets.token_hex(4)
        return CallBook(salt=salt), {}
    calls = sum(isinstance(p, ToolCallPart) for m in request.messages for p in m.parts)
    return CallBook(start=calls), names_back([tool.name for tool in request.tools])


def created_from(answer: dict[str, Any]) -> int:
    """`createTime` (Code Assist, Vertex) as Unix seconds, or 0."""
    stamp = answer.get("createTime")
    if not isinstance(stamp, str):
        return 0
    try:
        return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def decode_response(body: dict[str, Any], request: Request | None = None) -> Response:
    """An upstream answer as a canonical response (`request` maps tool names and ids back)."""
    answer = unwrap_code_assist_chunk(body)
    answer = answer if isinstance(answer, dict) else {}
    response_id = text_of(answer.get("responseId")) or f"gemini-{secrets.token_hex(8)}"
    book, names = answer_book(request, response_id)
    candidate = first_candidate(answer) or {}
    content = candidate.get("content")
    raw_parts = content.get("parts") if isinstance(content, dict) else None
    parts = [
        part
        for j, raw in enumerate(raw_parts if isinstance(raw_parts, list) else [])
        if (
            part := decode_part(
                raw, f"candidates[0].content.parts[{j}]", Role.ASSISTANT, book, names
            )
        )
        is not None
    ]
    keep = rest(answer, _ANSWER)
    finish = text_of(candidate.get("finishReason"))
    if other := rest(candidate, _CANDIDATE) | ({"finishReason": finish} if finish else {}):
        keep["candidate"] = other
    meta = answer.get("usageMetadata")
    if isinstance(meta, dict) and (details := rest(meta, _USAGE)):
        keep["usageMetadata"] = details
    blocked = not candidate and prompt_blocked(answer)
    tool_call = any(isinstance(part, ToolCallPart) for part in parts)
    return Response(
        id=response_id,
        model=text_of(answer.get("modelVersion")),
        parts=parts,
        stop_reason=StopReason.CONTENT_FILTER
        if blocked
        else stop_reason_for(finish, tool_call=tool_call),
        usage=usage_from_wire(meta) or Usage(),
        created=created_from(answer),
        extras=tagged(keep),
    )


def encode_response(response: Response, model: str) -> dict[str, Any]:
    """The client's `GenerateContentResponse` for a canonical answer."""
    kept = own(response.extras)
    parts = PartWriter(answer=True).parts(response.parts, "parts")
    tool_call = any(isinstance(part, ToolCallPart) for part in response.parts)
    extra_candidate = kept.get("candidate")
    extra_candidate = dict(extra_candidate) if isinstance(extra_candidate, dict) else {}
    finish = text_of(extra_candidate.pop("finishReason", None))
    if not finish or stop_reason_for(finish, tool_call=tool_call) is not response.stop_reason:
        finish = finish_reason_for(response.stop_reason)
    body: dict[str, Any] = {}
    feedback = kept.get("promptFeedback")
    blocked = isinstance(feedback, dict) and feedback.get("blockReason") and not parts
    if not blocked:
        candidate = {
            "content": {"role": "model", "parts": parts},
            "finishReason": finish,
            "index": 0,
        }
        body["candidates"] = [lay(candidate, extra_candidate)]
    body["usageMetadata"] = _usage(response.usage, kept.get("usageMetadata"))
    body["modelVersion"] = model
    body["responseId"] = response.id
    for key, value in kept.items():
        if key not in ("candidate", "usageMetadata"):
            body[key] = value
    return body


def _usage(usage: Usage, details: Any) -> dict[str, Any]:
    meta = usage_to_wire(usage)
    if isinstance(details, dict):
        meta |= details
        # The hub folded tool-use prompt tokens into the input; Gemini lists them apart.
        meta["promptTokenCount"] -= count(details.get("toolUsePromptTokenCount"))
    return meta
