"""Client drivers for the end-to-end matrix: one per client dialect, each on the official SDK.

Every driver offers the same four scenarios, each taking ``(model, stream)``:

- ``text``: one user turn; the answer.
- ``tool_round_trip``: a turn declaring ``get_weather``; the client runs the call it got and
  sends the result back with the call's id (and the call replayed the way that dialect's clients
  replay it); both answers.
- ``image``: a user turn holding a PNG as base64; the answer.
- ``thinking``: a turn asking for reasoning in the dialect's own words; the answer.

What the client saw comes back dialect-neutral as :class:`Seen` (text, thinking, calls, finish in
OpenAI Chat words), so one test body serves every cell. A stream is read event by event the way
a client reads it: ``finish`` stays None unless the dialect's terminal event arrived, and names
every terminal event seen ("stop,stop") when a stream sent more than one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import anthropic
import openai
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

__all__ = [
    "DRIVERS",
    "IMAGE_DATA_URL",
    "PNG_B64",
    "TOOL_ARGUMENTS",
    "TOOL_NAME",
    "TOOL_RESULT",
    "AnthropicDriver",
    "Call",
    "ChatDriver",
    "Driver",
    "Failure",
    "GeminiDriver",
    "ResponsesDriver",
    "RoundTrip",
    "Seen",
]

TIMEOUT = 20.0
TEXT_PROMPT = "Say hello to the matrix."
TOOL_PROMPT = "What is the weather in Paris?"
IMAGE_PROMPT = "What colours are in this picture?"
THINKING_PROMPT = "Think it over, then answer: what is 17 * 23?"

TOOL_NAME = "get_weather"
TOOL_DESCRIPTION = "Current weather for a city."
TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
}
# What the scripted model calls the tool with, and what the client's tool answers.
TOOL_ARGUMENTS: dict[str, Any] = {"city": "Paris", "unit": "celsius"}
TOOL_RESULT = "sunny, 21 degrees"

# A 2x2 RGB PNG.
PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAE0lEQVR4nGP4z8DAAMJA4v9/BgAh7QT8SInSZgAAAABJRU5ErkJggg=="
IMAGE_DATA_URL = f"data:image/png;base64,{PNG_B64}"

# The reasoning each client asks for (wire-formats §9.4 names the controls).
EFFORT = "high"
BUDGET = 2048
ANTHROPIC_MAX_TOKENS = 4096  # must exceed the thinking budget


@dataclass
class Call:
    """A function call as the client saw it; arguments parsed from whatever the dialect sent."""

    name: str
    arguments: dict[str, Any]
    id: str | None = None


@dataclass
class Seen:
    """One answer as the client saw it; finish is in OpenAI Chat words (stop, tool_calls...)."""

    text: str = ""
    thinking: str = ""
    calls: list[Call] = field(default_factory=list)
    finish: str | None = None

    def end(self, finish: str | None) -> None:
        """Note a terminal event; a second one shows up in ``finish`` as "first,second"."""
        self.finish = str(finish) if self.finish is None else f"{self.finish},{finish}"


@dataclass
class RoundTrip:
    """Both answers of a tool round trip, and the call id the client sent back with the result."""

    first: Seen
    second: Seen
    sent_id: str | None


@dataclass
class Failure:
    """An error answer as the client's SDK reported it: HTTP status, the dialect's error type."""

    status: int
    kind: str
    message: str


class Driver(Protocol):
    """The common face of the four client drivers."""

    dialect: ClassVar[str]
    rate_limit_error: ClassVar[type[Exception]]
    bad_request_error: ClassVar[type[Exception]]
    rate_limit_kind: ClassVar[str]
    bad_request_kind: ClassVar[str]

    def close(self) -> None: ...

    def text(self, model: str, stream: bool) -> Seen: ...

    def tool_round_trip(self, model: str, stream: bool) -> RoundTrip: ...

    def image(self, model: str, stream: bool) -> Seen: ...

    def thinking(self, model: str, stream: bool) -> Seen: ...

    def failure(self, exc: Exception) -> Failure: ...


def _parse_arguments(raw: str | None) -> dict[str, Any]:
    parsed = json.loads(raw) if raw else {}
    if not isinstance(parsed, dict):
        raise AssertionError(f"tool arguments are not a JSON object: {raw!r}")
    return parsed


def _first_call(seen: Seen) -> Call:
    if not seen.calls:
        raise AssertionError(f"the first answer holds no tool call: {seen}")
    return seen.calls[0]


def _extra(model: Any, name: str) -> Any:
    """A field the SDK's pydantic model does not declare (kept in model_extra)."""
    extra = getattr(model, "model_extra", None) or {}
    return extra.get(name)


