"""The shared tail of every proxy route: relay the call, shape the HTTP response."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream

from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.guard import ClientGone, until_disconnect
from aiproxyapi.errors import ClientRequestError
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.gateway import Gateway
from aiproxyapi.relay import ClientCall, Inbound, Streaming, relay
from aiproxyapi.relay.plan import Plan
from aiproxyapi.relay.tokens import count_tokens
from aiproxyapi.runtime import Runtime

__all__ = ["forwardable_headers", "parse_object", "serve_call", "serve_count"]

_STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_json = msgspec.json.Decoder()


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong."""
    try:
        value = _json.decode(body)
    except msgspec.DecodeError as exc:
        raise ClientRequestError(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ClientRequestError("the request body is nested too deeply") from None
    if not isinstance(value, dict):
        raise ClientRequestError("the request body must be a JSON object")
    return value


def forwardable_headers(
    request: HttpRequest, names: tuple[str, ...]
) -> tuple[tuple[str, str], ...]:
    """The dialect headers of the client request that an upstream of its dialect should see."""
    return tuple((name, request.headers[name]) for name in names if name in request.headers)


async def serve_call(
    request: HttpRequest,
    gateway: Gateway,
    runtime: Runtime,
    inbound: Inbound,
    call: ClientCall,
) -> Response[bytes] | Stream:
    """Relay a client call and answer it; a client that leaves cancels the work."""
    try:
        result = await until_disconnect(
            request, relay(runtime, inbound, call, gateway.record_usage)
        )
    except ClientGone:
        return Response(b"", status_code=499)
    except TranslationError as exc:
        raise ClientRequestError(exc.message, param=exc.param) from None
    headers = {"x-request-id": inbound.request_id}
    if isinstance(result, Streaming):
        chunks = result.chunks

        async def close_stream() -> None:
            # A client that leaves mid-stream cancels the sending task while the stream waits
            # at a yield; closing it here releases the upstream call now, not whenever GC runs.
            closer = getattr(chunks, "aclose", None)
            if closer is not None:
                await closer()

        return Stream(
            chunks,
            media_type=result.media_type,
            headers={**_STREAM_HEADERS, **headers},
            background=BackgroundTask(close_stream),
        )
    return Response(
        result.body, status_code=result.status, media_type=result.content_type, headers=headers
    )


async def serve_count(
    request: HttpRequest, runtime: Runtime, request_id: str, call: ClientCall, field: str
) -> Response[bytes]:
    """Count a call's prompt tokens and answer `{field: n}`; estimates are marked in a header."""
    plan = Plan(call, runtime.registry.resolve(call.model))
    try:
        counted = await until_disconnect(request, count_tokens(runtime, plan))
    except TranslationError as exc:
        raise ClientRequestError(exc.message, param=exc.param) from None
    headers = {"x-request-id": request_id}
    if counted.estimated:
        headers["x-token-count"] = "estimated"
    return Response(
        msgspec.json.encode({field: counted.tokens}), media_type="application/json", headers=headers
    )
