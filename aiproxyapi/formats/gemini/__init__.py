"""Google Gemini generateContent (v1beta) codec (wire-formats §5; the Code Assist envelope of §6).

Where it sits in the flow: decodes a Gemini client's request (the model comes from the URL; the
relay injects it as "model") and encodes its answers, streams and errors; for Gemini upstreams it
encodes the request body (no model in it) and decodes answers, streams and errors. Pure and
synchronous.

Gemini sends no tool-call ids, so the codec makes deterministic ones (`call_<name>_<n>`) and
pairs function responses with their calls by id, else by name in call order. What the hub has
no field for is kept in `extras["gemini"]` as fragments of a Gemini body and laid back over it
when the request or answer goes out in this dialect again; thought signatures go only to Gemini.

The answer decoders accept the canonical request as an optional argument: with it, tool names
Gemini-sanitised on the way out are mapped back and call ids continue the conversation's
numbering.
"""

from __future__ import annotations

from typing import Any

from aiproxyapi.canonical import Request, Response
from aiproxyapi.formats.codec import ErrorInfo
from aiproxyapi.formats.dialect import Format
from aiproxyapi.formats.gemini import _errors
from aiproxyapi.formats.gemini._common import gemini_name
from aiproxyapi.formats.gemini._endpoints import (
    decode_count_tokens_response,
    decode_embed_response,
    encode_count_tokens,
    encode_embed_request,
    wrap_code_assist,
)
from aiproxyapi.formats.gemini._request_decode import decode_request
from aiproxyapi.formats.gemini._request_encode import encode_request
from aiproxyapi.formats.gemini._response import (
    decode_response,
    encode_response,
    unwrap_code_assist_chunk,
)
from aiproxyapi.formats.gemini._schema import clean_schema
from aiproxyapi.formats.gemini._stream_decode import GeminiStreamDecoder
from aiproxyapi.formats.gemini._stream_encode import GeminiStreamEncoder

__all__ = [
    "CODEC",
    "GeminiCodec",
    "GeminiStreamDecoder",
    "GeminiStreamEncoder",
    "clean_schema",
    "decode_count_tokens_response",
    "decode_embed_response",
    "decode_request_for",
    "encode_count_tokens",
    "encode_embed_request",
    "gemini_name",
    "json_array_stream_encoder",
    "unwrap_code_assist_chunk",
    "wrap_code_assist",
]


def decode_request_for(body: dict[str, Any], model: str, *, stream: bool) -> Request:
    """A client's body with the model and streaming taken from the URL."""
    request = decode_request(body)
    request.model = model.removeprefix("models/")
    request.stream = stream
    return request


def json_array_stream_encoder(request: Request, model: str) -> GeminiStreamEncoder:
    """An encoder for `:streamGenerateContent` without `alt=sse` (one growing JSON array)."""
    return GeminiStreamEncoder(request, model, sse=False)


class GeminiCodec:
    """The Gemini dialect, both directions (see `formats.codec.Codec`)."""

    format = Format.GEMINI

    def decode_request(self, body: dict[str, Any]) -> Request:
        """A client's Gemini body as a canonical request (an injected "model" key is read)."""
        return decode_request(body)

    def encode_request(self, request: Request, model: str) -> dict[str, Any]:
        """The Gemini body for a canonical request; `model` picks level vs budget thinking."""
        return encode_request(request, model)

    def decode_response(self, body: dict[str, Any], request: Request | None = None) -> Response:
        """An upstream answer (plain or Code Assist wrapped) as a canonical response."""
        return decode_response(body, request)

    def encode_response(self, response: Response, model: str) -> dict[str, Any]:
        """The client's GenerateContentResponse."""
        return encode_response(response, model)

    def stream_decoder(self, request: Request | None = None) -> GeminiStreamDecoder:
        """A decoder for one upstream `alt=sse` stream."""
        return GeminiStreamDecoder(request)

    def stream_encoder(
        self, request: Request, model: str, *, sse: bool = True
    ) -> GeminiStreamEncoder:
        """An encoder for one client stream (`sse=False`: the JSON-array framing)."""
        return GeminiStreamEncoder(request, model, sse=sse)

    def decode_error(self, status: int, body: bytes) -> ErrorInfo:
        """An upstream error body (google.rpc.Status, possibly in an array)."""
        return _errors.decode_error(status, body)

    def encode_error(self, error: ErrorInfo) -> bytes:
        """The google.rpc.Status envelope, with RetryInfo when a retry hint is known."""
        return _errors.encode_error(error)

    def encode_stream_error(self, error: ErrorInfo) -> bytes:
        """`data: {"error": {...}}`, for failures after the stream began."""
        return _errors.encode_stream_error(error)


CODEC = GeminiCodec()
