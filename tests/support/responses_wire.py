"""OpenAI Responses bodies and stream events (also spoken by the ChatGPT Codex backend).

Shapes follow wire-formats.md §2.3-§2.5: the ``response`` object, the streaming lifecycle with a
``sequence_number`` on every event, reasoning items with a summary, ``function_call`` items with
argument deltas, and usage on the final object only. Codex differences are in §7.2.
"""

from __future__ import annotations

import time
from typing import Any

from ._answer import Answer
from .openai_wire import Usage, split_json

__all__ = [
    "codex_error_body",
    "output_items",
    "response_object",
    "stream_events",
    "usage_json",
]

_CODEX_DETAILS: dict[int, str] = {
    400: "Bad request",
    401: "Could not parse your authentication token. Please try signing in again.",
    403: "You do not have access to this resource.",
    404: "Model not found",
    500: "Internal server error",
    503: "Selected model is at capacity. Please try a different model.",
}


def usage_json(usage: Usage) -> dict[str, Any]:
    """§2.5: input includes cached, output includes reasoning."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def codex_error_body(
    status: int, message: str | None = None, *, retry_after: float | None = None
) -> dict[str, Any]:
    """§7.2: FastAPI-style ``{"detail": ...}``, or ``usage_limit_reached`` for 429."""
    if status == 429:
        wait = round(retry_after) if retry_after is not None else 3600
        return {
            "error": {
                "type": "usage_limit_reached",
                "message": message or "The usage limit has been reached",
                "plan_type": "plus",
                "resets_at": int(time.time()) + wait,
                "resets_in_seconds": wait,
            }
        }
    return {"detail": message or _CODEX_DETAILS.get(status, f"Upstream error {status}")}


def _outcome(finish_reason: str) -> tuple[str, str | None]:
    """§9.1: the response status and incomplete reason for an OpenAI finish reason."""
    if finish_reason in ("length", "max_output_tokens"):
        return "incomplete", "max_output_tokens"
    if finish_reason == "content_filter":
        return "incomplete", "content_filter"
    return "completed", None


def _ids(answer: Answer) -> tuple[str, str, str]:
    return f"rs_fake{answer.serial}", f"msg_fake{answer.serial}", f"fc_fake{answer.serial}"


def output_items(answer: Answer, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The completed output items: reasoning, message, function calls, in that order."""
    reasoning_id, message_id, call_id = _ids(answer)
    status, _ = _outcome(answer.finish_reason)
    items: list[dict[str, Any]] = []
    if answer.thinking is not None:
        include = request.get("include") or []
        encrypted = answer.signature if "reasoning.encrypted_content" in include else None
        items.append(
            {
                "id": reasoning_id,
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": answer.thinking}],
                "encrypted_content": encrypted,
            }
        )
    if answer.has_text:
        part = {"type": "output_text", "text": answer.text, "annotations": [], "logprobs": []}
        items.append(
            {
                "id": message_id,
                "type": "message",
                "status": "incomplete" if status == "incomplete" else "completed",
                "role": "assistant",
                "content": [part],
            }
        )
    for index, call in enumerate(answer.tool_calls):
        items.append(
            {
                "id": f"{call_id}_{index}",
                "type": "function_call",
                "status": "completed",
                "call_id": answer.call_id(index, "call_"),
                "name": call.name,
                "arguments": call.arguments_json,
            }
        )
    return items


def response_object(
    answer: Answer,
    request: dict[str, Any],
    *,
    created_at: int,
    output: list[dict[str, Any]] | None,
    final: bool,
) -> dict[str, Any]:
    """The ``response`` object; before the end (final=False) it is in_progress and empty."""
    status, reason = _outcome(answer.finish_reason) if final else ("in_progress", None)
    return {
        "id": f"resp_fake{answer.serial}",
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": answer.model,
        "output": output or [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": request.get("reasoning") or {"effort": None, "summary": None},
        "store": request.get("store", True),
        "temperature": request.get("temperature", 1.0),
        "text": request.get("text") or {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools") or [],
        "top_p": request.get("top_p", 1.0),
        "truncation": request.get("truncation", "disabled"),
        "usage": usage_json(answer.usage) if final else None,
        "user": None,
        "metadata": request.get("metadata") or {},
        "service_tier": "default",
    }


def _item_events(
    item: dict[str, Any], index: int, answer: Answer
) -> list[tuple[str, dict[str, Any]]]:
    """The events that open, fill and close one output item (§2.4)."""
    ref = {"item_id": item["id"], "output_index": index}
    if item["type"] == "reasoning":
        opened = {**item, "summary": []}
        text = answer.thinking or ""
        part = {"type": "summary_text", "text": text}
        body = [
            (
                "response.reasoning_summary_part.added",
                {**ref, "summary_index": 0, "part": {**part, "text": ""}},
            ),
            *(
                ("response.reasoning_summary_text.delta", {**ref, "summary_index": 0, "delta": p})
                for p in answer.thinking_pieces
            ),
            ("response.reasoning_summary_text.done", {**ref, "summary_index": 0, "text": text}),
            ("response.reasoning_summary_part.done", {**ref, "summary_index": 0, "part": part}),
        ]
    elif item["type"] == "message":
        opened = {**item, "status": "in_progress", "content": []}
        part = item["content"][0]
        at = {**ref, "content_index": 0}
        body = [
            ("response.content_part.added", {**at, "part": {**part, "text": ""}}),
            *(
                ("response.output_text.delta", {**at, "delta": p, "logprobs": []})
                for p in answer.text_pieces
                if p
            ),
            ("response.output_text.done", {**at, "text": part["text"], "logprobs": []}),
            ("response.content_part.done", {**at, "part": part}),
        ]
    else:
        opened = {**item, "status": "in_progress", "arguments": ""}
        body = [
            *(
                ("response.function_call_arguments.delta", {**ref, "delta": piece})
                for piece in split_json(item["arguments"])
            ),
            ("response.function_call_arguments.done", {**ref, "arguments": item["arguments"]}),
        ]
    return [
        ("response.output_item.added", {"output_index": index, "item": opened}),
        *body,
        ("response.output_item.done", {"output_index": index, "item": item}),
    ]


def stream_events(
    answer: Answer, request: dict[str, Any], *, created_at: int, codex: bool = False
) -> list[dict[str, Any]]:
    """Every event of one stream, ``sequence_number`` from 0, ending in the terminal event.

    For Codex the terminal ``response.output`` is empty, the quirk of §7.2 that makes clients
    rebuild the output from the ``output_item.done`` events.
    """
    items = output_items(answer, request)
    start = response_object(answer, request, created_at=created_at, output=None, final=False)
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": start}),
        ("response.in_progress", {"response": start}),
    ]
    for index, item in enumerate(items):
        events += _item_events(item, index, answer)
    final = response_object(
        answer, request, created_at=created_at, output=[] if codex else items, final=True
    )
    terminal = "response.completed" if final["status"] == "completed" else "response.incomplete"
    events.append((terminal, {"response": final}))
    return [
        {"type": kind, "sequence_number": seq, **payload}
        for seq, (kind, payload) in enumerate(events)
    ]
