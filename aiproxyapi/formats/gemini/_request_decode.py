"""Gemini `generateContent` bodies into the canonical request (wire-formats §5.2).

What the hub has no field for lands in `extras["gemini"]` as a fragment of a Gemini body, laid
over the encoded body when the request goes back to Gemini: unknown top-level fields
(safetySettings, cachedContent, labels...), unknown `generationConfig` / `thinkingConfig` /
`toolConfig` fields, built-in tools (googleSearch, codeExecution, urlContext...) under "tools",
and what the hub cannot express exactly (a VALIDATED calling mode, several allowed functions, an
OpenAPI `responseSchema`, a non-JSON response type).
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
from aiproxyapi.formats.gemini._common import at, list_at, obj_at, pick, rest, tagged, text_of
from aiproxyapi.formats.gemini._part_decode import CallBook, decode_part
from aiproxyapi.formats.gemini._schema import from_openapi

__all__ = ["decode_request"]

_KNOWN = frozenset(
    {"model", "contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}
)
_GENERATION = frozenset(
    {
        "maxOutputTokens", "temperature", "topP", "topK", "stopSequences", "seed",
        "responseMimeType", "responseSchema", "responseJsonSchema", "thinkingConfig",
    }
)  # fmt: skip
_THINKING = frozenset({"thinkingBudget", "thinkingLevel", "includeThoughts"})
_DECLARATION = frozenset({"name", "description", "parameters", "parametersJsonSchema"})
_MODES: dict[str, Literal["auto", "none", "required"]] = {
    "AUTO": "auto", "NONE": "none", "ANY": "required", "VALIDATED": "auto",
}  # fmt: skip
_ROLES = {"user": Role.USER, "function": Role.USER, "model": Role.ASSISTANT}


def decode_request(body: dict[str, Any]) -> Request:
    """A Gemini body (or a Code Assist envelope) as a canonical request.

    The model comes from an optional "model" key, which the relay injects from the URL.
    """
    if not isinstance(body, dict):
        raise TranslationError("the request body must be a JSON object")
    if "contents" not in body and isinstance(body.get("request"), dict):
        # A Code Assist envelope (§6.2): the body is inside; project and prompt id are the
        # upstream executor's business, not the request's.
        body = {"model": body.get("model"), **body["request"]}
    model = body.get("model")
    keep = rest(body, _KNOWN)
    generation = obj_at(body, "generationConfig", "")
    leftover = rest(generation, _GENERATION)
    thinking = obj_at(generation, "thinkingConfig", "generationConfig")
    if extra_thinking := rest(thinking, _THINKING):
        leftover["thinkingConfig"] = extra_thinking
    tools, builtin = _tools(list_at(body, "tools", ""))
    if builtin:
        keep["tools"] = builtin
    tool_choice, extra_config = _tool_config(obj_at(body, "toolConfig", ""))
    if extra_config:
        keep["toolConfig"] = extra_config
    response_format = _response_format(generation, leftover)
    if leftover:
        keep["generationConfig"] = leftover
    return Request(
        model=model.removeprefix("models/") if isinstance(model, str) else "",
        messages=_messages(body),
        system=_system(pick(body, "systemInstruction")),
        tools=tools,
        tool_choice=tool_choice,
        max_tokens=_integer(generation, "maxOutputTokens"),
        temperature=_number(generation, "temperature"),
        top_p=_number(generation, "topP"),
        top_k=_integer(generation, "topK"),
        stop=_strings(generation, "stopSequences"),
        seed=_integer(generation, "seed"),
        reasoning=_reasoning(thinking) if thinking else None,
        response_format=response_format,
        extras=tagged(keep),
    )


def _messages(body: dict[str, Any]) -> list[Message]:
    contents = pick(body, "contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list) or not contents:
        raise TranslationError("`contents` is required and must be a non-empty array", "contents")
    book = CallBook()
    messages: list[Message] = []
    for i, content in enumerate(contents):
        path = f"contents[{i}]"
        if not isinstance(content, dict):
            raise TranslationError(f"`{path}` must be an object", path)
        named = content.get("role") or "user"
        role = _ROLES.get(named) if isinstance(named, str) else None
        if role is None:
            raise TranslationError("a turn's role must be user or model", at(path, "role"))
        parts = [
            part
            for j, raw in enumerate(list_at(content, "parts", path))
            if (part := decode_part(raw, f"{path}.parts[{j}]", role, book)) is not None
        ]
        if parts:
            messages.append(Message(role=role, parts=parts))
    return messages


def _system(value: Any) -> list[TextPart]:
    # Clients send a Content, a bare list of parts, or (some of them) a plain string.
    if value is None:
        return []
    if isinstance(value, str):
        return [TextPart(text=value)] if value else []
    parts = value.get("parts") if isinstance(value, dict) else value
    if not isinstance(parts, list):
        raise TranslationError("`systemInstruction` must be a Content", "systemInstruction")
    out: list[TextPart] = []
    for j, part in enumerate(parts):
        text = part.get("text") if isinstance(part, dict) else part
        if not isinstance(text, str):
            path = f"systemInstruction.parts[{j}]"
            raise TranslationError("system instructions can only hold text parts", path)
        if text:
            out.append(TextPart(text=text))
    return out


def _tools(entries: list[Any]) -> tuple[list[Tool], list[dict[str, Any]]]:
    tools: list[Tool] = []
    builtin: list[dict[str, Any]] = []
    for i, entry in enumerate(entries):
        path = f"tools[{i}]"
        if not isinstance(entry, dict):
            raise TranslationError(f"`{path}` must be an object", path)
        for j, declaration in enumerate(list_at(entry, "functionDeclarations", path)):
            tools.append(_declaration(declaration, f"{path}.functionDeclarations[{j}]"))
        if other := rest(entry, frozenset({"functionDeclarations"})):
            builtin.append(other)
    return tools, builtin


def _declaration(declaration: Any, path: str) -> Tool:
    if not isinstance(declaration, dict):
        raise TranslationError(f"`{path}` must be an object", path)
    name = declaration.get("name")
    if not isinstance(name, str) or not name:
        raise TranslationError(f"`{at(path, 'name')}` is required", at(path, "name"))
    keep = rest(declaration, _DECLARATION)
    schema = pick(declaration, "parametersJsonSchema")
    if schema is None and (openapi := declaration.get("parameters")) is not None:
        schema = from_openapi(openapi)
        keep["parameters"] = openapi  # Gemini gets back exactly what the client wrote
    if schema is not None and not isinstance(schema, dict):
        raise TranslationError(
            f"`{at(path, 'parameters')}` must be an object", at(path, "parameters")
        )
    return Tool(
        name=name,
        description=text_of(declaration.get("description")),
        parameters=schema or {},
        extras=tagged(keep),
    )


def _tool_config(config: dict[str, Any]) -> tuple[ToolChoice | None, dict[str, Any]]:
    keep = rest(config, frozenset({"functionCallingConfig"}))
    calling = obj_at(config, "functionCallingConfig", "toolConfig")
    if not calling:
        return None, keep
    mode = text_of(calling.get("mode")).upper()
    names = pick(calling, "allowedFunctionNames")
    names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    extra = rest(calling, frozenset({"mode", "allowedFunctionNames"}))
    if mode == "ANY" and len(names) == 1:
        choice = ToolChoice(mode="tool", name=names[0])
    else:
        choice = ToolChoice(mode=_MODES.get(mode, "auto"))
        if mode == "VALIDATED" or names:
            extra |= {"mode": mode, "allowedFunctionNames": names} if names else {"mode": mode}
    if extra:
        keep["functionCallingConfig"] = extra
    return choice, keep


def _response_format(generation: dict[str, Any], leftover: dict[str, Any]) -> ResponseFormat | None:
    mime = text_of(pick(generation, "responseMimeType"))
    json_schema = pick(generation, "responseJsonSchema")
    openapi = pick(generation, "responseSchema")
    if mime != "application/json":
        # text/x.enum and friends: only Gemini understands them; keep them for Gemini.
        for key, value in (
            ("responseMimeType", mime or None),
            ("responseSchema", openapi),
            ("responseJsonSchema", json_schema),
        ):
            if value is not None:
                leftover[key] = value
        return None
    if isinstance(json_schema, dict):
        return ResponseFormat(type="json_schema", schema=json_schema)
    if isinstance(openapi, dict):
        leftover["responseSchema"] = openapi
        return ResponseFormat(type="json_schema", schema=from_openapi(openapi))
    return ResponseFormat(type="json_object")


def _reasoning(thinking: dict[str, Any]) -> Reasoning:
    level = text_of(pick(thinking, "thinkingLevel")).lower()
    return Reasoning(
        effort="" if level in ("", "thinking_level_unspecified") else level,
        budget=_integer(thinking, "thinkingBudget", "generationConfig.thinkingConfig"),
        include_thoughts=pick(thinking, "includeThoughts") is True,
    )


def _number(obj: dict[str, Any], name: str) -> float | None:
    value = pick(obj, name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        path = f"generationConfig.{name}"
        raise TranslationError(f"`{path}` must be a number", path)
    return float(value)


def _integer(obj: dict[str, Any], name: str, where: str = "generationConfig") -> int | None:
    value = pick(obj, name)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TranslationError(f"`{where}.{name}` must be an integer", f"{where}.{name}")
    return value


def _strings(obj: dict[str, Any], name: str) -> list[str]:
    value = pick(obj, name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        path = f"generationConfig.{name}"
        raise TranslationError(f"`{path}` must be an array of strings", path)
    return list(value)
