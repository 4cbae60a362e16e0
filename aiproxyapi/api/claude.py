"""Anthropic-dialect routes: Messages and token counting."""

from __future__ import annotations

from litestar import Response, post
from litestar.response import Stream

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.body import read_json_body
from aiproxyapi.api.guard import begin
from aiproxyapi.api.serve import forwardable_headers, parse_object, serve_call, serve_count
from aiproxyapi.api.teach import check_body
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.formats import Format
from aiproxyapi.relay import ClientCall, Inbound

__all__ = ["count_message_tokens", "messages"]

# Anthropic's own headers reach an Anthropic upstream; never the client's key.
_FORWARD = ("anthropic-version", "anthropic-beta")


def _model_of(body: dict[str, object]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ClientRequestError(
            "`model` is required and must be a non-empty string", param="model"
        )
    return model


@post("/v1/messages", status_code=200)
async def messages(request: HttpRequest) -> Response[bytes] | Stream:
    """Serve an Anthropic Messages request, streaming or not."""
    gateway, runtime, request_id, client = begin(request)
    body = parse_object(await read_json_body(request, runtime.config.limits.max_body_bytes))
    model = _model_of(body)
    if not isinstance(body.get("messages"), list):
        raise ClientRequestError("`messages` is required and must be an array", param="messages")
    check_body("messages", body)
    call = ClientCall(
        Format.CLAUDE,
        body,
        model,
        stream=body.get("stream") is True,
        forward_headers=forwardable_headers(request, _FORWARD),
    )
    inbound = Inbound("POST /v1/messages", request_id, client)
    return await serve_call(request, gateway, runtime, inbound, call)


@post("/v1/messages/count_tokens", status_code=200)
async def count_message_tokens(request: HttpRequest) -> Response[bytes]:
    """Count a Messages request's input tokens (exact from Claude or Gemini, else estimated)."""
    _gateway, runtime, request_id, client = begin(request)
    body = parse_object(await read_json_body(request, runtime.config.limits.max_body_bytes))
    model = _model_of(body)
    check_body("messages", body)
    call = ClientCall(Format.CLAUDE, body, model, stream=False)
    return await serve_count(request, runtime, request_id, call, "input_tokens", client=client)
