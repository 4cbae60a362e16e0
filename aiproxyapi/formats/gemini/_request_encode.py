"""The canonical request as a Gemini `generateContent` body (wire-formats §5.2, §9.2-§9.4).

The model travels in the URL, so the body has none. Turns of the same role merge, tool results
become functionResponse parts named after their call, a trailing model turn is dropped, tool
names are made Gemini-safe (`_common.gemini_name`; the answer decoders map them back), and
thinking becomes a level on Gemini 3 and a budget before it. The fragment the decoder kept in
`extras["gemini"]` is laid over the result last.
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import Message, Reasoning, Request, Role, Tool, ToolChoice
from aiproxyapi.canonical.thinking import budget_for
from aiproxyapi.formats.gemini._common import SKIP_SIGNATURE, gemini_name, level_model, own
from aiproxyapi.formats.gemini._part_encode import PartWriter, lay
from aiproxyapi.formats.gemini._schema import clean_schema

__all__ = [
    "encode_contents",
    "encode_request",
    "encode_tools",
    "system_instruction",
    "thinking_config",
]

_LEVELS = {"minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}
_PRO_LEVELS = {"minimal": "low", "medium": "high"}  # Gemini 3 Pro knows only LOW and HIGH
_CHOICES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "tool": "ANY"}


def encode_request(request: Request, model: str) -> dict[str, Any]:
    """The Gemini body for a canonical request, `model` being the upstream model."""
    body: dict[str, Any] = {"contents": encode_contents(request.messages, model)}
    if system := system_instruction(request):
        body["systemInstruction"] = system
    if request.tools:
        body["tools"] = encode_tools(request.tools)
        if request.tool_choice is not None:
            body["toolConfig"] = {"functionCallingConfig": _choice(request.tool_choice)}
    if generation := _generation(request, model):
        body["generationConfig"] = generation
    return _overlay(body, own(request.extras))


def encode_contents(messages: list[Message], model: str) -> list[dict[str, Any]]:
    """`contents`: user/model turns, same-role neighbours merged, no trailing model turn."""
    writer = PartWriter(answer=False)
    contents: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        role = "model" if message.role is Role.ASSISTANT else "user"
        parts = writer.parts(message.parts, f"messages[{i}]")
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"] += parts
        else:
            contents.append({"role": role, "parts": parts})
    if len(contents) > 1 and contents[-1]["role"] == "model":
        contents.pop()  # an assistant prefill Gemini would not continue
    if level_model(model):
        for content in contents:
            if content["role"] == "model":
                _sign_first_call(content["parts"])
    return contents


def _sign_first_call(parts: list[dict[str, Any]]) -> None:
    # Gemini 3 refuses a history whose function-call step lacks a signature (§5.2); calls that
    # another vendor made get the documented placeholder.
    calls = [part for part in parts if "functionCall" in part]
    if calls and not any("thoughtSignature" in part for part in calls):
        calls[0]["thoughtSignature"] = SKIP_SIGNATURE


def system_instruction(request: Request) -> dict[str, Any] | None:
    """`systemInstruction` for the system text, or None."""
    parts = [{"text": part.text} for part in request.system if part.text]
    return {"parts": parts} if parts else None


def encode_tools(tools: list[Tool]) -> list[dict[str, Any]]:
    """`tools`: one entry holding every function declaration."""
    declarations = []
    for tool in tools:
        declaration: dict[str, Any] = {"name": gemini_name(tool.name)}
        if tool.description:
            declaration["description"] = tool.description
        fragment = own(tool.extras)
        if tool.parameters and "parameters" not in fragment:
            declaration["parametersJsonSchema"] = clean_schema(tool.parameters)
        declarations.append(declaration | fragment)
    return [{"functionDeclarations": declarations}]


def _choice(choice: ToolChoice) -> dict[str, Any]:
    config: dict[str, Any] = {"mode": _CHOICES[choice.mode]}
    if choice.mode == "tool":
        config["allowedFunctionNames"] = [gemini_name(choice.name)]
    return config


def _generation(request: Request, model: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, value in (
        ("maxOutputTokens", request.max_tokens),
        ("temperature", request.temperature),
        ("topP", request.top_p),
        ("topK", request.top_k),
        ("stopSequences", request.stop or None),
        ("seed", request.seed),
    ):
        if value is not None:
            config[key] = value
    found = request.response_format
    if found is not None and found.type != "text":
        config["responseMimeType"] = "application/json"
        if found.type == "json_schema" and found.schema:
            config["responseJsonSchema"] = clean_schema(found.schema)
    if request.reasoning is not None and (thinking := thinking_config(request.reasoning, model)):
        config["thinkingConfig"] = thinking
    return config


def thinking_config(reasoning: Reasoning, model: str) -> dict[str, Any]:
    """`thinkingConfig` (§9.4): a level on Gemini 3, else a budget; `none` is a zero budget."""
    effort, budget = reasoning.effort, reasoning.budget
    if effort == "none" or (not effort and budget == 0):
        config: dict[str, Any] = {"thinkingBudget": 0}
        return config | ({"includeThoughts": True} if reasoning.include_thoughts else {})
    config = {}
    if effort and level_model(model):
        if effort != "auto":  # no level is Gemini 3's own dynamic default
            level = _PRO_LEVELS.get(effort, effort) if "pro" in model.lower() else effort
            config["thinkingLevel"] = _LEVELS.get(level, "HIGH")
    elif budget is not None:
        config["thinkingBudget"] = budget
    elif effort:
        config["thinkingBudget"] = budget_for(effort)
    thinking_on = bool(effort or budget is not None)
    include = reasoning.include_thoughts
    if include if include is not None else thinking_on:
        config["includeThoughts"] = True
    return config


def _overlay(body: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    for key, value in fragment.items():
        current = body.get(key)
        if key == "tools" and isinstance(value, list):
            body[key] = [*(current or []), *value]
        elif key == "generationConfig" and isinstance(value, dict):
            body[key] = _generation_overlay(current or {}, value)
        elif key == "toolConfig" and isinstance(value, dict):
            body[key] = lay(dict(current or {}), value)
        else:
            body[key] = value
    return body


def _generation_overlay(config: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    lay(config, fragment)
    if "responseSchema" in fragment:
        # The client's own OpenAPI schema wins over the JSON Schema derived from it (Gemini
        # takes only one of the two).
        config.pop("responseJsonSchema", None)
    return config
