"""OpenAI Responses route."""

from __future__ import annotations

from litestar import Response, post
from litestar.response import Stream

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.body import read_json_body
from aiproxyapi.api.guard import begin
from aiproxyapi.api.serve import parse_object, serve_call
from aiproxyapi.api.teach import check_body
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.formats import Format
from aiproxyapi.relay import ClientCall, Inbound

__all__ = ["create_response"]


@post("/v1/responses", status_code=200)
async def create_response(request: HttpRequest) -> Response[bytes] | Stream:
    """Serve a Responses API request, streaming or not."""
    gateway, runtime, request_id, client = begin(request)
    body = parse_object(await read_json_body(request, runtime.config.limits.max_body_bytes))
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ClientRequestError(
            "`model` is required and must be a non-empty string", param="model"
        )
    if "input" not in body:
        raise ClientRequestError("`input` is required", param="input")
    check_body("responses", body)
    call = ClientCall(Format.OPENAI_RESPONSES, body, model, stream=body.get("stream") is True)
    inbound = Inbound("POST /v1/responses", request_id, client)
    return await serve_call(request, gateway, runtime, inbound, call)
