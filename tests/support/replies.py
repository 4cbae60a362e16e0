"""What a fake upstream is told to do (`Reply`) and what it saw (`RecordedRequest`).

A reply is dialect-neutral: the same ``Reply.ok(...)`` is rendered as an OpenAI Chat completion,
a Responses object, an Anthropic message or a Gemini response, depending on the route the
request arrived on. Finish reasons are given in OpenAI Chat words (``stop``, ``length``,
``tool_calls``, ``content_filter``) and mapped per wire-formats.md §9.1; a dialect's own value
(``end_turn``, ``MAX_TOKENS``...) is passed through verbatim where that dialect uses it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from . import _inspect
from .openai_wire import Usage

__all__ = ["DEFAULT_SIGNATURE", "Dialect", "RecordedRequest", "Reply", "ToolCall", "Usage"]

Headers = tuple[tuple[str, str], ...]
Dialect = Literal[
    "openai", "openai-responses", "codex", "claude", "gemini", "code-assist", "token-exchange"
]
Endpoint = Literal["generate", "count_tokens", "embeddings", "models", "setup", "token", "other"]

# Base64 (as Gemini's thoughtSignature must be), opaque (as Anthropic's signature is).
DEFAULT_SIGNATURE = "ZmFrZS10aG91Z2h0LXNpZ25hdHVyZQ=="


def _headers(headers: Mapping[str, str] | None) -> Headers:
    return tuple((headers or {}).items())


@dataclass(frozen=True)
class ToolCall:
    """One function call the scripted model makes; id defaults to a dialect-styled fresh one."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a tool call needs a name")
        object.__setattr__(self, "arguments", dict(self.arguments))
        json.dumps(self.arguments)  # fail here, not on the server thread

    def __hash__(self) -> int:
        return hash((self.name, self.arguments_json, self.id))

    @property
    def arguments_json(self) -> str:
        """The arguments as the compact JSON string OpenAI dialects carry."""
        return json.dumps(self.arguments, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, kw_only=True)
