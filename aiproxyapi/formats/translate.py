"""Translation between any two dialects through the canonical model.

The relay uses these when the client's dialect differs from the upstream's; the golden fixture
tests drive them directly. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import BlockDelta, Event, Request, StreamEnd, StreamError
from aiproxyapi.formats.codec import Codec, StreamDecoder, StreamEncoder
from aiproxyapi.formats.sse import SSEEvent

__all__ = ["StreamTranslator", "translate_request", "translate_response"]


def translate_request(
    client: Codec, upstream: Codec, body: dict[str, Any], upstream_model: str
) -> tuple[Request, dict[str, Any]]:
    """The canonical request and the upstream body for a client's request body."""
    request = client.decode_request(body)
    return request, upstream.encode_request(request, upstream_model)


def translate_response(
    upstream: Codec,
    client: Codec,
    body: dict[str, Any],
    client_model: str,
    request: Request | None = None,
) -> dict[str, Any]:
    """The client's answer for an upstream's non-streamed answer (`request`: what was sent)."""
    return client.encode_response(upstream.decode_response(body, request), client_model)


class StreamTranslator:
    """Upstream SSE events in, client stream bytes out, event by event."""

    __slots__ = ("_decoder", "_encoder", "completed", "errored")

    def __init__(
        self,
        upstream: Codec,
        client: Codec,
        request: Request,
        client_model: str,
        encoder: StreamEncoder | None = None,
    ) -> None:
        self._decoder: StreamDecoder = upstream.stream_decoder(request)
        self._encoder: StreamEncoder = encoder or client.stream_encoder(request, client_model)
        self.completed = False
        """The upstream ended the answer properly."""
        self.errored = False
        """An error event went out to the client."""

    @property
    def decoder(self) -> StreamDecoder:
        """The upstream decoder (its usage is the stream's usage)."""
        return self._decoder

    def feed(self, event: SSEEvent) -> bytes:
        """Client bytes for one upstream event."""
        return self._encode(self._decoder.feed(event))

    def close(self) -> bytes:
        """Client bytes owed at the end of the upstream stream."""
        out = self._encode(self._decoder.close())
        return out + self._encoder.close()

    def fail(self, message: str, kind: str = "server_error", status: int = 502) -> bytes:
        """Client bytes for a failure of the upstream connection mid-stream."""
        return self._encode([StreamError(message=message, kind=kind, status=status)])

    def _encode(self, events: list[Event]) -> bytes:
        if not events:
            return b""
        feed = self._encoder.feed
        if len(events) == 1:
            event = events[0]
            if type(event) is BlockDelta:  # nearly every event of a stream
                return feed(event)
        parts = []
        for event in events:
            if isinstance(event, StreamEnd):
                self.completed = True
            elif isinstance(event, StreamError):
                self.errored = True
            parts.append(feed(event))
        return b"".join(parts)
