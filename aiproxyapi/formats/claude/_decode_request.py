"""An Anthropic Messages request body → the canonical request.

What the hub cannot model is kept in `Request.extras["claude"]`, a dict with these keys, each
present only when needed:

- `fields`: top-level body fields the hub has no field for (context_management, service_tier,
  container, mcp_servers, top-level cache_control, …), restored verbatim;
- `thinking`: the client's `thinking` object (its `type` says whether it was adaptive; fields
  such as `display` come back when thinking is encoded again);
- `output_config`: `output_config` without its `format` (an `effort` key there records that
  the client sent an effort, which is then re-emitted from the canonical reasoning);
- `metadata`: `metadata` without `user_id`;
- `server_tools`: `[index, tool]` pairs of server and Anthropic-defined tools (web_search, bash,
  …) that no other vendor can run;
- `output_format`: true when structured output came as the legacy top-level `output_format`.
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
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from aiproxyapi.formats.claude._blocks import decode_blocks
from aiproxyapi.formats.claude._fields import (
    at,
    extras_of,
    opt_bool,
    opt_dict,
    opt_int,
    opt_list,
    opt_num,
    opt_str,
    req_dict,
    req_str,
)
from aiproxyapi.formats.codec import TranslationError

__all__ = ["decode_request"]

_MODELED = frozenset(
    {
        "model",
        "messages",
        "system",
        "max_tokens",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "metadata",
        "tools",
        "tool_choice",
        "thinking",
        "output_config",
        "output_format",
    }
)
_TOOL = frozenset({"name", "description", "input_schema", "strict"})
_CHOICES: dict[str, Literal["auto", "none", "required", "tool"]] = {
    "auto": "auto",
    "any": "required",
    "tool": "tool",
    "none": "none",
}


def decode_request(body: dict[str, Any]) -> Request:
    """A Messages (or count_tokens) body as a canonical request; `max_tokens` may be absent."""
    body = req_dict(body, "body")
    claude: dict[str, Any] = {}
    request = Request(
        model=req_str(body, "model"),
        max_tokens=opt_int(body, "max_tokens"),
        temperature=opt_num(body, "temperature"),
        top_p=opt_num(body, "top_p"),
        top_k=opt_int(body, "top_k"),
        stream=opt_bool(body, "stream") or False,
        stop=_strings(body, "stop_sequences"),
    )
    if not request.model.strip():
        raise TranslationError("`model` must not be empty", "model")
    request.system = _system(body.get("system"), "system")
    _messages(body, request)
    _tools(body, request, claude)
    _metadata(body, request, claude)
    _output(body, request, claude)
    fields = {k: v for k, v in body.items() if k not in _MODELED}
    if fields:
        claude["fields"] = fields
    if claude:
        request.extras["claude"] = claude
    return request


def _strings(body: dict[str, Any], key: str) -> list[str]:
    values = opt_list(body, key) or []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise TranslationError(f"`{key}[{i}]` must be a string", f"{key}[{i}]")
    return values


def _system(value: Any, path: str) -> list[TextPart]:
    if value is None:
        return []
    parts, kept = decode_blocks(value, path)
    for i, part in enumerate(parts):
        if not isinstance(part, TextPart):
            raise TranslationError("system content must be text blocks", at(path, i))
    if kept:
        raise TranslationError("system content must be text blocks", at(path, kept[0][0]))
    # Anthropic refuses empty text blocks, so empty system text carries nothing worth keeping.
    return [part for part in parts if isinstance(part, TextPart) and part.text]


def _messages(body: dict[str, Any], request: Request) -> None:
    raw = opt_list(body, "messages")
    if raw is None:
        raise TranslationError("`messages` is required", "messages")
    names: dict[str, str] = {}
    for i, value in enumerate(raw):
        path = at("messages", i)
        message = req_dict(value, path)
        role = message.get("role")
        content = message.get("content")
        if role == "system":
            # Claude Code sends mid-conversation system turns; the hub has one system prompt.
            request.system += _system(content, at(path, "content"))
            continue
        if role not in ("user", "assistant"):
            raise TranslationError("`role` must be user, assistant or system", at(path, "role"))
        parts, kept = decode_blocks(content, at(path, "content"))
        own: dict[str, Any] = {}
        if kept:
            own["blocks"] = kept
        if fields := {k: v for k, v in message.items() if k not in ("role", "content")}:
            own["fields"] = fields
        for part in parts:
            if isinstance(part, ToolCallPart):
                names[part.id] = part.name
            elif isinstance(part, ToolResultPart) and not part.name:
                # Gemini needs the called tool's name on its result; Anthropic leaves it out.
                part.name = names.get(part.tool_call_id, "")
        extras = {"claude": own} if own else {}
        request.messages.append(Message(role=Role(role), parts=parts, extras=extras))


def _tools(body: dict[str, Any], request: Request, claude: dict[str, Any]) -> None:
    server: list[list[Any]] = []
    for i, value in enumerate(opt_list(body, "tools") or []):
        path = at("tools", i)
        tool = req_dict(value, path)
        if tool.get("type") not in (None, "custom"):
            server.append([i, tool])
            continue
        schema = opt_dict(tool, "input_schema", path)
        request.tools.append(
            Tool(
                name=req_str(tool, "name", path),
                description=opt_str(tool, "description", path) or "",
                parameters=schema if schema is not None else {},
                strict=opt_bool(tool, "strict", path),
                extras=extras_of(tool, _TOOL),
            )
        )
    if server:
        claude["server_tools"] = server
    choice = opt_dict(body, "tool_choice")
    if choice is None:
        return
    mode = _CHOICES.get(str(choice.get("type")))
    if mode is None:
        raise TranslationError("`tool_choice.type` must be auto, any, tool or none", "tool_choice")
    name = req_str(choice, "name", "tool_choice") if mode == "tool" else ""
    request.tool_choice = ToolChoice(mode=mode, name=name)
    disable = opt_bool(choice, "disable_parallel_tool_use", "tool_choice")
    if disable is not None:
        request.parallel_tool_calls = not disable


def _metadata(body: dict[str, Any], request: Request, claude: dict[str, Any]) -> None:
    metadata = opt_dict(body, "metadata")
    if metadata is None:
        return
    request.user = opt_str(metadata, "user_id", "metadata") or ""
    rest = {k: v for k, v in metadata.items() if k != "user_id"}
    if rest:
        claude["metadata"] = rest


def _output(body: dict[str, Any], request: Request, claude: dict[str, Any]) -> None:
    config = opt_dict(body, "output_config") or {}
    effort = opt_str(config, "effort", "output_config") or ""
    thinking = opt_dict(body, "thinking")
    request.reasoning = _reasoning(thinking, effort)
    if thinking is not None:
        claude["thinking"] = thinking
    rest = {k: v for k, v in config.items() if k != "format"}
    if rest:
        claude["output_config"] = rest
    legacy = opt_dict(body, "output_format")
    shape = opt_dict(config, "format", "output_config") or legacy
    if legacy is not None and "format" not in config:
        claude["output_format"] = True
    if shape is not None:
        if shape.get("type") != "json_schema":
            raise TranslationError("the output format must be json_schema", "output_config.format")
        schema = opt_dict(shape, "schema", "output_config.format")
        request.response_format = ResponseFormat(type="json_schema", schema=schema)


def _reasoning(thinking: dict[str, Any] | None, effort: str) -> Reasoning | None:
    if thinking is None:
        return Reasoning(effort=effort) if effort else None
    kind = thinking.get("type")
    if kind == "enabled":
        budget = opt_int(thinking, "budget_tokens", "thinking")
        if budget is None:
            raise TranslationError("`thinking.budget_tokens` is required", "thinking.budget_tokens")
        return Reasoning(effort=effort, budget=budget)
    if kind == "adaptive":
        return Reasoning(effort=effort or "auto")
    if kind == "disabled":
        return Reasoning(effort=effort or "none", budget=0)
    raise TranslationError("`thinking.type` must be enabled, adaptive or disabled", "thinking.type")
