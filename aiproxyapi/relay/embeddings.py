"""Embeddings: OpenAI-compatible upstreams take the client's body as it is; Gemini is translated."""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec

from aiproxyapi.errors import ClientRequestError, GatewayError, UpstreamFailure
from aiproxyapi.executors import Action, UpstreamCall
from aiproxyapi.formats import Format
from aiproxyapi.relay.send import fetch
from aiproxyapi.relay.types import Completed, Inbound, UsageSink, build_record
from aiproxyapi.routing import Candidate
from aiproxyapi.runtime import Runtime

__all__ = ["embed"]

_json = msgspec.json.Decoder()


async def embed(
    runtime: Runtime, inbound: Inbound, body: dict[str, Any], sink: UsageSink
) -> Completed:
    """Serve an OpenAI embeddings request from an OpenAI-compatible or Gemini credential."""
    from aiproxyapi.formats import openai_embeddings

    inputs, model, encoding_format, _dimensions = openai_embeddings.decode_embeddings_request(body)
    route = runtime.registry.resolve(model)

    async def attempt(candidate: Candidate) -> tuple[Candidate, Completed]:
        executor = runtime.executors[candidate.credential.kind]
        if executor.dialect is Format.OPENAI_CHAT:
            upstream: dict[str, Any] = {**body, "model": candidate.upstream_model}
        elif executor.dialect is Format.GEMINI:
            from aiproxyapi.formats import gemini

            upstream = gemini.encode_embed_request(inputs, candidate.upstream_model)
        else:
            raise ClientRequestError(
                f"model {route.model} is served by a provider without an embeddings API",
                param="model",
            )
        call = UpstreamCall(
            credential=candidate.credential,
            upstream_model=candidate.upstream_model,
            body=msgspec.json.encode(upstream),
            action=Action.EMBED,
        )
        response, raw = await fetch(executor, call)
        if executor.dialect is Format.OPENAI_CHAT:
            return candidate, Completed(response.status_code, raw)
        from aiproxyapi.formats import gemini

        try:
            vectors = gemini.decode_embed_response(_json.decode(raw))
        except (msgspec.DecodeError, KeyError, TypeError, ValueError):
            raise UpstreamFailure("unreadable embeddings answer", status=502) from None
        tokens = sum(max(1, len(text) // 4) for text in inputs)
        answer = openai_embeddings.encode_embeddings_response(
            vectors, route.requested, tokens, encoding_format
        )
        return candidate, Completed(200, msgspec.json.encode(answer))

    try:
        candidate, answer = await runtime.dispatcher.dispatch(route, attempt)
    except GatewayError as error:
        sink(build_record(inbound, route, None, None, error.status, stream=False))
        raise
    # Counted under the credential that served it, like every other request.
    record = build_record(
        inbound, route, candidate, None, answer.status, stream=False, prices=runtime.prices
    )
    sink(record)
    return dataclasses.replace(answer, record=record)
