"""OpenAI Chat Completions: the codec (`CODEC`) and the same-dialect passthrough helpers.

Where it sits in the request flow: a Chat client's body is decoded here into the canonical
request (or, when the upstream speaks Chat too, forwarded by the passthrough helpers with only
`model` rewritten); a Chat upstream's answer and stream are read back here, and any canonical
answer is written out here for a Chat client.
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import Request, Response
from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.formats.dialect import Format
from aiproxyapi.formats.openai_chat import errors as _errors
from aiproxyapi.formats.openai_chat import request as _request
from aiproxyapi.formats.openai_chat import response as _response
from aiproxyapi.formats.openai_chat.errors import encode_error, encode_stream_error
from aiproxyapi.formats.openai_chat.passthrough import (
    ChatRequestError,
    StreamTap,
    decode_request,
    prepare_passthrough,
    usage_from_body,
)
from aiproxyapi.formats.openai_chat.stream import ChatStreamDecoder
from aiproxyapi.formats.openai_chat.stream_encode import ChatStreamEncoder

__all__ = [
    "CODEC",
    "ChatCodec",
    "ChatRequestError",
    "ChatStreamDecoder",
    "ChatStreamEncoder",
    "StreamTap",
    "decode_request",
    "encode_error",
    "encode_stream_error",
    "prepare_passthrough",
    "usage_from_body",
]


class ChatCodec:
    """OpenAI Chat Completions, both directions (satisfies `formats.codec.Codec`)."""

    format = Format.OPENAI_CHAT

    def decode_request(self, body: dict[str, Any]) -> Request:
        """A client's Chat body as a canonical request."""
        return _request.decode_request(body)

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        """The Chat body for an OpenAI-compatible upstream."""
        return _request.encode_request(request, model)

    def decode_response(self, body: dict[str, Any], request: Request | None = None) -> Response:
        """An upstream's Chat answer as a canonical response."""
        return _response.decode_response(body)

    def encode_response(self, response: Response, model: str) -> dict[str, Any]:
        """The client's Chat answer."""
        return _response.encode_response(response, model)

    def stream_decoder(self, request: Request | None = None) -> ChatStreamDecoder:
        """A decoder for one upstream Chat stream."""
        return ChatStreamDecoder()

    def stream_encoder(self, request: Request, model: str) -> ChatStreamEncoder:
        """An encoder for one client Chat stream."""
        return ChatStreamEncoder(request, model)

    def decode_error(self, status: int, body: bytes) -> ErrorInfo:
        """An upstream's error body."""
        return _errors.decode_error(status, body)

    def encode_error(self, error: ErrorInfo) -> bytes:
        """The OpenAI error envelope."""
        return _errors.encode_error_info(error)

    def encode_stream_error(self, error: ErrorInfo) -> bytes:
        """The in-stream error event."""
        return _errors.encode_stream_error_info(error)


CODEC = ChatCodec()
