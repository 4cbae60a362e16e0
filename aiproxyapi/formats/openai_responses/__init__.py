"""OpenAI Responses codec (wire-formats §2, and the ChatGPT Codex backend of §7).

Where it sits in the flow: decodes a Responses client's request into the canonical request and
encodes its answers and streams; for OpenAI and Codex upstreams it encodes the request and
decodes their answers and streams. Pure and synchronous.

Anything the hub cannot model (hosted and custom tools, namespace tools, server-state fields,
unknown items) is kept in `extras["openai-responses"]` so a round trip through this dialect
loses nothing; other dialects never see it. `previous_response_id` and `conversation` only mean
something to OpenAI itself: the relay must refuse them for another upstream
(`portability_error` says when).
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import Request, Response
from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.formats.dialect import Format
from aiproxyapi.formats.openai_responses import errors
from aiproxyapi.formats.openai_responses.assemble import StreamFailed, assemble_from_stream
from aiproxyapi.formats.openai_responses.request_decode import decode_request, portability_error
from aiproxyapi.formats.openai_responses.request_encode import effort_for, encode_request
from aiproxyapi.formats.openai_responses.response import decode_response, encode_response
from aiproxyapi.formats.openai_responses.stream_decode import ResponsesStreamDecoder
from aiproxyapi.formats.openai_responses.stream_encode import ResponsesStreamEncoder

__all__ = [
    "CODEC",
    "ResponsesCodec",
    "ResponsesStreamDecoder",
    "ResponsesStreamEncoder",
    "StreamFailed",
    "assemble_from_stream",
    "effort_for",
    "portability_error",
]


class ResponsesCodec:
    """The OpenAI Responses dialect, both directions (see `formats.codec.Codec`)."""

    format = Format.OPENAI_RESPONSES

    def decode_request(self, body: dict[str, Any]) -> Request:
        """A client's Responses body as a canonical request."""
        return decode_request(body)

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        """The Responses body for a canonical request."""
        return encode_request(request, model)

    def decode_response(self, body: dict[str, Any], request: Request | None = None) -> Response:
        """An upstream Response object as a canonical answer."""
        return decode_response(body)

    def encode_response(self, response: Response, model: str) -> dict[str, Any]:
        """The client's Response object."""
        return encode_response(response, model)

    def stream_decoder(self, request: Request | None = None) -> ResponsesStreamDecoder:
        """A decoder for one upstream Responses stream."""
        return ResponsesStreamDecoder()

    def stream_encoder(self, request: Request, model: str) -> ResponsesStreamEncoder:
        """An encoder for one client Responses stream."""
        return ResponsesStreamEncoder(request, model)

    def decode_error(self, status: int, body: bytes) -> ErrorInfo:
        """An upstream error body (OpenAI envelope, Codex `detail`, usage limits)."""
        return errors.decode_error(status, body)

    def encode_error(self, error: ErrorInfo) -> bytes:
        """The OpenAI error envelope."""
        return errors.encode_error(error)

    def encode_stream_error(self, error: ErrorInfo) -> bytes:
        """`error` and `response.failed` events, for failures after the stream began."""
        return errors.encode_stream_error(error)


CODEC = ResponsesCodec()
