"""Responses request bodies into the canonical request (wire-formats §2.1, §2.2).

What the hub has no field for lands in `extras["openai-responses"]`: "fields" (unknown top-level
keys such as store, include, prompt_cache_key, previous_response_id), "tools" (non-function
tools with their positions), "tool_choice" (a choice the hub cannot express), "reasoning" and
"text" leftovers, "input_tail" (verbatim items after the last turn) and "forced" (a tool_choice
that forces a tool only Responses has; see `portability_error`).
"""

from __future__ import annotations

from typing import Any, Literal

from aiproxyapi.canonical import (
    Message,
    Reasoning,
    Request,
    ResponseFormat,
    Role,
    TextPart,
    Tool,
    ToolChoice,
)
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_responses._common import own, rest, sub, tagged
from aiproxyapi.formats.openai_responses._input_decode import InputReader

__all__ = ["decode_request", "portability_error"]

_KNOWN = frozenset(
    {
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
        "max_output_tokens", "temperature", "top_p", "reasoning", "text", "stream",
        "metadata", "user",
    }
)  # fmt: skip
_TOOL_KEYS = frozenset({"type", "name", "description", "parameters", "strict"})
_SERVER_STATE = ("previous_response_id", "conversation")
_MODES: dict[str, Literal["auto", "none", "required"]] = {
    "auto": "auto",
    "none": "none",
    "required": "required",
}


