"""The canonical request → an Anthropic Messages body, for Claude upstreams.

Anthropic's rules are applied here rather than left to fail upstream: consecutive same-role
turns are merged, tool results lead their user turn, tool ids are made valid, `max_tokens` is
always set and stays above the thinking budget, and while thinking is on the sampling settings
and forced tool choices Anthropic refuses are left out (wire-formats §4.3, §9.4).
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import (
    Message,
    Reasoning,
    Request,
    TextPart,
    Tool,
    ToolCallPart,
    ToolResultPart,
)
from aiproxyapi.canonical.thinking import budget_for
from aiproxyapi.formats.claude._blocks import encode_part, place
from aiproxyapi.formats.claude._fields import at, with_extras
from aiproxyapi.formats.claude._mapping import ToolIds

__all__ = ["DEFAULT_MAX_TOKENS", "MIN_BUDGET", "count_tokens_body", "encode_request"]

DEFAULT_MAX_TOKENS = 8192
"""`max_tokens` when the canonical request has none (Anthropic requires it)."""
MIN_BUDGET = 1024
"""Anthropic's smallest `thinking.budget_tokens`."""

_CHOICE = {"auto": "auto", "none": "none", "required": "any", "tool": "tool"}
_EFFORT = {
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "max",
}
_COUNT_FIELDS = ("model", "messages", "system", "tools", "tool_choice", "thinking")


def encode_request(request: Request, model: str) -> dict[str, Any]:
    """The Messages body for a canonical request, `model` being the upstream's model name."""
    own = request.extras.get("claude")
    claude: dict[str, Any] = own if isinstance(own, dict) else {}
    messages = _messages(request.messages, ToolIds(_tool_ids(request.messages)))
    thinking = _thinking(request.reasoning, claude)
    if thinking is not None and thinking["type"] != "disabled" and _unsigned_tool_turn(messages):
        # Anthropic wants the last tool-using assistant turn to open with its signed thinking;
        # history from another vendor has none, so this request goes without thinking.
        thinking = None
    on = thinking is not None and thinking["type"] != "disabled"
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": _max_tokens(request.max_tokens, thinking),
        "messages": messages,
    }
    system = _system(request.system)
    if system is not None:
        body["system"] = system
    if request.temperature is not None and not (on and request.temperature != 1):
        body["temperature"] = request.temperature
    if request.top_p is not None and not (on and request.top_p < 0.95):
        body["top_p"] = request.top_p
    if request.top_k is not None and not on:
        body["top_k"] = request.top_k
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.stream:
        body["stream"] = True
    metadata = dict(claude.get("metadata") or {})
    if request.user:
        metadata["user_id"] = request.user
    if metadata:
        body["metadata"] = metadata
    tools = place(_tools(request.tools), claude.get("server_tools"))
    if tools:
        body["tools"] = tools
        choice = _tool_choice(request, on)
        if choice is not None:
            body["tool_choice"] = choice
    if thinking is not None:
        body["thinking"] = thinking
    _output(body, request, claude, thinking)
    for key, value in (claude.get("fields") or {}).items():
        body.setdefault(key, value)
    return body


def count_tokens_body(request: Request, model: str = "") -> dict[str, Any]:
    """The `/v1/messages/count_tokens` body for a canonical request (no `max_tokens`)."""
    body = encode_request(request, model or request.model)
    return {key: body[key] for key in _COUNT_FIELDS if key in body}


def _tool_ids(messages: list[Message]) -> list[str]:
    ids: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, ToolCallPart):
                ids.append(part.id)
            elif isinstance(part, ToolResultPart):
                ids.append(part.tool_call_id)
    return ids


def _messages(messages: list[Message], ids: ToolIds) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        path = at(at("messages", i), "content")
        blocks = [
            block
            for j, part in enumerate(message.parts)
            if (block := encode_part(part, ids, at(path, j))) is not None
        ]
        own = message.extras.get("claude")
        own = own if isinstance(own, dict) else {}
        blocks = place(blocks, own.get("blocks"))
        if not blocks:
            continue
        role = message.role.value
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
            continue
        turn: dict[str, Any] = {"role": role, "content": blocks}
        for key, value in (own.get("fields") or {}).items():
            turn.setdefault(key, value)
        turns.append(turn)
    for turn in turns:
        content = turn["content"]
        if turn["role"] == "user":
            content.sort(key=lambda block: block.get("type") != "tool_result")
        if len(content) == 1 and content[0].keys() == {"type", "text"}:
            turn["content"] = content[0]["text"]
    return turns


