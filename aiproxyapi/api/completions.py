"""Legacy OpenAI Completions and embeddings, served through the chat and embeddings paths."""

from __future__ import annotations

from collections.abc import AsyncIterator

import msgspec
from litestar import Response, post
from litestar.response import Stream

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.body import read_json_body
from aiproxyapi.api.guard import ClientGone, begin, until_disconnect
from aiproxyapi.api.serve import admit, parse_object, serve_call
from aiproxyapi.api.shortcuts import CACHE_HEADER
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.formats import Format, codec_for, openai_completions
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.sse import SSEDecoder
from aiproxyapi.relay import ClientCall, Inbound
from aiproxyapi.relay.embeddings import embed

__all__ = ["completions", "embeddings"]

_json = msgspec.json.Decoder()


@post("/v1/completions", status_code=200)
async def completions(request: HttpRequest) -> Response[bytes] | Stream:
    """A legacy Completions request, converted to a chat request and back."""
    gateway, runtime, request_id, client = begin(request)
    body = parse_object(await read_json_body(request, runtime.config.limits.max_body_bytes))
    try:
        canonical = openai_completions.decode_completions_request(body)
    except TranslationError as exc:
        raise ClientRequestError(exc.message, param=exc.param) from None
    chat = codec_for(Format.OPENAI_CHAT)
    chat_body = chat.encode_request(canonical, canonical.model)
    call = ClientCall(Format.OPENAI_CHAT, chat_body, canonical.model, stream=canonical.stream)
    inbound = Inbound("POST /v1/completions", request_id, client)
    answer = await serve_call(request, gateway, runtime, inbound, call)
    headers = {"x-request-id": request_id}
    if CACHE_HEADER in answer.headers:
        headers[CACHE_HEADER] = answer.headers[CACHE_HEADER]
    if isinstance(answer, Stream):
        encoder = openai_completions.CompletionsStreamEncoder(canonical, canonical.model)
        return Stream(
            _rewrite_stream(answer.iterator, encoder),  # type: ignore[arg-type]
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache"},
        )
    if answer.status_code != 200:
        return answer
    chat_answer = chat.decode_response(_json.decode(answer.content))
    text_answer = openai_completions.encode_completions_response(chat_answer, canonical.model)
    return Response(
        msgspec.json.encode(text_answer), media_type="application/json", headers=headers
    )


async def _rewrite_stream(
    chunks: AsyncIterator[bytes], encoder: openai_completions.CompletionsStreamEncoder
) -> AsyncIterator[bytes]:
    decoder = codec_for(Format.OPENAI_CHAT).stream_decoder()
    frames = SSEDecoder()
    async for chunk in chunks:
        out = b"".join(
            encoder.feed(event)
            for frame in frames.feed(chunk)
            if frame.data
            for event in decoder.feed(frame)
        )
        if out:
            yield out
    tail = b"".join(encoder.feed(event) for event in decoder.close()) + encoder.close()
    if tail:
        yield tail


@post("/v1/embeddings", status_code=200)
async def embeddings(request: HttpRequest) -> Response[bytes]:
    """OpenAI embeddings from an OpenAI-compatible or Gemini credential."""
    gateway, runtime, request_id, client = begin(request)
    body = parse_object(await read_json_body(request, runtime.config.limits.max_body_bytes))
    inbound = Inbound("POST /v1/embeddings", request_id, client)
    model = body.get("model")
    if isinstance(model, str):
        await admit(gateway, runtime, inbound, model)
    try:
        answer = await until_disconnect(
            request, embed(runtime, inbound, body, gateway.record_usage)
        )
    except ClientGone:
        return Response(b"", status_code=499)
    except TranslationError as exc:
        raise ClientRequestError(exc.message, param=exc.param) from None
    finally:
        # Embeddings always leave a usage record, except when the body is refused first.
        await gateway.admission.release(client, request_id)
    return Response(
        answer.body,
        status_code=answer.status,
        media_type=answer.content_type,
        headers={"x-request-id": request_id},
    )
