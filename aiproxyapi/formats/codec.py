"""The contract every dialect codec fulfils, so the relay can pair any client with any upstream.

A codec is pure and synchronous. Requests and responses go in and out as decoded JSON values
(dicts); streams go in as SSE events and come out as the bytes to write. Each codec module in
this package exposes one object, `CODEC`, that satisfies `Codec`.

Direction words: *decode* reads the dialect into the canonical model, *encode* writes the
dialect from it. The same codec serves both sides: a client speaking the dialect (decode its
request, encode the answer) and an upstream speaking it (encode the request, decode the answer).
"""

from __future__ import annotations

from typing import Any, Protocol

from aiproxyapi.canonical import Event, Request, Response, Usage
from aiproxyapi.formats.dialect import Format
from aiproxyapi.formats.sse import SSEEvent

__all__ = ["Codec", "ErrorInfo", "StreamDecoder", "StreamEncoder", "TranslationError"]


class TranslationError(ValueError):
    """A body the codec cannot read or a request the target dialect cannot express.

    Raised for the client's own input; it becomes a 400 in the client's dialect, naming `param`
    (a dotted path into the body, e.g. ``messages[2].content``) when there is one.
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class ErrorInfo:
    """An error read from, or to be written in, a dialect's error body."""

    __slots__ = ("code", "kind", "message", "param", "retry_after", "status")

    def __init__(
        self,
        status: int,
        message: str,
        kind: str = "",
        code: str | None = None,
        retry_after: float | None = None,
        *,
        param: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.retry_after = retry_after
        self.param = param
        """The request field at fault (a path such as ``messages[2].content``), when known."""


class StreamDecoder(Protocol):
    """Turns one upstream stream's SSE events into canonical events; one instance per stream."""

    def feed(self, event: SSEEvent) -> list[Event]:
        """Canonical events for one upstream SSE event (often none or one)."""
        ...

    def close(self) -> list[Event]:
        """Events owed at the end of the upstream stream (a StreamError if it ended early)."""
        ...

    @property
    def usage(self) -> Usage | None:
        """Usage seen so far."""
        ...


class StreamEncoder(Protocol):
    """Turns canonical events into the bytes of this dialect's stream; one instance per stream.

    It owns the dialect's stream obligations (wire-formats §9.7): opening events, block
    bracketing, terminators, usage placement.
    """

    def feed(self, event: Event) -> bytes:
        """The bytes for one canonical event (may be empty)."""
        ...

    def close(self) -> bytes:
        """Bytes owed when the stream ends without a StreamEnd or StreamError (usually empty)."""
        ...


class Codec(Protocol):
    """One dialect, both directions."""

    format: Format

    def decode_request(self, body: dict[str, Any]) -> Request:
        """A client's request body as a canonical request (TranslationError when unusable)."""
        ...

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        """The upstream body for a canonical request, with `model` as the upstream model name.

        Dialects that carry the model in the URL (Gemini) leave it out of the body.
        """
        ...

    def decode_response(self, body: dict[str, Any], request: Request | None = None) -> Response:
        """An upstream's non-streamed answer as a canonical response.

        `request` is the canonical request that was sent, when known: dialects that rewrote
        something on the way up (Gemini tool names) map it back with it.
        """
        ...

    def encode_response(self, response: Response, model: str) -> dict[str, Any]:
        """The client's non-streamed answer; `model` is the name the client asked for."""
        ...

    def stream_decoder(self, request: Request | None = None) -> StreamDecoder:
        """A decoder for one upstream stream in this dialect (`request` as in decode_response)."""
        ...

    def stream_encoder(self, request: Request, model: str) -> StreamEncoder:
        """An encoder for one client stream in this dialect (the request tells what was asked)."""
        ...

    def decode_error(self, status: int, body: bytes) -> ErrorInfo:
        """An upstream error body of this dialect (anything unreadable becomes a generic error)."""
        ...

    def encode_error(self, error: ErrorInfo) -> bytes:
        """This dialect's error body for an error (status, message, kind, code)."""
        ...

    def encode_stream_error(self, error: ErrorInfo) -> bytes:
        """This dialect's in-stream error, for failures after the stream began."""
        ...
