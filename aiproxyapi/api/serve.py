"""The shared tail of every proxy route: relay the call, shape the HTTP response."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Response
from litestar.background_tasks import BackgroundTask
from litestar.response import Stream

from aiproxyapi.access import check_model
from aiproxyapi.api._types import HttpRequest
from aiproxyapi.api.guard import ClientGone, until_disconnect
from aiproxyapi.api.shortcuts import CACHE_HEADER, STREAM_HEADERS, Shortcuts, finish_after
from aiproxyapi.api.stream_response import RelayStream
from aiproxyapi.cache import CachedAnswer
from aiproxyapi.errors import ClientRequestError, GatewayError
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.gateway import Gateway
from aiproxyapi.relay import ClientCall, Inbound, Streaming, relay
from aiproxyapi.relay.plan import Plan
from aiproxyapi.relay.tokens import count_tokens
from aiproxyapi.routing import Route
from aiproxyapi.runtime import Runtime
from aiproxyapi.usage import UsageRecord

__all__ = [
    "COST_HEADER",
    "LATENCY_HEADER",
    "PRICING_HEADER",
    "admit",
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

_json = msgspec.json.Decoder()


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what is wrong."""
    try:
        value = _json.decode(body)
    except UnicodeError:
        raise ClientRequestError("the request body is not valid UTF-8") from None
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


def _route(runtime: Runtime, model: str) -> Route | None:
    # An unknown model is the relay's to refuse (and count); here it only feeds the allow-list.
    try:
        return runtime.registry.resolve(model)
    except GatewayError:
        return None


async def admit(gateway: Gateway, runtime: Runtime, inbound: Inbound, model: str) -> Route | None:
    """The key's policy applied to a call: model allow-list, then rates and budgets."""
    policy = runtime.client_keys.policy(inbound.client)
    route = _route(runtime, model)
    check_model(policy, model, route.model if route is not None else "")
    await gateway.admission.admit(policy, inbound.client, inbound.request_id, model)
    return route


async def serve_call(
    request: HttpRequest,
    gateway: Gateway,
    runtime: Runtime,
    inbound: Inbound,
    call: ClientCall,
) -> Response[bytes] | Stream:
    """Relay a client call and answer it; a client that leaves cancels the work."""
    route = await admit(gateway, runtime, inbound, call.model)
    try:
        return await _serve_admitted(request, gateway, runtime, inbound, call, route=route)
    except BaseException:
        await gateway.admission.release(inbound.client, inbound.request_id)
        raise


async def _serve_admitted(
    request: HttpRequest,
    gateway: Gateway,
    runtime: Runtime,
    inbound: Inbound,
    call: ClientCall,
    *,
    route: Route | None,
) -> Response[bytes] | Stream:
    shortcuts = Shortcuts(gateway, runtime, inbound, call)
    call = await shortcuts.splice_history(request)
    hit = await shortcuts.lookup(request, route.model if route is not None else "")
    if hit is not None:
        assert shortcuts.record is not None
        return shortcuts.replay(hit, cost_headers(shortcuts.record))
    try:
        result = await until_disconnect(request, relay(runtime, inbound, call, shortcuts.sink))
    except ClientGone:
        shortcuts.end_fill()
        return Response(b"", status_code=499)
    except TranslationError as exc:
        shortcuts.end_fill()
        raise ClientRequestError(exc.message, param=exc.param) from None
    except BaseException:
        shortcuts.end_fill()
        raise
    headers = {"x-request-id": inbound.request_id}
    if shortcuts.cache_on:
        headers[CACHE_HEADER] = "miss"
    if isinstance(result, Streaming):
        # A stream's cost is known only once it ends: it is in the usage record, not a header.
        if result.first_byte_ms is not None:
            headers[LATENCY_HEADER] = f"{result.first_byte_ms:.1f}"
        media = result.media_type
        upstream_chunks = result.chunks

        async def keep(parts: list[bytes]) -> None:
            await shortcuts.keep(CachedAnswer(200, media, True, parts))

        # Only an answer the cache or a conversation will keep is collected while it flows.
        chunks = finish_after(upstream_chunks, keep) if shortcuts.keeps_answers else upstream_chunks

        async def close_stream() -> None:
            # A client that leaves mid-stream cancels the sending task while the stream waits
            # at a yield; closing it here releases the upstream call now, not whenever GC runs.
            shortcuts.end_fill()
            for stream in (chunks, upstream_chunks):
                closer = getattr(stream, "aclose", None)
                if closer is not None:
                    await closer()

        return RelayStream(
            chunks,
            media_type=media,
            headers={**STREAM_HEADERS, **headers},
            background=BackgroundTask(close_stream),
        )
    await shortcuts.keep(CachedAnswer(result.status, result.content_type, False, [result.body]))
    if result.record is not None:
        headers.update(cost_headers(result.record))
    return Response(
        result.body, status_code=result.status, media_type=result.content_type, headers=headers
    )


async def serve_count(
    request: HttpRequest,
    runtime: Runtime,
    request_id: str,
    call: ClientCall,
    field: str,
    *,
    client: str,
) -> Response[bytes]:
    """Count a call's prompt tokens and answer `{field: n}`; estimates are marked in a header."""
    route = runtime.registry.resolve(call.model)
    policy = runtime.client_keys.policy(client)
    check_model(policy, call.model, route.model)
    plan = Plan(call, route)
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