def _openai_failure(exc: Exception) -> Failure:
    assert isinstance(exc, openai.APIStatusError), repr(exc)
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)  # the SDK hands over the inner object or the envelope
    kind = error.get("type") if isinstance(error, dict) else None
    return Failure(exc.status_code, str(kind or ""), exc.message)


# ---- OpenAI Chat Completions -----------------------------------------------------------------


class ChatDriver:
    """``/v1/chat/completions`` through ``openai.OpenAI().chat.completions``."""

    dialect: ClassVar[str] = "chat"
    rate_limit_error: ClassVar[type[Exception]] = openai.RateLimitError
    bad_request_error: ClassVar[type[Exception]] = openai.BadRequestError
    rate_limit_kind: ClassVar[str] = ""  # OpenAI's 429 type varies (requests, tokens...)
    bad_request_kind: ClassVar[str] = "invalid_request_error"
    TOOLS: ClassVar[list[Any]] = [
        {
            "type": "function",
            "function": {
                "name": TOOL_NAME,
                "description": TOOL_DESCRIPTION,
                "parameters": TOOL_SCHEMA,
            },
        }
    ]

    def __init__(self, base_url: str, key: str) -> None:
        self.client = openai.OpenAI(
            base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=TIMEOUT
        )

    def close(self) -> None:
        """Close the SDK client and its pooled connections."""
        self.client.close()

    def ask(self, model: str, stream: bool, messages: list[Any], **options: Any) -> Seen:
        """One request; the answer as seen, from the message or from the chunks."""
        if not stream:
            answer = self.client.chat.completions.create(model=model, messages=messages, **options)
            choice = answer.choices[0]
            message = choice.message
            calls = [
                Call(c.function.name, _parse_arguments(c.function.arguments), c.id)
                for c in message.tool_calls or []
                if c.type == "function"
            ]
            return Seen(
                text=message.content or "",
                thinking=_extra(message, "reasoning_content") or "",
                calls=calls,
                finish=choice.finish_reason,
            )
        seen = Seen()
        slots: dict[int, dict[str, Any]] = {}
        with self.client.chat.completions.create(
            model=model, messages=messages, stream=True, **options
        ) as chunks:
            for chunk in chunks:
                for choice in chunk.choices:
                    delta = choice.delta
                    seen.text += delta.content or ""
                    seen.thinking += _extra(delta, "reasoning_content") or ""
                    for fragment in delta.tool_calls or []:
                        slot = slots.setdefault(
                            fragment.index, {"id": None, "name": "", "arguments": ""}
                        )
                        slot["id"] = fragment.id or slot["id"]
                        if fragment.function is not None:
                            slot["name"] += fragment.function.name or ""
                            slot["arguments"] += fragment.function.arguments or ""
                    if choice.finish_reason is not None:
                        seen.end(choice.finish_reason)
        seen.calls = [
            Call(s["name"], _parse_arguments(s["arguments"]), s["id"])
            for _, s in sorted(slots.items())
        ]
        return seen

    def text(self, model: str, stream: bool) -> Seen:
        return self.ask(model, stream, [{"role": "user", "content": TEXT_PROMPT}])

    def tool_round_trip(self, model: str, stream: bool) -> RoundTrip:
        messages: list[Any] = [{"role": "user", "content": TOOL_PROMPT}]
        first = self.ask(model, stream, messages, tools=self.TOOLS)
        call = _first_call(first)
        messages += [
            {
                "role": "assistant",
                "content": first.text or None,
                "tool_calls": [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT},
        ]
        second = self.ask(model, stream, messages, tools=self.TOOLS)
        return RoundTrip(first, second, call.id)

    def image(self, model: str, stream: bool) -> Seen:
        content = [
            {"type": "text", "text": IMAGE_PROMPT},
            {"type": "image_url", "image_url": {"url": IMAGE_DATA_URL}},
        ]
        return self.ask(model, stream, [{"role": "user", "content": content}])

    def thinking(self, model: str, stream: bool) -> Seen:
        messages = [{"role": "user", "content": THINKING_PROMPT}]
        return self.ask(model, stream, messages, reasoning_effort=EFFORT)

    def failure(self, exc: Exception) -> Failure:
        return _openai_failure(exc)


# ---- OpenAI Responses ------------------------------------------------------------------------


def _responses_finish(status: str | None, calls: list[Call]) -> str | None:
    if status == "completed":
        return "tool_calls" if calls else "stop"
    if status == "incomplete":
        return "length"
    return status


class ResponsesDriver:
    """``/v1/responses`` through ``openai.OpenAI().responses``, replaying items as Codex does."""

    dialect: ClassVar[str] = "responses"
    rate_limit_error: ClassVar[type[Exception]] = openai.RateLimitError
    bad_request_error: ClassVar[type[Exception]] = openai.BadRequestError
    rate_limit_kind: ClassVar[str] = ""
    bad_request_kind: ClassVar[str] = "invalid_request_error"
    TOOLS: ClassVar[list[Any]] = [
        {
            "type": "function",
            "name": TOOL_NAME,
            "description": TOOL_DESCRIPTION,
            "parameters": TOOL_SCHEMA,
            "strict": False,
        }
    ]

    def __init__(self, base_url: str, key: str) -> None:
        self.client = openai.OpenAI(
            base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=TIMEOUT
        )

    @staticmethod
    def _read_item(item: Any, seen: Seen, *, texts: bool) -> None:
        if item.type == "function_call":
            seen.calls.append(Call(item.name, _parse_arguments(item.arguments), item.call_id))
        elif item.type == "reasoning" and texts:
            seen.thinking += "".join(part.text for part in item.summary or [])
        elif item.type == "message" and texts:
            seen.text += "".join(part.text for part in item.content if part.type == "output_text")

    def close(self) -> None:
        """Close the SDK client and its pooled connections."""
        self.client.close()

    def ask(self, model: str, stream: bool, items: list[Any], **options: Any) -> Seen:
        """One request; the answer from the output items, or from the stream's deltas."""
        seen = Seen()
        if not stream:
            response = self.client.responses.create(model=model, input=items, **options)
            for item in response.output:
                self._read_item(item, seen, texts=True)
            seen.finish = _responses_finish(response.status, seen.calls)
            return seen
        done = Seen()  # what the output_item.done events hold
        with self.client.responses.create(
            model=model, input=items, stream=True, **options
        ) as events:
            for event in events:
                if event.type == "response.output_text.delta":
                    seen.text += event.delta
                elif event.type == "response.reasoning_summary_text.delta":
                    seen.thinking += event.delta
                elif event.type == "response.output_item.done":
                    self._read_item(event.item, done, texts=True)
                elif event.type in ("response.completed", "response.incomplete"):
                    seen.calls = done.calls
                    seen.end(_responses_finish(event.response.status, seen.calls))
                    final = Seen()
                    for item in event.response.output:
                        self._read_item(item, final, texts=True)
                    # Codex takes the answer from output_item.done, others from the final
                    # response; both must say what the deltas said (wire-formats §9.7).
                    for where, other in (("output_item.done", done), (event.type, final)):
                        if (other.text, other.thinking) != (seen.text, seen.thinking):
                            raise AssertionError(f"{where} disagrees with the deltas: {other}")
                    if final.calls != done.calls:
                        raise AssertionError(f"{event.type} lists other calls: {final}")
                elif event.type in ("response.failed", "error"):
                    seen.end("error")
        return seen

    def text(self, model: str, stream: bool) -> Seen:
        return self.ask(model, stream, [{"role": "user", "content": TEXT_PROMPT}])

    def tool_round_trip(self, model: str, stream: bool) -> RoundTrip:
        items: list[Any] = [{"role": "user", "content": TOOL_PROMPT}]
        first = self.ask(model, stream, items, tools=self.TOOLS)
        call = _first_call(first)
        items += [
            {
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": json.dumps(call.arguments),
            },
            {"type": "function_call_output", "call_id": call.id, "output": TOOL_RESULT},
        ]
        second = self.ask(model, stream, items, tools=self.TOOLS)
        return RoundTrip(first, second, call.id)

    def image(self, model: str, stream: bool) -> Seen:
        content = [
            {"type": "input_text", "text": IMAGE_PROMPT},
            {"type": "input_image", "image_url": IMAGE_DATA_URL, "detail": "auto"},
        ]
        return self.ask(model, stream, [{"role": "user", "content": content}])

    def thinking(self, model: str, stream: bool) -> Seen:
        items = [{"role": "user", "content": THINKING_PROMPT}]
        return self.ask(model, stream, items, reasoning={"effort": EFFORT, "summary": "auto"})

    def failure(self, exc: Exception) -> Failure:
        return _openai_failure(exc)


# ---- Anthropic Messages ----------------------------------------------------------------------

_ANTHROPIC_STOPS = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}