def _unsigned_tool_turn(messages: list[dict[str, Any]]) -> bool:
    last = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
    if last is None or not isinstance(last["content"], list):
        return False
    content: list[dict[str, Any]] = last["content"]
    uses_tools = any(block.get("type") == "tool_use" for block in content)
    return uses_tools and content[0].get("type") not in ("thinking", "redacted_thinking")


def _system(parts: list[TextPart]) -> str | list[dict[str, Any]] | None:
    parts = [part for part in parts if part.text]
    if not parts:
        return None
    if len(parts) == 1 and not parts[0].extras:
        return parts[0].text
    return [with_extras({"type": "text", "text": part.text}, part.extras) for part in parts]


def _tools(tools: list[Tool]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        block: dict[str, Any] = {"name": tool.name}
        if tool.description:
            block["description"] = tool.description
        schema = tool.parameters or {"type": "object", "properties": {}}
        block["input_schema"] = schema if "type" in schema else {"type": "object", **schema}
        if tool.strict is not None:
            block["strict"] = tool.strict
        out.append(with_extras(block, tool.extras))
    return out


def _tool_choice(request: Request, thinking_on: bool) -> dict[str, Any] | None:
    choice, parallel = request.tool_choice, request.parallel_tool_calls
    if choice is None and parallel is not False:
        return None
    mode = choice.mode if choice is not None else "auto"
    if thinking_on and mode in ("required", "tool"):
        # With thinking on Anthropic takes only auto and none.
        mode = "auto"
    out: dict[str, Any] = {"type": _CHOICE[mode]}
    if mode == "tool" and choice is not None:
        out["name"] = choice.name
    if parallel is not None and mode != "none":
        out["disable_parallel_tool_use"] = not parallel
    return out


def _thinking(reasoning: Reasoning | None, claude: dict[str, Any]) -> dict[str, Any] | None:
    if reasoning is None:
        return None
    original = claude.get("thinking")
    original = original if isinstance(original, dict) else {}
    extra = {k: v for k, v in original.items() if k not in ("type", "budget_tokens")}
    budget = reasoning.budget
    if budget == 0 or (budget is None and reasoning.effort == "none"):
        return {"type": "disabled"}
    if budget is not None and budget > 0:
        return {"type": "enabled", "budget_tokens": max(MIN_BUDGET, budget), **extra}
    if original.get("type") == "adaptive":
        return {"type": "adaptive", **extra}
    if not original and "effort" in (claude.get("output_config") or {}):
        # An Anthropic client that sent only `output_config.effort` asked for no thinking.
        return None
    level = reasoning.effort if reasoning.effort not in ("", "auto") else "medium"
    return {"type": "enabled", "budget_tokens": max(MIN_BUDGET, budget_for(level)), **extra}


def _max_tokens(requested: int | None, thinking: dict[str, Any] | None) -> int:
    wanted = requested or DEFAULT_MAX_TOKENS
    budget = (thinking or {}).get("budget_tokens")
    if isinstance(budget, int) and wanted <= budget:
        # Anthropic counts thinking inside max_tokens: keep room for the answer after it.
        return budget + wanted
    return wanted


def _output(
    body: dict[str, Any],
    request: Request,
    claude: dict[str, Any],
    thinking: dict[str, Any] | None,
) -> None:
    sent = claude.get("output_config")
    sent = sent if isinstance(sent, dict) else {}
    config = {k: v for k, v in sent.items() if k != "effort"}
    effort = _EFFORT.get(request.reasoning.effort) if request.reasoning is not None else None
    adaptive = thinking is not None and thinking["type"] == "adaptive"
    if effort and ("effort" in sent or adaptive):
        config["effort"] = effort
    shape = request.response_format
    if shape is not None and shape.type == "json_schema" and shape.schema is not None:
        wire = {"type": "json_schema", "schema": shape.schema}
        if claude.get("output_format"):
            body["output_format"] = wire
        else:
            config["format"] = wire
    if config:
        body["output_config"] = config
