"""Anthropic Messages (`POST /v1/messages`): the codec for Claude clients and Claude upstreams.

Sits at the edge of translation: a Claude client's body is decoded here into the canonical
request and its answer encoded here; a Claude upstream's body is encoded here and its answer
decoded here (wire-formats §4, §9). `CODEC` is the module's whole contract with the relay;
`count_tokens_body` serves `/v1/messages/count_tokens` upstream calls.
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import Request, Response
from aiproxyapi.formats.claude._decode_request import decode_request
from aiproxyapi.formats.claude._encode_request import (
    DEFAULT_MAX_TOKENS,
    count_tokens_body,
    encode_request,
)
from aiproxyapi.formats.claude._errors import decode_error, encode_error, encode_stream_error
from aiproxyapi.formats.claude._passthrough import prepare_passthrough
from aiproxyapi.formats.claude._response import decode_response, encode_response
from aiproxyapi.formats.claude._stream_decode import ClaudeStreamDecoder
from aiproxyapi.formats.claude._stream_encode import PING, ClaudeStreamEncoder
from aiproxyapi.formats.codec import Codec, ErrorInfo
from aiproxyapi.formats.dialect import Format

__all__ = [
    "CODEC",
    "DEFAULT_MAX_TOKENS",
    "PING",
    "ClaudeCodec",
    "ClaudeStreamDecoder",
    "ClaudeStreamEncoder",
    "count_tokens_body",
    "decode_count_tokens_request",
    "decode_request",
    "encode_request",
    "prepare_passthrough",
]

decode_count_tokens_request = decode_request
"""A count_tokens body as a canonical request: the Messages decoder, which needs no max_tokens."""


class ClaudeCodec:
    """Anthropic Messages, both directions."""

    format = Format.CLAUDE

    def decode_request(self, body: dict[str, Any]) -> Request:
        """A client's Messages body as a canonical request."""
        return decode_request(body)

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        """The Messages body for a Claude upstream."""
        return encode_request(request, model)

    def decode_response(self, body: dict[str, Any], request: Request | None = None) -> Response:
        """A Claude upstream's `message` as a canonical response."""
        return decode_response(body)

    def encode_response(self, response: Response, model: str) -> dict[str, Any]:
        """The `message` answer for a Claude client."""
        return encode_response(response, model)

    def stream_decoder(self, request: Request | None = None) -> ClaudeStreamDecoder:
        """A decoder for one Claude upstream stream."""
        return ClaudeStreamDecoder()

    def stream_encoder(self, request: Request, model: str) -> ClaudeStreamEncoder:
        """An encoder for one Claude client stream."""
        return ClaudeStreamEncoder(model)

    def decode_error(self, status: int, body: bytes) -> ErrorInfo:
        """An upstream's Anthropic error body."""
        return decode_error(status, body)

    def encode_error(self, error: ErrorInfo) -> bytes:
        """The Anthropic error body for a client."""
        return encode_error(error)

    def encode_stream_error(self, error: ErrorInfo) -> bytes:
        """The `event: error` for a failure after the stream began."""
        return encode_stream_error(error)


CODEC: Codec = ClaudeCodec()