class AnthropicDriver:
    """``/v1/messages`` through ``anthropic.Anthropic().messages``."""

    dialect: ClassVar[str] = "anthropic"
    rate_limit_error: ClassVar[type[Exception]] = anthropic.RateLimitError
    bad_request_error: ClassVar[type[Exception]] = anthropic.BadRequestError
    rate_limit_kind: ClassVar[str] = "rate_limit_error"
    bad_request_kind: ClassVar[str] = "invalid_request_error"
    TOOLS: ClassVar[list[Any]] = [
        {"name": TOOL_NAME, "description": TOOL_DESCRIPTION, "input_schema": TOOL_SCHEMA}
    ]

    def __init__(self, base_url: str, key: str) -> None:
        self.client = anthropic.Anthropic(
            api_key=key, base_url=base_url, max_retries=0, timeout=TIMEOUT
        )

    def close(self) -> None:
        """Close the SDK client and its pooled connections."""
        self.client.close()

    def ask(
        self, model: str, stream: bool, messages: list[Any], **options: Any
    ) -> tuple[Seen, list[dict[str, Any]]]:
        """One request; the answer as seen, and its content blocks as a client replays them.

        ``betas=[...]`` goes through the SDK's beta namespace (``?beta=true`` plus the
        ``anthropic-beta`` header), as Claude Code sends it.
        """
        options.setdefault("max_tokens", ANTHROPIC_MAX_TOKENS)
        api: Any = self.client.beta.messages if "betas" in options else self.client.messages
        seen = Seen()
        blocks: list[dict[str, Any]] = []
        if not stream:
            message = api.create(model=model, messages=messages, **options)
            for block in message.content:
                blocks.append(block.model_dump(exclude_none=True))
                if block.type == "text":
                    seen.text += block.text
                elif block.type == "thinking":
                    seen.thinking += block.thinking
                elif block.type == "tool_use":
                    seen.calls.append(Call(block.name, dict(block.input), block.id))
            seen.finish = _ANTHROPIC_STOPS.get(str(message.stop_reason), message.stop_reason)
            return seen, blocks
        open_blocks: dict[int, dict[str, Any]] = {}
        partial_json: dict[int, str] = {}
        stop_reason: str | None = None
        with api.create(model=model, messages=messages, stream=True, **options) as events:
            for event in events:
                if event.type == "content_block_start":
                    open_blocks[event.index] = event.content_block.model_dump(exclude_none=True)
                    partial_json[event.index] = ""
                elif event.type == "content_block_delta":
                    block, delta = open_blocks[event.index], event.delta
                    if delta.type == "text_delta":
                        seen.text += delta.text
                        block["text"] = block.get("text", "") + delta.text
                    elif delta.type == "thinking_delta":
                        seen.thinking += delta.thinking
                        block["thinking"] = block.get("thinking", "") + delta.thinking
                    elif delta.type == "signature_delta":
                        block["signature"] = block.get("signature", "") + delta.signature
                    elif delta.type == "input_json_delta":
                        partial_json[event.index] += delta.partial_json
                elif event.type == "content_block_stop":
                    block = open_blocks.pop(event.index)
                    if block["type"] == "tool_use":
                        block["input"] = _parse_arguments(partial_json[event.index])
                        seen.calls.append(Call(block["name"], block["input"], block["id"]))
                    blocks.append(block)
                elif event.type == "message_delta":
                    stop_reason = event.delta.stop_reason
                elif event.type == "message_stop":
                    seen.end(_ANTHROPIC_STOPS.get(str(stop_reason), stop_reason))
        return seen, blocks

    def text(self, model: str, stream: bool) -> Seen:
        return self.ask(model, stream, [{"role": "user", "content": TEXT_PROMPT}])[0]

    def tool_round_trip(self, model: str, stream: bool) -> RoundTrip:
        messages: list[Any] = [{"role": "user", "content": TOOL_PROMPT}]
        first, blocks = self.ask(model, stream, messages, tools=self.TOOLS)
        call = _first_call(first)
        messages += [
            {"role": "assistant", "content": blocks},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": TOOL_RESULT}
                ],
            },
        ]
        second, _ = self.ask(model, stream, messages, tools=self.TOOLS)
        return RoundTrip(first, second, call.id)

    def image(self, model: str, stream: bool) -> Seen:
        content = [
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
            },
            {"type": "text", "text": IMAGE_PROMPT},
        ]
        return self.ask(model, stream, [{"role": "user", "content": content}])[0]

    def thinking(self, model: str, stream: bool) -> Seen:
        messages = [{"role": "user", "content": THINKING_PROMPT}]
        thinking = {"type": "enabled", "budget_tokens": BUDGET}
        return self.ask(model, stream, messages, thinking=thinking)[0]

    def failure(self, exc: Exception) -> Failure:
        assert isinstance(exc, anthropic.APIStatusError), repr(exc)
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        return Failure(exc.status_code, str(error.get("type") or ""), exc.message)