class Reply:
    """What the fake upstream does with one request; build it with the class methods."""

    kind: Literal["ok", "error", "hang", "raw"]
    status: int = 200
    text: str | None = None
    chunks: int | None = None
    chunk_delay: float = 0.0
    delay: float = 0.0
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    model: str | None = None
    headers: Headers = ()
    body: bytes | None = None
    reset_after: int | None = None
    echoes_key: bool = False
    chunked: bool = False
    truncate: bool = False
    tool_calls: tuple[ToolCall, ...] = ()
    thinking: str | None = None
    thinking_signature: str = DEFAULT_SIGNATURE
    retry_after: float | None = None

    @classmethod
    def ok(
        cls,
        text: str | None = None,
        *,
        chunks: int | None = None,
        chunk_delay: float = 0.0,
        delay: float = 0.0,
        usage: Usage | None = None,
        finish_reason: str | None = None,
        model: str | None = None,
        headers: Mapping[str, str] | None = None,
        tool_calls: Sequence[ToolCall] = (),
        thinking: str | None = None,
        thinking_signature: str = DEFAULT_SIGNATURE,
    ) -> Reply:
        """A 200 answer in the request's dialect; streamed when the request asks for a stream.

        The answer is: thinking (if given), then text, then tool calls. text defaults to
        ``"hello from key <last 6 chars of the key>"``, or to no text at all when tool calls are
        given. chunks is the number of text (and thinking) deltas, default one per word;
        chunk_delay sleeps between stream events; delay sleeps before the status line. model
        defaults to the request's. finish_reason defaults to ``tool_calls`` with tool calls,
        else ``stop``. usage is given in OpenAI terms and converted per §9.5. thinking_signature
        closes Anthropic's thinking block, is the Responses reasoning item's ``encrypted_content``
        when the request includes it, and is Gemini's ``thoughtSignature`` (first functionCall,
        else the text after thinking; ``""`` leaves it out). A tool call without an id gets a
        fresh one styled for the dialect (``call_...``, ``toolu_...``; none for Gemini).
        """
        calls = tuple(tool_calls)
        return cls(
            kind="ok",
            text=text if text is not None or not calls else "",
            chunks=chunks,
            chunk_delay=chunk_delay,
            delay=delay,
            usage=usage or Usage(),
            finish_reason=finish_reason or ("tool_calls" if calls else "stop"),
            model=model,
            headers=_headers(headers),
            tool_calls=calls,
            thinking=thinking,
            thinking_signature=thinking_signature,
        )

    @classmethod
    def error(
        cls,
        status: int,
        body: Mapping[str, Any] | str | bytes | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        retry_after: float | None = None,
    ) -> Reply:
        """An error reply; body defaults to the request dialect's own envelope for the status.

        retry_after (seconds) goes where the dialect carries it: a ``retry-after`` header for
        OpenAI and Anthropic, ``RetryInfo.retryDelay`` for Gemini, ``resets_in_seconds`` in a
        Codex 429 body (§9.6).
        """
        if body is None:
            raw = None
        elif isinstance(body, Mapping):
            raw = json.dumps(dict(body), separators=(",", ":"), ensure_ascii=False).encode()
        else:
            raw = body.encode() if isinstance(body, str) else body
        return cls(
            kind="error",
            status=status,
            body=raw,
            headers=_headers(headers),
            delay=delay,
            retry_after=retry_after,
        )

    @classmethod
    def hang(cls, *, delay: float = 0.0) -> Reply:
        """Never send a byte; the request ends when the client disconnects or the fake stops."""
        return cls(kind="hang", delay=delay)

    @classmethod
    def reset(cls, after_chunks: int = 0, *, text: str | None = None, **ok: Any) -> Reply:
        """Abort the TCP connection with RST (SO_LINGER 0) after that many stream events.

        0 resets right after reading the request, before any response byte. For a non-stream
        request any other value sends the headers and half of the JSON body, then resets. The
        other keywords are those of :meth:`ok`. The first event counts too: the Chat role chunk,
        ``message_start``, ``response.created`` or the first Gemini chunk.
        """
        return replace(cls.ok(text, **ok), reset_after=after_chunks)

    @classmethod
    def echo_key(cls, status: int = 401, *, headers: Mapping[str, str] | None = None) -> Reply:
        """A body that contains the whole presented key, as some real providers' errors do.

        With status 200 the answer text is the key; otherwise the dialect's error envelope
        names it.
        """
        kind: Literal["ok", "error"] = "ok" if status == 200 else "error"
        return cls(kind=kind, status=status, echoes_key=True, headers=_headers(headers))

    @classmethod
    def raw(
        cls,
        body: bytes,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        chunked: bool = False,
        truncate: bool = False,
        delay: float = 0.0,
    ) -> Reply:
        """Exactly these body bytes (e.g. malformed SSE); truncate closes the connection early.

        A truncated chunked body lacks its final zero-size chunk; a truncated Content-Length body
        stops after half of its bytes. Give a ``Content-Type`` in headers (default JSON).
        """
        return cls(
            kind="raw",
            status=status,
            body=body,
            headers=_headers(headers),
            chunked=chunked,
            truncate=truncate,
            delay=delay,
        )


@dataclass(eq=False)
class RecordedRequest:
    """One request as the fake upstream received it.

    key is the credential presented, whichever header carried it (Bearer, ``x-api-key``,
    ``x-goog-api-key`` or ``?key=``); dialect is chosen by the path; model comes from the body
    or, for Gemini, the path. rejected holds the message when the fake refused the body as
    invalid for its dialect (a 400 the real service would also give).
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any
    key: str | None
    timestamp: float
    monotonic: float
    reply: Reply | None = None
    dialect: Dialect = "openai"
    model: str | None = None
    endpoint: Endpoint = "other"
    rejected: str | None = None
    _disconnected: threading.Event = field(default_factory=threading.Event, repr=False)
    _completed: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def stream(self) -> bool:
        """Whether a stream was asked for (Gemini: by the path; the others: ``stream: true``)."""
        if self.dialect in ("gemini", "code-assist"):
            return self.path.endswith(":streamGenerateContent")
        return isinstance(self.json, dict) and self.json.get("stream") is True

    @property
    def system(self) -> str | None:
        """The system prompt, however the dialect carries it (text parts joined by newlines)."""
        return _inspect.system_text(self.dialect, self.json)

    @property
    def tool_names(self) -> list[str]:
        """The names of the function tools declared in the request, in order."""
        return _inspect.tool_names(self.dialect, self.json)

    @property
    def images(self) -> list[str]:
        """Every image in the request as a URL or ``data:<mime>;base64,...`` string, in order."""
        return _inspect.images(self.dialect, self.json)

    @property
    def client_disconnected(self) -> bool:
        """True once the client closed the connection before the reply was fully sent."""
        return self._disconnected.is_set()

    @property
    def completed(self) -> bool:
        """True once the whole reply was written."""
        return self._completed.is_set()

    def wait_disconnected(self, timeout: float = 2.0) -> bool:
        """Block until client_disconnected is True or the timeout passes; returns the flag."""
        return self._disconnected.wait(timeout)
