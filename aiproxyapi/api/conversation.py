"""Routes over a client key's shared conversations: read one, or clear it."""

from __future__ import annotations

import msgspec
from litestar import Response, delete, get

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.guard import begin
from aiproxyapi.conversation import check_conversation_id

__all__ = [
    "clear_conversation",
    "clear_default_conversation",
    "show_conversation",
    "show_default_conversation",
]

DEFAULT = "default"


async def _show(request: HttpRequest, conversation: str) -> Response[bytes]:
    gateway, _runtime, request_id, client = begin(request)
    conversation = check_conversation_id(conversation)
    messages = await gateway.conversations.load(client, conversation)
    body = {
        "id": conversation,
        "object": "conversation",
        "turns": len(messages),
        "messages": msgspec.to_builtins(messages),
    }
    return Response(
        msgspec.json.encode(body),
        media_type="application/json",
        headers={"x-request-id": request_id},
    )


async def _clear(request: HttpRequest, conversation: str) -> Response[bytes]:
    gateway, _runtime, request_id, client = begin(request)
    conversation = check_conversation_id(conversation)
    await gateway.conversations.clear(client, conversation)
    body = {"id": conversation, "object": "conversation.deleted", "deleted": True}
    return Response(
        msgspec.json.encode(body),
        media_type="application/json",
        headers={"x-request-id": request_id},
    )


@get("/v1/conversation")
async def show_default_conversation(request: HttpRequest) -> Response[bytes]:
    """The caller's default conversation (id `default`), oldest message first."""
    return await _show(request, DEFAULT)


@get("/v1/conversation/{conversation:str}")
async def show_conversation(request: HttpRequest, conversation: str) -> Response[bytes]:
    """One of the caller's conversations, oldest message first."""
    return await _show(request, conversation)


@delete("/v1/conversation", status_code=200)
async def clear_default_conversation(request: HttpRequest) -> Response[bytes]:
    """Forget the caller's default conversation."""
    return await _clear(request, DEFAULT)


@delete("/v1/conversation/{conversation:str}", status_code=200)
async def clear_conversation(request: HttpRequest, conversation: str) -> Response[bytes]:
    """Forget one of the caller's conversations."""
    return await _clear(request, conversation)