# ---- Google Gemini ---------------------------------------------------------------------------


def _gemini_finish(reason: Any, calls: list[Call]) -> str | None:
    if reason is None:
        return None
    name = getattr(reason, "value", reason)
    if name == "STOP":
        return "tool_calls" if calls else "stop"
    if name == "MAX_TOKENS":
        return "length"
    return str(name)


class GeminiDriver:
    """``/v1beta/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``
    through ``google.genai.Client().models``."""

    dialect: ClassVar[str] = "gemini"
    rate_limit_error: ClassVar[type[Exception]] = genai_errors.ClientError
    bad_request_error: ClassVar[type[Exception]] = genai_errors.ClientError
    rate_limit_kind: ClassVar[str] = "RESOURCE_EXHAUSTED"
    bad_request_kind: ClassVar[str] = "INVALID_ARGUMENT"
    TOOLS: ClassVar[list[gtypes.Tool]] = [
        gtypes.Tool(
            function_declarations=[
                gtypes.FunctionDeclaration(
                    name=TOOL_NAME,
                    description=TOOL_DESCRIPTION,
                    parameters=gtypes.Schema(
                        type=gtypes.Type.OBJECT,
                        properties={
                            "city": gtypes.Schema(type=gtypes.Type.STRING, description="City name"),
                            "unit": gtypes.Schema(
                                type=gtypes.Type.STRING, enum=["celsius", "fahrenheit"]
                            ),
                        },
                        required=["city"],
                    ),
                )
            ]
        )
    ]

    def __init__(self, base_url: str, key: str) -> None:
        self.client = genai.Client(
            api_key=key,
            http_options=gtypes.HttpOptions(
                base_url=base_url,
                api_version="v1beta",
                timeout=int(TIMEOUT * 1000),
                retry_options=gtypes.HttpRetryOptions(attempts=1),
            ),
        )

    def close(self) -> None:
        """Close the SDK client and its pooled connections."""
        self.client.close()

    def ask(
        self,
        model: str,
        stream: bool,
        contents: list[gtypes.Content],
        config: gtypes.GenerateContentConfig | None = None,
    ) -> tuple[Seen, list[gtypes.Part]]:
        """One request; the answer as seen, and the model's parts as a client replays them."""
        seen = Seen()
        parts: list[gtypes.Part] = []
        reasons: list[Any] = []
        if stream:
            responses = list(
                self.client.models.generate_content_stream(
                    model=model, contents=contents, config=config
                )
            )
        else:
            responses = [
                self.client.models.generate_content(model=model, contents=contents, config=config)
            ]
        for response in responses:
            for candidate in response.candidates or []:
                if candidate.content is not None:
                    parts += candidate.content.parts or []
                if candidate.finish_reason is not None:
                    reasons.append(candidate.finish_reason)
        for part in parts:
            if part.function_call is not None:
                call = part.function_call
                seen.calls.append(Call(call.name or "", dict(call.args or {}), call.id))
            elif part.text is not None and part.thought:
                seen.thinking += part.text
            elif part.text is not None:
                seen.text += part.text
        for reason in reasons:
            seen.end(_gemini_finish(reason, seen.calls))
        return seen, parts

    @staticmethod
    def _user(*parts: gtypes.Part) -> gtypes.Content:
        return gtypes.Content(role="user", parts=list(parts))

    def text(self, model: str, stream: bool) -> Seen:
        return self.ask(model, stream, [self._user(gtypes.Part(text=TEXT_PROMPT))])[0]

    def tool_round_trip(self, model: str, stream: bool) -> RoundTrip:
        contents = [self._user(gtypes.Part(text=TOOL_PROMPT))]
        config = gtypes.GenerateContentConfig(tools=self.TOOLS)
        first, parts = self.ask(model, stream, contents, config)
        call = _first_call(first)
        # Gemini CLI replays the model's parts (function calls with their thought signatures).
        replay = [part for part in parts if part.function_call is not None or part.text]
        answer = gtypes.FunctionResponse(
            name=call.name, response={"result": TOOL_RESULT}, id=call.id
        )
        contents += [
            gtypes.Content(role="model", parts=replay),
            self._user(gtypes.Part(function_response=answer)),
        ]
        second, _ = self.ask(model, stream, contents, config)
        return RoundTrip(first, second, call.id)

    def image(self, model: str, stream: bool) -> Seen:
        picture = gtypes.Part.from_bytes(data=base64.b64decode(PNG_B64), mime_type="image/png")
        return self.ask(model, stream, [self._user(picture, gtypes.Part(text=IMAGE_PROMPT))])[0]

    def thinking(self, model: str, stream: bool) -> Seen:
        config = gtypes.GenerateContentConfig(
            thinking_config=gtypes.ThinkingConfig(thinking_budget=BUDGET, include_thoughts=True)
        )
        return self.ask(model, stream, [self._user(gtypes.Part(text=THINKING_PROMPT))], config)[0]

    def failure(self, exc: Exception) -> Failure:
        assert isinstance(exc, genai_errors.APIError), repr(exc)
        return Failure(exc.code, str(exc.status or ""), str(exc.message or ""))


DRIVERS: dict[str, Callable[[str, str], Driver]] = {
    "chat": ChatDriver,
    "responses": ResponsesDriver,
    "anthropic": AnthropicDriver,
    "gemini": GeminiDriver,
}
