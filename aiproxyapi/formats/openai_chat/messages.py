"""Chat `messages` ↔ the canonical system prompt and turns.

Decoding hoists every system/developer message into `Request.system` in order, turns `tool` (and
legacy `function`) messages into tool results inside a user turn (consecutive ones share one
turn), and keeps `reasoning_content` as thinking. Encoding writes one system message first, then
the turns; a user turn's tool results become one `tool` message each.
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import (
    DocumentPart,
    ImagePart,
    Message,
    Part,
    Request,
    Role,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from aiproxyapi.formats.openai_chat import _wire as w
from aiproxyapi.formats.openai_chat._common import (
    DIALECT,
    chat_extras,
    make_extras,
    merged,
    unknown_fields,
)
from aiproxyapi.formats.openai_chat.content import (
    decode_part,
    decode_tool_call,
    encode_part,
    encode_tool_call,
    simplify,
)

__all__ = ["decode_messages", "encode_messages"]


def decode_messages(
    wire: list[w.ChatMessage], raw: list[Any]
) -> tuple[list[TextPart], list[Message]]:
    """The system prompt and the turns of a Chat `messages` array."""
    reader = _Reader()
    for index, message in enumerate(wire):
        reader.read(message, raw[index], index)
    return reader.system, reader.messages


class _Reader:
    """Walks the messages once, remembering tool names by call id for the results."""

    def __init__(self) -> None:
        self.system: list[TextPart] = []
        self.messages: list[Message] = []
        self._names: dict[str, str] = {}
        self._legacy_ids: dict[str, str] = {}
        self._tool_turn: Message | None = None

    def read(self, message: w.ChatMessage, raw: Any, index: int) -> None:
        path = f"messages[{index}]"
        if isinstance(message, (w.ToolMessage, w.FunctionMessage)):
            self._result(message, raw, path)
            return
        if isinstance(message, w.System):
            self._system(message, raw, path)  # hoisted: tool results around it stay one turn
            return
        self._tool_turn = None
        if isinstance(message, w.User):
            parts = self._content(message.content, raw, path)
            extras = make_extras(unknown_fields(raw, w.User, "role"))
            self.messages.append(Message(role=Role.USER, parts=parts, extras=extras))
        else:
            self.messages.append(self._assistant(message, raw, index))

    def _system(self, message: w.System, raw: Any, path: str) -> None:
        parts = [p for p in self._content(message.content, raw, path) if isinstance(p, TextPart)]
        parts = [p for p in parts if p.text]
        if not parts:
            return
        marks: dict[str, Any] = {}
        if isinstance(message, w.Developer):
            marks["role"] = "developer"
        if extra := unknown_fields(raw, w.System, "role"):
            marks["message"] = extra
        if marks:
            raw_fields, _ = chat_extras(parts[0].extras)
            parts[0].extras = make_extras(raw_fields, marks)
        self.system.extend(parts)

    def _content(self, content: str | list[Any], raw: Any, path: str) -> list[Part]:
        if isinstance(content, str):
            return [TextPart(text=content)]
        raw_parts = raw.get("content") if isinstance(raw, dict) else None
        return [
            decode_part(part, _at(raw_parts, j), f"{path}.content[{j}]")
            for j, part in enumerate(content)
        ]

    def _assistant(self, message: w.Assistant, raw: Any, index: int) -> Message:
        path = f"messages[{index}]"
        parts: list[Part] = []
        extra = unknown_fields(raw, w.Assistant, "role")
        reasoning, marks = message.reasoning_content, {}
        if reasoning is None and isinstance(extra.get("reasoning"), str):
            # OpenRouter-style upstreams name the field `reasoning`.
            reasoning, marks = extra.pop("reasoning"), {"field": "reasoning"}
        if reasoning:
            parts.append(
                ThinkingPart(
                    text=reasoning, signature_source=DIALECT, extras=make_extras({}, marks)
                )
            )
        if message.content:
            parts += [p for p in self._content(message.content, raw, path) if _has_text(p)]
        if message.refusal:
            parts.append(TextPart(text=message.refusal, extras=make_extras({}, {"refusal": True})))
        raw_calls = raw.get("tool_calls") if isinstance(raw, dict) else None
        for k, call in enumerate(message.tool_calls or ()):
            at = f"{path}.tool_calls[{k}]"
            part = decode_tool_call(call, _at(raw_calls, k), at, f"call_{index}_{k}")
            self._names[part.id] = part.name
            parts.append(part)
        if message.function_call is not None:
            legacy = w.ToolCall(id=f"call_legacy_{index}", function=message.function_call)
            part = decode_tool_call(legacy, None, f"{path}.function_call", legacy.id)
            self._legacy_ids[part.name] = part.id
            self._names[part.id] = part.name
            parts.append(part)
        return Message(role=Role.ASSISTANT, parts=parts, extras=make_extras(extra))

    def _result(self, message: w.ToolMessage | w.FunctionMessage, raw: Any, path: str) -> None:
        content = message.content
        if isinstance(message, w.ToolMessage):
            call_id = message.tool_call_id
            extra = unknown_fields(raw, w.ToolMessage, "role")
            # Some clients name the tool on its result; the call's own name wins when known.
            given = extra.get("name")
            name = self._names.get(call_id) or (given if isinstance(given, str) else "")
        else:
            name = message.name
            call_id = self._legacy_ids.get(name, f"call_legacy_{name}")
            extra = unknown_fields(raw, w.FunctionMessage, "role")
        parts = [] if not content else self._content(content, raw, path)
        result = ToolResultPart(
            tool_call_id=call_id,
            content=[p for p in parts if isinstance(p, (TextPart, ImagePart))],
            name=name,
            extras=make_extras(extra),
        )
        if self._tool_turn is None:
            self._tool_turn = Message(role=Role.USER)
            self.messages.append(self._tool_turn)
        self._tool_turn.parts.append(result)


def _at(items: Any, index: int) -> Any:
    return items[index] if isinstance(items, list) and index < len(items) else None


def _has_text(part: Part) -> bool:
    return not isinstance(part, TextPart) or bool(part.text)


# ---- encoding ------------------------------------------------------------------------------


def encode_messages(request: Request) -> list[dict[str, Any]]:
    """The Chat `messages` array of a canonical request."""
    out: list[dict[str, Any]] = []
    if request.system:
        out.append(_system_message(request.system))
    for message in request.messages:
        if message.role is Role.USER:
            out += _user_messages(message)
        else:
            out.append(_assistant_message(message))
    return out


def _system_message(parts: list[TextPart]) -> dict[str, Any]:
    roles: set[str] = set()
    extra: dict[str, Any] = {}
    listed = False
    for part in parts:
        raw, marks = chat_extras(part.extras)
        roles.add(marks.get("role", "system"))
        extra.update(marks.get("message", {}))
        listed = listed or bool(raw)
    role = "developer" if roles == {"developer"} else "system"
    # One string reads well on every OpenAI-compatible server; parts only when they carry fields.
    content: Any = [encode_part(p) for p in parts] if listed else "\n\n".join(p.text for p in parts)
    return merged({"role": role, "content": content}, extra)


def _user_messages(message: Message) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    content: list[dict[str, Any]] = []
    carried: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ToolResultPart):
            out.append(_tool_message(part, carried))
        elif isinstance(part, (TextPart, ImagePart, DocumentPart)):
            content.append(encode_part(part))
        # Thinking and tool calls have no place in a Chat user message.
    if content or carried:
        raw, _ = chat_extras(message.extras)
        out.append(merged({"role": "user", "content": simplify(carried + content)}, raw))
    return out


def _tool_message(part: ToolResultPart, carried: list[dict[str, Any]]) -> dict[str, Any]:
    # Chat tool messages hold text only: images a tool returned follow in a user message.
    texts = [encode_part(p) for p in part.content if isinstance(p, TextPart)]
    carried += [encode_part(p) for p in part.content if isinstance(p, ImagePart)]
    raw, _ = chat_extras(part.extras)
    message = {"role": "tool", "tool_call_id": part.tool_call_id, "content": simplify(texts)}
    return merged(message, raw)


def _assistant_message(message: Message) -> dict[str, Any]:
    thinking: list[str] = []
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict[str, Any]] = []
    field = "reasoning_content"
    for part in message.parts:
        _, marks = chat_extras(part.extras)
        if isinstance(part, ThinkingPart):
            # Reasoning text goes back only to where it came from (§9.2: drop it across vendors).
            if part.signature_source == DIALECT and part.text:
                thinking.append(part.text)
                field = marks.get("field", field)
        elif isinstance(part, TextPart):
            (refusals if marks.get("refusal") else texts).append(part.text)
        elif isinstance(part, ToolCallPart):
            calls.append(encode_tool_call(part, f"call_{len(calls)}"))
    out: dict[str, Any] = {"role": "assistant"}
    out["content"] = "".join(texts) if texts else (None if calls or refusals else "")
    if refusals:
        out["refusal"] = "".join(refusals)
    if calls:
        out["tool_calls"] = calls
    if thinking:
        out[field] = "".join(thinking)
    raw, _ = chat_extras(message.extras)
    return merged(out, raw)
