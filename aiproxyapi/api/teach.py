"""Errors that teach: a refused request learns the field at fault, its type and a valid example.

Every 400 about the request's own shape goes through :func:`teach` on its way to the client,
which names the field path (in the dialect's own style: `messages[0].content` for OpenAI,
`messages.0.content` for Anthropic, a `BadRequest` field violation for Gemini), the type the
field takes and a minimal valid request for the route that was called. :func:`check_body`
checks the top-level fields whose type is plain, for the routes that have no stricter decoder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiproxyapi.errors import ClientRequestError
from aiproxyapi.formats import Format

__all__ = ["check_body", "teach"]

_INDEX = re.compile(r"\[\d+\]")

_CHAT = '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}'
_RESPONSES = '{"model": "gpt-4o-mini", "input": "Hello"}'
_MESSAGES = (
    '{"model": "claude-sonnet-4-5", "max_tokens": 1024, '
    '"messages": [{"role": "user", "content": "Hello"}]}'
)
_COUNT = '{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "Hello"}]}'
_GEMINI = '{"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}'
_COMPLETIONS = '{"model": "gpt-3.5-turbo-instruct", "prompt": "Hello"}'
_EMBEDDINGS = '{"model": "text-embedding-3-small", "input": "Hello"}'

# Route prefix -> the minimal valid body of that route; the first match wins.
_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("/v1/chat/completions", _CHAT),
    ("/v1/completions", _COMPLETIONS),
    ("/v1/embeddings", _EMBEDDINGS),
    ("/v1/responses", _RESPONSES),
    ("/v1/messages/count_tokens", _COUNT),
    ("/v1/messages", _MESSAGES),
    ("/v1beta", _GEMINI),
)

_STRING = "a string"
_TEXT_OR_PARTS = "a string or an array of content parts"
_TYPES: dict[str, str] = {
    "model": "a non-empty string (a model name from GET /v1/models)",
    "messages": "an array of message objects",
    "messages[]": "a message object with `role` and `content`",
    "messages[].role": 'one of "system", "developer", "user", "assistant", "tool"',
    "messages[].content": _TEXT_OR_PARTS,
    "messages[].tool_calls": "an array of tool call objects",
    "messages[].tool_call_id": "a string (the id of the tool call answered)",
    "messages[].content[]": 'a content part object such as {"type": "text", "text": "Hello"}',
    "messages[].content[].type": "a string naming the part type",
    "messages[].content[].text": "a string",
    "tools[]": "a tool object",
    "tools[].function": "an object with `name` and `parameters`",
    "tools[].function.name": "a string",
    "response_format": "an object",
    "input[]": "an input item object",
    "contents[].parts[]": 'a Part object such as {"text": "Hello"}',
    "contents[].parts[].text": "a string",
    "stream": "a boolean",
    "stream_options": "an object",
    "max_tokens": "an integer",
    "max_completion_tokens": "an integer",
    "max_output_tokens": "an integer",
    "temperature": "a number",
    "top_p": "a number",
    "n": "an integer",
    "stop": "a string or an array of strings",
    "tools": "an array of tool objects",
    "tool_choice": 'a string ("auto", "none", "required") or an object',
    "system": "a string or an array of text blocks",
    "metadata": "an object",
    "input": "a string or an array of input items",
    "instructions": _STRING,
    "prompt": "a string or an array of strings",
    "contents": "an array of Content objects",
    "contents[]": "a Content object with `role` and `parts`",
    "contents[].role": '"user" or "model"',
    "contents[].parts": 'an array of Part objects such as {"text": "Hello"}',
    "systemInstruction": "a Content object",
    "generationConfig": "an object",
    "safetySettings": "an array of objects",
}

Check = Callable[[Any], bool]


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_model(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def _is_text_or_list(value: Any) -> bool:
    return isinstance(value, str | list)


# (field, check, required) per route kind; only fields whose type is unambiguous in the API.
_FIELDS: dict[str, tuple[tuple[str, Check, bool], ...]] = {
    "messages": (
        ("model", _is_model, True),
        ("messages", _is_list, True),
        ("max_tokens", _is_int, False),
        ("system", _is_text_or_list, False),
        ("stream", _is_bool, False),
        ("temperature", _is_number, False),
        ("top_p", _is_number, False),
        ("tools", _is_list, False),
        ("metadata", _is_dict, False),
    ),
    "responses": (
        ("model", _is_model, True),
        ("input", _is_text_or_list, True),
        ("instructions", _is_str, False),
        ("stream", _is_bool, False),
        ("max_output_tokens", _is_int, False),
        ("temperature", _is_number, False),
        ("top_p", _is_number, False),
        ("tools", _is_list, False),
    ),
    "gemini": (
        ("contents", _is_list, True),
        ("systemInstruction", _is_dict, False),
        ("generationConfig", _is_dict, False),
        ("safetySettings", _is_list, False),
        ("tools", _is_list, False),
    ),
}


def check_body(kind: str, body: dict[str, Any]) -> None:
    """Refuse a body whose top-level fields have the wrong type (or a required one missing)."""
    for name, check, required in _FIELDS[kind]:
        if name not in body:
            if required:
                raise ClientRequestError(f"`{name}` is required", param=name)
            continue
        if not check(body[name]):
            raise ClientRequestError(f"`{name}` has the wrong type", param=name)


def _expected(param: str | None) -> str:
    if param is None:
        return "the request body: a JSON object"
    shape = _INDEX.sub("[]", param)
    if shape in _TYPES:
        return f"`{param}`: {_TYPES[shape]}"
    return ""


def _anthropic_path(param: str) -> str:
    return re.sub(r"\[(\d+)\]", r".\1", param)


def teach(error: ClientRequestError, path: str, dialect: Format) -> ClientRequestError:
    """The same error, its message naming the field, the expected type and a valid request."""
    example = next((body for prefix, body in _EXAMPLES if path.startswith(prefix)), None)
    if example is None:
        return error
    message = error.message.rstrip(".")
    if dialect is Format.CLAUDE and error.param:
        message = f"{_anthropic_path(error.param)}: {message}"
    expected = _expected(error.param)
    parts = [message]
    if expected:
        parts.append(f"Expected {expected}")
    parts.append(f"A minimal valid request: {example}")
    return ClientRequestError(
        ". ".join(parts),
        status=error.status,
        code=error.code,
        kind=error.kind,
        param=error.param,
        headers=error.headers,
    )
