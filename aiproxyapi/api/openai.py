"""OpenAI-dialect routes: Chat Completions and the model list."""

from __future__ import annotations

import time

import msgspec
from litestar import Response, get, post
from litestar.response import Stream

from aiproxyapi.access import model_allowed
from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.body import read_json_body
from aiproxyapi.api.guard import begin
from aiproxyapi.api.serve import serve_call
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.formats import Format, openai_chat
from aiproxyapi.relay import ClientCall, Inbound

__all__ = ["chat_completions", "list_models"]


@post("/v1/chat/completions", status_code=200)
async def chat_completions(request: HttpRequest) -> Response[bytes] | Stream:
    """Serve a Chat Completions request, streaming or not."""
    gateway, runtime, request_id, client = begin(request)
    body = await read_json_body(request, runtime.config.limits.max_body_bytes)
    try:
        payload = openai_chat.decode_request(body)
    except openai_chat.ChatRequestError as exc:
        raise ClientRequestError(str(exc), param=exc.param) from None
    call = ClientCall(
        Format.OPENAI_CHAT, payload, payload["model"], stream=bool(payload.get("stream"))
    )
    inbound = Inbound("POST /v1/chat/completions", request_id, client)
    return await serve_call(request, gateway, runtime, inbound, call)


@get("/v1/models")
async def list_models(request: HttpRequest) -> Response[bytes]:
    """The routable models: OpenAI's list shape, or Anthropic's when the caller is a Claude client."""
    _gateway, runtime, request_id, client = begin(request)
    policy = runtime.client_keys.policy(client)
    entries = [e for e in runtime.registry.entries() if model_allowed(policy, e.id)]
    created = int(time.time())
    if "anthropic-version" in request.headers:
        data: object = {
            "data": [
                {
                    "type": "model",
                    "id": entry.id,
                    "display_name": entry.id,
                    "created_at": "1970-01-01T00:00:00Z",
                }
                for entry in entries
            ],
            "has_more": False,
            "first_id": entries[0].id if entries else None,
            "last_id": entries[-1].id if entries else None,
        }
    else:
        data = {
            "object": "list",
            "data": [
                {"id": entry.id, "object": "model", "created": created, "owned_by": entry.owned_by}
                for entry in entries
            ],
        }
    return Response(
        msgspec.json.encode(data),
        media_type="application/json",
        headers={"x-request-id": request_id},
    )