def _number(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranslationError(f"`{key}` must be a number", key)
    return float(value)


def _integer(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise TranslationError(f"`{key}` must be an integer", key)
    return value


def _boolean(body: dict[str, Any], key: str) -> bool | None:
    value = body.get(key)
    if value is not None and not isinstance(value, bool):
        raise TranslationError(f"`{key}` must be a boolean", key)
    return value


def decode_request(body: dict[str, Any]) -> Request:
    """A client's Responses body as a canonical request."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise TranslationError("`model` is required and must be a non-empty string", "model")
    extras: dict[str, Any] = {}
    reader = InputReader()
    source = body.get("input")
    if isinstance(source, str):
        reader.messages.append(Message(role=Role.USER, parts=[TextPart(text=source)]))
    elif isinstance(source, list):
        reader.read(source)
    elif source is not None:
        raise TranslationError("`input` must be a string or an array of items", "input")
    system: list[TextPart] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        system.append(TextPart(text=instructions))
    elif instructions == "":
        extras["instructions"] = ""
    elif instructions is not None:
        raise TranslationError("`instructions` must be a string", "instructions")
    tools, extras["tools"] = _decode_tools(body.get("tools"))
    tool_choice = _decode_tool_choice(body.get("tool_choice"), extras)
    reasoning, extras["reasoning"] = _decode_reasoning(body.get("reasoning"))
    response_format, extras["text"] = _decode_text(body.get("text"))
    metadata = body.get("metadata")
    user = body.get("user")
    extras["fields"] = rest(body, _KNOWN)
    extras["input_tail"] = reader.pending
    return Request(
        model=model,
        messages=reader.messages,
        system=system + reader.system,
        tools=tools,
        tool_choice=tool_choice,
        parallel_tool_calls=_boolean(body, "parallel_tool_calls"),
        max_tokens=_integer(body, "max_output_tokens"),
        temperature=_number(body, "temperature"),
        top_p=_number(body, "top_p"),
        stream=bool(_boolean(body, "stream")),
        reasoning=reasoning,
        response_format=response_format,
        user=user if isinstance(user, str) else "",
        metadata=metadata if isinstance(metadata, dict) else {},
        extras=tagged({key: value for key, value in extras.items() if value or value == ""}),
    )


def _decode_tools(tools: Any) -> tuple[list[Tool], list[dict[str, Any]]]:
    if tools is None:
        return [], []
    if not isinstance(tools, list):
        raise TranslationError("`tools` must be an array", "tools")
    functions: list[Tool] = []
    others: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise TranslationError("each tool must be an object with a `type`", f"tools[{i}]")
        if tool["type"] != "function":
            others.append({"at": i, "tool": tool})
            continue
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            raise TranslationError("a function tool needs a `name`", f"tools[{i}].name")
        parameters = tool.get("parameters")
        strict = tool.get("strict")
        functions.append(
            Tool(
                name=name,
                description=tool.get("description") or "",
                parameters=parameters if isinstance(parameters, dict) else {},
                strict=strict if isinstance(strict, bool) else None,
                extras=tagged(rest(tool, _TOOL_KEYS)),
            )
        )
    return functions, others


def _decode_tool_choice(choice: Any, extras: dict[str, Any]) -> ToolChoice | None:
    if choice is None:
        return None
    if isinstance(choice, str) and choice in _MODES:
        return ToolChoice(mode=_MODES[choice])
    if not isinstance(choice, dict) or not isinstance(choice.get("type"), str):
        raise TranslationError("`tool_choice` is not a valid choice", "tool_choice")
    kind = choice["type"]
    if kind == "function" and isinstance(choice.get("name"), str):
        return ToolChoice(mode="tool", name=choice["name"])
    extras["tool_choice"] = choice
    if kind == "allowed_tools":
        required = choice.get("mode") == "required"
        allowed = [t for t in choice.get("tools") or [] if isinstance(t, dict)]
        names = [t.get("name") for t in allowed if t.get("type") == "function"]
        if required and allowed and not names:
            extras["forced"] = allowed[0].get("name") or allowed[0].get("type")
        elif required and len(allowed) == 1 and isinstance(names[0], str):
            return ToolChoice(mode="tool", name=names[0])
        return ToolChoice(mode="required" if required else "auto")
    # custom, mcp or a hosted tool: only a Responses upstream knows what to force.
    name = choice.get("name") or choice.get("server_label") or kind
    extras["forced"] = name
    return ToolChoice(mode="tool", name=str(name))


def _decode_reasoning(value: Any) -> tuple[Reasoning | None, dict[str, Any]]:
    if value is None:
        return None, {}
    if not isinstance(value, dict):
        raise TranslationError("`reasoning` must be an object", "reasoning")
    effort = value.get("effort")
    summary = value.get("summary") or value.get("generate_summary")
    # The summary stays in the leftovers too: a model-name thinking suffix replaces the whole
    # canonical reasoning, and the client's summary wish must survive that.
    leftover = rest(value, frozenset({"effort"}))
    return (
        Reasoning(
            effort=effort if isinstance(effort, str) else "",
            summary=summary if isinstance(summary, str) else "",
        ),
        leftover,
    )


def _decode_text(value: Any) -> tuple[ResponseFormat | None, dict[str, Any]]:
    if value is None:
        return None, {}
    if not isinstance(value, dict):
        raise TranslationError("`text` must be an object", "text")
    leftover = rest(value, frozenset({"format"}))
    fmt = value.get("format")
    if fmt is None:
        return None, leftover
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise TranslationError("`text.format.type` is not supported", "text.format.type")
    assert isinstance(fmt, dict)
    extra_format = rest(fmt, frozenset({"type", "name", "schema", "strict"}))
    if extra_format:
        leftover["format"] = extra_format
    schema, strict = fmt.get("schema"), fmt.get("strict")
    return (
        ResponseFormat(
            type=kind,
            name=fmt.get("name") or "",
            schema=schema if isinstance(schema, dict) else None,
            strict=strict if isinstance(strict, bool) else None,
        ),
        leftover,
    )


def portability_error(request: Request) -> TranslationError | None:
    """Why a request decoded from Responses cannot be sent in another dialect, if it cannot.

    The codec cannot know the target when it decodes; the relay calls this before it encodes a
    Responses client's request for a non-Responses upstream.
    """
    mine = own(request.extras)
    fields = sub(mine, "fields")
    for name in _SERVER_STATE:
        if fields.get(name) is not None:
            return TranslationError(
                f"`{name}` needs the OpenAI Responses service itself; "
                "the model you asked for is served by another provider",
                name,
            )
    if "forced" in mine:
        return TranslationError(
            f"`tool_choice` forces the tool `{mine['forced']}`, which only the OpenAI Responses "
            "API provides; the model you asked for is served by another provider",
            "tool_choice",
        )
    return None
