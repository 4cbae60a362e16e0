"""Legacy OpenAI Completions (`POST /v1/completions`), answered through the Chat path.

Not a codec: the route decodes a Completions body into a canonical request (the prompt becomes
one user turn), lets the Chat machinery answer it, and writes the answer back as
`text_completion` objects or chunks. Features with no chat equivalent are refused by name.
"""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.canonical import (
    BlockDelta,
    BlockStart,
    Event,
    Message,
    Request,
    Response,
    Role,
    StreamEnd,
    StreamError,
    StreamStart,
    TextPart,
    Usage,
    UsageUpdate,
)
from aiproxyapi.formats.codec import ErrorInfo, TranslationError
from aiproxyapi.formats.openai_chat._common import (
    convert,
    make_extras,
    now,
    sse,
    unknown_fields,
    with_prefix,
)
from aiproxyapi.formats.openai_chat._usage import finish_reason, usage_to_wire
from aiproxyapi.formats.openai_chat.errors import encode_stream_error_info

__all__ = ["CompletionsStreamEncoder", "decode_completions_request", "encode_completions_response"]

DEFAULT_MAX_TOKENS = 16
"""OpenAI's default for Completions, which a chat upstream would not apply by itself."""


class _StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class _Body(msgspec.Struct):
    model: str
    prompt: Any = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = None
    stream: bool | None = None
    stream_options: _StreamOptions | None = None
    user: str | None = None
    suffix: str | None = None
    echo: bool | None = None
    logprobs: int | None = None
    best_of: int | None = None


def decode_completions_request(body: dict[str, Any]) -> Request:
    """A Completions body as a canonical chat request (TranslationError naming what cannot be)."""
    if not isinstance(body, dict):
        raise TranslationError("the request body must be a JSON object")
    wire = convert(body, _Body)
    if not wire.model.strip():
        raise TranslationError("`model` must be a non-empty string", "model")
    unsupported = {
        "suffix": bool(wire.suffix),
        "echo": bool(wire.echo),
        "logprobs": wire.logprobs is not None,
        "best_of": wire.best_of not in (None, 1),
        "n": wire.n not in (None, 1),
    }
    for name, given in unsupported.items():
        if given:
            raise TranslationError(f"`{name}` is not supported by this gateway's Completions", name)
    stop = [wire.stop] if isinstance(wire.stop, str) else list(wire.stop or ())
    # Penalties, logit_bias and unknown fields have the same names in Chat: they go along.
    extra = unknown_fields(body, _Body)
    return Request(
        model=wire.model,
        messages=[Message(role=Role.USER, parts=[TextPart(text=t) for t in _prompt(wire.prompt)])],
        max_tokens=DEFAULT_MAX_TOKENS if wire.max_tokens is None else wire.max_tokens,
        temperature=wire.temperature,
        top_p=wire.top_p,
        stop=[s for s in stop if s],
        seed=wire.seed,
        stream=bool(wire.stream),
        include_usage=bool(wire.stream_options and wire.stream_options.include_usage),
        user=wire.user or "",
        extras=make_extras(extra),
    )


def _prompt(prompt: Any) -> list[str]:
    if isinstance(prompt, str) and prompt:
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return [p for p in prompt if p] or _refuse_prompt()
    if isinstance(prompt, list) and prompt and all(isinstance(p, (int, list)) for p in prompt):
        raise TranslationError("token-array prompts are not supported; send text", "prompt")
    return _refuse_prompt()


def _refuse_prompt() -> list[str]:
    raise TranslationError("`prompt` must be a non-empty string or array of strings", "prompt")


def _completion_id(response_id: str) -> str:
    return with_prefix(response_id.removeprefix("chatcmpl-"), "cmpl-")


def encode_completions_response(response: Response, model: str) -> dict[str, Any]:
    """The `text_completion` answer for a canonical response (its text; thinking left out)."""
    text = "".join(p.text for p in response.parts if isinstance(p, TextPart))
    choice = {
        "text": text,
        "index": 0,
        "logprobs": None,
        "finish_reason": finish_reason(response.stop_reason, tool_calls=False),
    }
    return {
        "id": _completion_id(response.id),
        "object": "text_completion",
        "created": response.created or now(),
        "model": model,
        "choices": [choice],
        "usage": usage_to_wire(response.usage),
    }


class CompletionsStreamEncoder:
    """Canonical events → `text_completion` chunks, the usage chunk when asked for, `[DONE]`."""

    def __init__(self, request: Request, model: str) -> None:
        self._model = model
        self._include_usage = request.include_usage
        self._id = ""
        self._created = 0
        self._text_blocks: set[int] = set()
        self._usage: Usage | None = None
        self._done = False

    def feed(self, event: Event) -> bytes:
        """The bytes for one canonical event."""
        if self._done:
            return b""
        if isinstance(event, StreamError):
            self._done = True
            return encode_stream_error_info(ErrorInfo(event.status, event.message, event.kind))
        if not self._id:
            start = event if isinstance(event, StreamStart) else None
            self._id = _completion_id(start.id if start else "")
            self._created = (start.created if start else 0) or now()
        if isinstance(event, BlockStart) and event.kind == "text":
            self._text_blocks.add(event.index)
        elif isinstance(event, BlockDelta) and event.index in self._text_blocks and event.text:
            return self._chunk(event.text, None)
        elif isinstance(event, UsageUpdate):
            self._usage = event.usage
        elif isinstance(event, StreamEnd):
            self._done = True
            out = self._chunk("", finish_reason(event.stop_reason, tool_calls=False))
            if self._include_usage:
                usage = usage_to_wire(event.usage or self._usage or Usage())
                out += sse({**self._head(), "choices": [], "usage": usage})
            return out + b"data: [DONE]\n\n"
        return b""

    def close(self) -> bytes:
        """Nothing: an unfinished stream is ended by the caller with an error event."""
        return b""

    def _head(self) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "text_completion",
            "created": self._created,
            "model": self._model,
        }

    def _chunk(self, text: str, finish: str | None) -> bytes:
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}
        return sse({**self._head(), "choices": [choice]})
