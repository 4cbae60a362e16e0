"""Chat Completions request body ↔ canonical Request.

Fields the hub does not model (`n`, penalties, `logit_bias`, `store`, `service_tier`, …) travel in
``extras["openai"]`` and come back verbatim when the request is encoded to Chat again.
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import Reasoning, Request, ResponseFormat, Tool, ToolChoice
from aiproxyapi.canonical.thinking import level_for
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_chat import _wire as w
from aiproxyapi.formats.openai_chat._common import (
    chat_extras,
    convert,
    make_extras,
    merged,
    unknown_fields,
)
from aiproxyapi.formats.openai_chat.messages import decode_messages, encode_messages

__all__ = ["decode_request", "encode_request"]


def _custom_schema() -> dict[str, Any]:
    # A custom tool takes free text: other dialects see one string argument named `input`.
    return {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}


def decode_request(body: dict[str, Any]) -> Request:
    """A Chat Completions body as a canonical request (TranslationError naming the bad field)."""
    if not isinstance(body, dict):
        raise TranslationError("the request body must be a JSON object")
    wire = convert(body, w.Body)
    if not wire.model.strip():
        raise TranslationError("`model` must be a non-empty string", "model")
    if not wire.messages:
        raise TranslationError("`messages` must hold at least one message", "messages")
    system, messages = decode_messages(wire.messages, body["messages"])
    extra = unknown_fields(body, w.Body)
    marks: dict[str, Any] = {}
    if wire.top_k is not None:
        # Not OpenAI's, but some compatible servers take it: kept for them, modelled for others.
        extra["top_k"] = wire.top_k
    options = unknown_fields(body.get("stream_options"), w.StreamOptions)
    if options:
        extra["stream_options"] = options
    max_tokens = wire.max_tokens
    if wire.max_completion_tokens is not None:
        max_tokens = wire.max_completion_tokens
        marks["max_completion_tokens"] = True
        if wire.max_tokens is not None:
            extra["max_tokens"] = wire.max_tokens
    tools, tool_choice = _decode_tools(wire, body, marks)
    stop = [wire.stop] if isinstance(wire.stop, str) else list(wire.stop or ())
    return Request(
        model=wire.model,
        messages=messages,
        system=system,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=wire.parallel_tool_calls,
        max_tokens=max_tokens,
        temperature=wire.temperature,
        top_p=wire.top_p,
        top_k=wire.top_k,
        stop=[s for s in stop if s],
        seed=wire.seed,
        stream=bool(wire.stream),
        include_usage=bool(wire.stream_options and wire.stream_options.include_usage),
        reasoning=Reasoning(effort=wire.reasoning_effort) if wire.reasoning_effort else None,
        response_format=_decode_format(wire.response_format, marks),
        user=wire.user or "",
        metadata=wire.metadata or {},
        extras=make_extras(extra, marks),
    )


def _decode_tools(
    wire: w.Body, body: dict[str, Any], marks: dict[str, Any]
) -> tuple[list[Tool], ToolChoice | None]:
    raw_tools: list[Any] = body.get("tools") or []  # a list whenever wire.tools is set
    tools = [
        _decode_tool(tool, raw_tools[i], f"tools[{i}]") for i, tool in enumerate(wire.tools or ())
    ]
    # Legacy `functions` are tools by another name.
    tools += [
        Tool(name=f.name, description=f.description or "", parameters=f.parameters or {})
        for f in wire.functions or ()
    ]
    choice = wire.tool_choice
    if choice is None:
        return tools, _legacy_choice(wire.function_call)
    if isinstance(choice, str):
        return tools, ToolChoice(mode=choice)
    if choice.type == "allowed_tools" and choice.allowed_tools is not None:
        allowed = choice.allowed_tools
        names = {_named(ref, "tool_choice.allowed_tools.tools") for ref in allowed.tools}
        # Other dialects see only the allowed tools; Chat gets the original list back.
        tools = [tool for tool in tools if tool.name in names]
        marks["allowed_tools"] = {
            "names": [tool.name for tool in tools],
            "tools": body["tools"],
            "tool_choice": body["tool_choice"],
        }
        return tools, ToolChoice(mode=allowed.mode)
    return tools, ToolChoice(mode="tool", name=_named(choice, "tool_choice"))


def _decode_tool(tool: w.ToolDef, raw: Any, path: str) -> Tool:
    extra = unknown_fields(raw, w.ToolDef)
    if tool.type == "function" and tool.function is not None:
        f = tool.function
        return Tool(
            name=f.name,
            description=f.description or "",
            parameters=f.parameters or {},
            strict=f.strict,
            extras=make_extras(extra),
        )
    if tool.type == "custom" and tool.custom is not None:
        custom = tool.custom
        marks: dict[str, Any] = {"custom": True}
        if custom.format is not None:
            marks["format"] = custom.format
        return Tool(
            name=custom.name,
            description=custom.description or "",
            parameters=_custom_schema(),
            extras=make_extras(extra, marks),
        )
    raise TranslationError(f"tools of type `{tool.type}` are not supported here", f"{path}.type")


def _named(choice: w.ToolChoiceObject, path: str) -> str:
    named = choice.custom if choice.type == "custom" else choice.function
    if choice.type not in ("function", "custom") or named is None:
        raise TranslationError(f"`{path}` names no function or custom tool", path)
    return named.name


def _legacy_choice(function_call: w.Mode | w.Named | None) -> ToolChoice | None:
    if function_call is None:
        return None
    if isinstance(function_call, w.Named):
        return ToolChoice(mode="tool", name=function_call.name)
    return ToolChoice(mode=function_call)


def _decode_format(
    response_format: w.ResponseFormat | None, marks: dict[str, Any]
) -> ResponseFormat | None:
    if response_format is None:
        return None
    if response_format.type != "json_schema":
        return ResponseFormat(type=response_format.type)
    schema = response_format.json_schema
    if schema is None:
        raise TranslationError(
            "a json_schema response_format needs `json_schema`", "response_format.json_schema"
        )
    if schema.description is not None:
        marks["schema_description"] = schema.description
    return ResponseFormat(
        type="json_schema", name=schema.name, schema=schema.schema, strict=schema.strict
    )


# ---- encoding ------------------------------------------------------------------------------


def encode_request(request: Request, model: str) -> dict[str, Any]:
    """The Chat Completions body for a canonical request, with `model` as the upstream name."""
    raw, marks = chat_extras(request.extras)
    options = raw.pop("stream_options", None)
    body: dict[str, Any] = {"model": model, "messages": encode_messages(request)}
    if request.tools:
        body["tools"] = [_encode_tool(tool) for tool in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = _encode_choice(request.tool_choice, request.tools)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
        allowed = marks.get("allowed_tools")
        if allowed and allowed.get("names") == [tool.name for tool in request.tools]:
            body["tools"], body["tool_choice"] = allowed["tools"], allowed["tool_choice"]
    if request.max_tokens is not None:
        # Generic compatible servers know `max_tokens`; the newer name when the client used it,
        # and whenever reasoning is asked for: reasoning models refuse `max_tokens` (§1.2).
        newer = marks.get("max_completion_tokens") or _effort(request.reasoning) not in (
            None,
            "none",
        )
        field = "max_completion_tokens" if newer else "max_tokens"
        body[field] = request.max_tokens
    for name in ("temperature", "top_p", "seed"):
        if (value := getattr(request, name)) is not None:
            body[name] = value
    if request.stop:
        body["stop"] = list(request.stop)
    if (effort := _effort(request.reasoning)) is not None:
        body["reasoning_effort"] = effort
    if request.response_format is not None:
        body["response_format"] = _encode_format(request.response_format, marks)
    if request.user:
        body["user"] = request.user
    if request.metadata:
        body["metadata"] = dict(request.metadata)
    body["stream"] = request.stream
    if request.stream:
        # The gateway always needs usage; the client-side encoder hides it when not asked for.
        body["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    return merged(body, raw)


def _encode_tool(tool: Tool) -> dict[str, Any]:
    raw, marks = chat_extras(tool.extras)
    if marks.get("custom"):
        custom: dict[str, Any] = {"name": tool.name}
        if tool.description:
            custom["description"] = tool.description
        if marks.get("format") is not None:
            custom["format"] = marks["format"]
        return merged({"type": "custom", "custom": custom}, raw)
    function: dict[str, Any] = {"name": tool.name}
    if tool.description:
        function["description"] = tool.description
    if tool.parameters:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return merged({"type": "function", "function": function}, raw)


def _encode_choice(choice: ToolChoice, tools: list[Tool]) -> str | dict[str, Any]:
    if choice.mode != "tool":
        return choice.mode
    custom = any(t.name == choice.name and chat_extras(t.extras)[1].get("custom") for t in tools)
    kind = "custom" if custom else "function"
    return {"type": kind, kind: {"name": choice.name}}


def _effort(reasoning: Reasoning | None) -> str | None:
    if reasoning is None:
        return None
    effort = reasoning.effort
    if not effort and reasoning.budget is not None:
        effort = level_for(reasoning.budget)
    if effort == "max":
        return "xhigh"  # the top level generic compatible servers accept
    return None if effort in ("", "auto") else effort


def _encode_format(response_format: ResponseFormat, marks: dict[str, Any]) -> dict[str, Any]:
    if response_format.type != "json_schema":
        return {"type": response_format.type}
    schema: dict[str, Any] = {
        "name": response_format.name or "response",  # OpenAI requires a name
        "schema": response_format.schema or {},
    }
    if "schema_description" in marks:
        schema["description"] = marks["schema_description"]
    if response_format.strict is not None:
        schema["strict"] = response_format.strict
    return {"type": "json_schema", "json_schema": schema}
