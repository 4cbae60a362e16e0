"""Gemini-dialect routes under /v1beta: models, generateContent, streams, countTokens."""

from __future__ import annotations

import msgspec
from litestar import Response, get, post
from litestar.response import Stream

from aiproxyapi.access import model_allowed
from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.body import read_json_body
from aiproxyapi.api.guard import begin
from aiproxyapi.api.serve import parse_object, serve_call, serve_count
from aiproxyapi.api.teach import check_body
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.formats import Format
from aiproxyapi.relay import ClientCall, Inbound
from aiproxyapi.routing import ModelEntry
from aiproxyapi.runtime import Runtime

__all__ = ["gemini_model", "gemini_models", "gemini_post"]

_METHODS = ("generateContent", "streamGenerateContent", "countTokens")


def _describe(entry: ModelEntry) -> dict[str, object]:
    return {
        "name": f"models/{entry.id}",
        "displayName": entry.id,
        "description": f"served by {entry.owned_by}",
        "supportedGenerationMethods": list(_METHODS),
    }


@get("/v1beta/models")
async def gemini_models(request: HttpRequest) -> Response[bytes]:
    """The routable models in Gemini's list shape."""
    _gateway, runtime, request_id, client = begin(request)
    policy = runtime.client_keys.policy(client)
    entries = [e for e in runtime.registry.entries() if model_allowed(policy, e.id)]
    body = {"models": [_describe(entry) for entry in entries]}
    return Response(
        msgspec.json.encode(body),
        media_type="application/json",
        headers={"x-request-id": request_id},
    )


@get("/v1beta/models/{name:str}")
async def gemini_model(request: HttpRequest, name: str) -> Response[bytes]:
    """One routable model in Gemini's shape."""
    _gateway, runtime, request_id, _client = begin(request)
    for entry in runtime.registry.entries():
        if entry.id == name:
            return Response(
                msgspec.json.encode(_describe(entry)),
                media_type="application/json",
                headers={"x-request-id": request_id},
            )
    runtime.registry.resolve(name)  # raises the dialect's not-found error
    raise ClientRequestError(f"model {name} not found", status=404, code="model_not_found")


@post("/v1beta/models/{target:str}", status_code=200)
async def gemini_post(request: HttpRequest, target: str) -> Response[bytes] | Stream:
    """`{model}:generateContent`, `:streamGenerateContent` (SSE with alt=sse) and `:countTokens`."""
    gateway, runtime, request_id, client = begin(request)
    model, _, method = target.rpartition(":")
    if not model or method not in _METHODS:
        raise ClientRequestError(
            f"unknown method {method!r}: use {', '.join(_METHODS)}", status=404, code="not_found"
        )
    body = parse_object(await read_json_body(request, runtime.config.limits.max_body_bytes))
    stream = method == "streamGenerateContent"
    # Without alt=sse a Gemini stream is one JSON array written piece by piece.
    sse = not stream or request.query_params.get("alt") == "sse"
    call = ClientCall(Format.GEMINI, body, model, stream=stream, sse=sse)
    if method == "countTokens":
        inner = body.get("generateContentRequest")
        check_body("gemini", inner if isinstance(inner, dict) and "contents" not in body else body)
        return await _count(request, runtime, request_id, call, client)
    check_body("gemini", body)
    inbound = Inbound(f"POST /v1beta/models/*:{method}", request_id, client)
    return await serve_call(request, gateway, runtime, inbound, call)


async def _count(
    request: HttpRequest, runtime: Runtime, request_id: str, call: ClientCall, client: str
) -> Response[bytes]:
    # countTokens bodies may wrap the request as {"generateContentRequest": {...}}.
    inner = call.body.get("generateContentRequest")
    if isinstance(inner, dict):
        call = ClientCall(Format.GEMINI, inner, call.model, stream=False)
    return await serve_count(request, runtime, request_id, call, "totalTokens", client=client)
