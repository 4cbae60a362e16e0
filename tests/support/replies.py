"""What a fake upstream is told to do (`Reply`) and what it saw (`RecordedRequest`)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .openai_wire import Usage, dumps, error_body

__all__ = ["RecordedRequest", "Reply", "Usage"]

Headers = tuple[tuple[str, str], ...]


def _headers(headers: Mapping[str, str] | None) -> Headers:
    return tuple((headers or {}).items())


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

    @classmethod
    def ok(
        cls,
        text: str | None = None,
        *,
        chunks: int | None = None,
        chunk_delay: float = 0.0,
        delay: float = 0.0,
        usage: Usage | None = None,
        finish_reason: str = "stop",
        model: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """A 200 completion; streamed as SSE when the request says ``stream: true``.

        text defaults to ``"hello from key <last 6 chars of the key>"``. chunks is the number of
        content deltas (default: one per word); chunk_delay sleeps between SSE events; delay
        sleeps before the status line. model defaults to the request's model.
        """
        return cls(
            kind="ok",
            text=text,
            chunks=chunks,
            chunk_delay=chunk_delay,
            delay=delay,
            usage=usage or Usage(),
            finish_reason=finish_reason,
            model=model,
            headers=_headers(headers),
        )

    @classmethod
    def error(
        cls,
        status: int,
        body: Mapping[str, Any] | str | bytes | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """An error reply; body defaults to OpenAI's ``{"error": ...}`` envelope for the status."""
        if body is None:
            raw = dumps(error_body(status))
        elif isinstance(body, Mapping):
            raw = dumps(dict(body))
        else:
            raw = body.encode() if isinstance(body, str) else body
        return cls(kind="error", status=status, body=raw, headers=_headers(headers), delay=delay)

    @classmethod
    def hang(cls, *, delay: float = 0.0) -> Reply:
        """Never send a byte; the request ends when the client disconnects or the fake stops."""
        return cls(kind="hang", delay=delay)

    @classmethod
    def reset(cls, after_chunks: int = 0, *, text: str | None = None, **ok: Any) -> Reply:
        """Abort the TCP connection with RST (SO_LINGER 0) after that many SSE events were sent.

        0 resets right after reading the request, before any response byte. For a non-stream
        request any other value sends the headers and half of the JSON body, then resets. The
        other keywords are those of :meth:`ok` (the role chunk counts as the first event).
        """
        return replace(cls.ok(text, **ok), reset_after=after_chunks)

    @classmethod
    def echo_key(cls, status: int = 401, *, headers: Mapping[str, str] | None = None) -> Reply:
        """A body that contains the whole presented key, as some real providers' errors do.

        With status 200 the completion text is the key; otherwise an error envelope names it.
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
    """One request as the fake upstream received it."""

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
    _disconnected: threading.Event = field(default_factory=threading.Event, repr=False)
    _completed: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def stream(self) -> bool:
        """Whether the JSON body asked for a stream."""
        return isinstance(self.json, dict) and self.json.get("stream") is True

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
