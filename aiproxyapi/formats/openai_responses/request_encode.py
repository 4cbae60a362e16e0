"""Canonical requests into Responses bodies, for OpenAI and Codex upstreams (wire-formats §2.1).

The extras kept by `request_decode` are put back, so a Responses body survives the round trip.
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import Reasoning, Request, Tool, ToolChoice
from aiproxyapi.canonical.thinking import level_for
from aiproxyapi.formats.dialect import Format
from aiproxyapi.formats.openai_responses._common import listed, own, sub
from aiproxyapi.formats.openai_responses._input_encode import encode_input

__all__ = ["effort_for", "encode_request"]

_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh"})


def encode_request(request: Request, model: str) -> dict[str, Any]:
    """The Responses body for a canonical request."""
    mine = own(request.extras)
    body: dict[str, Any] = {"model": model}
    instructions = "\n\n".join(
        part.text for part in request.system if not own(part.extras).get("hoisted")
    )
    if instructions or "instructions" in mine:
        body["instructions"] = instructions
    body["input"] = encode_input(request.messages) + listed(mine, "input_tail")
    tools = _encode_tools(request.tools, listed(mine, "tools"))
    if tools:
        body["tools"] = tools
    choice = _encode_tool_choice(request.tool_choice, mine.get("tool_choice"))
    if choice is not None:
        body["tool_choice"] = choice
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    native = Format.OPENAI_RESPONSES.value in request.extras
    reasoning = _encode_reasoning(request.reasoning, sub(mine, "reasoning"), native=native)
    if reasoning:
        body["reasoning"] = reasoning
    text = _encode_text(request, sub(mine, "text"))
    if text:
        body["text"] = text
    body["stream"] = request.stream
    if request.metadata:
        body["metadata"] = request.metadata
    if request.user:
        body["user"] = request.user
    body.update(sub(mine, "fields"))
    return body


def _encode_tools(tools: list[Tool], others: list[dict[str, Any]]) -> list[dict[str, Any]]:
    encoded: list[dict[str, Any]] = []
    for tool in tools:
        item: dict[str, Any] = {"type": "function", "name": tool.name}
        if tool.description:
            item["description"] = tool.description
        item["parameters"] = tool.parameters or {"type": "object", "properties": {}}
        if tool.strict is not None:
            item["strict"] = tool.strict
        encoded.append(item | own(tool.extras))
    for other in others:
        # Positions were taken over the original list, so inserting in order restores it.
        encoded.insert(min(other["at"], len(encoded)), other["tool"])
    return encoded


def _encode_tool_choice(choice: ToolChoice | None, raw: Any) -> Any:
    if raw is not None:
        return raw
    if choice is None:
        return None
    if choice.mode == "tool":
        return {"type": "function", "name": choice.name}
    return choice.mode


def effort_for(reasoning: Reasoning) -> str:
    """The Responses effort level for a canonical reasoning request ("" when none applies)."""
    effort = reasoning.effort
    if not effort and reasoning.budget is not None:
        effort = level_for(reasoning.budget)
    if effort == "max":
        return "xhigh"
    if effort == "auto":
        # Responses has no dynamic level; medium is the API's own default.
        return "medium"
    if effort and effort not in _EFFORTS:
        return "medium"
    return effort


def _encode_reasoning(
    reasoning: Reasoning | None, leftover: dict[str, Any], *, native: bool
) -> dict[str, Any]:
    if reasoning is None:
        return dict(leftover)
    out = dict(leftover)
    effort = effort_for(reasoning)
    if effort:
        out["effort"] = effort
    # A client of another dialect that asked for reasoning wants to see it unless it said
    # otherwise: without a summary setting the Responses API returns empty summaries. A
    # Responses client's own choice (even no summary) is kept as it was.
    shown = not native and reasoning.include_thoughts is not False and effort not in ("", "none")
    summary = reasoning.summary or ("auto" if shown else "")
    if summary and summary not in (out.get("summary"), out.get("generate_summary")):
        out["summary"] = summary
    return out


def _encode_text(request: Request, leftover: dict[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in leftover.items() if key != "format"}
    fmt = request.response_format
    if fmt is None:
        return out
    wire: dict[str, Any] = {"type": fmt.type}
    if fmt.type == "json_schema":
        wire["name"] = fmt.name or "response"
        wire["schema"] = fmt.schema if fmt.schema is not None else {}
        if fmt.strict is not None:
            wire["strict"] = fmt.strict
    out["format"] = wire | leftover.get("format", {})
    return out
