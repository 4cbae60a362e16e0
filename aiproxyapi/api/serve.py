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
from aiproxyapi.usage import UsageRecord

__all__ = [
    "COST_HEADER",
    "LATENCY_HEADER",
    "PRICING_HEADER",
    "cost_headers",
    "forwardable_headers",
    "parse_object",
    "serve_call",
    "serve_count",
]

COST_HEADER = "x-aiproxyapi-cost-usd"
PRICING_HEADER = "x-aiproxyapi-pricing"
LATENCY_HEADER = "x-aiproxyapi-latency-ms"
"""Whole-request latency; for a stream, the latency until the upstream's first bytes."""

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


def cost_headers(record: UsageRecord) -> dict[str, str]:
    """The cost, its pricing basis and the gateway latency of an answered request."""
    return {
        COST_HEADER: f"{record.cost_usd:.10f}".rstrip("0").rstrip(".") or "0",
        PRICING_HEADER: record.pricing or "unknown",
        LATENCY_HEADER: f"{record.latency_ms:.1f}",
    }


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
        # A stream's cost is known only once it ends: it is in the usage record, not a header.
        if result.first_byte_ms is not None:
            headers[LATENCY_HEADER] = f"{result.first_byte_ms:.1f}"
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
    if result.record is not None:
        headers.update(cost_headers(result.record))
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
