"""One upstream exchange for one candidate: build the body, send it, read the answer."""

from __future__ import annotations

import httpx

from aiproxyapi.errors import UpstreamFailure
from aiproxyapi.executors import Executor, UpstreamCall
from aiproxyapi.formats import Format
from aiproxyapi.relay.plan import Plan, UpstreamBody
from aiproxyapi.routing import Candidate
from aiproxyapi.runtime import Runtime

__all__ = ["UPSTREAM_BODY_LIMIT", "fetch", "open_candidate", "read_body"]

UPSTREAM_BODY_LIMIT = 64 * 1024 * 1024


async def open_candidate(
    runtime: Runtime, plan: Plan, candidate: Candidate, *, stream: bool
) -> tuple[Format, UpstreamBody, httpx.Response]:
    """Send the plan's body for this candidate; its dialect, the body sent, the open response."""
    executor = runtime.executors[candidate.credential.kind]
    upstream = plan.body_for(executor.dialect, candidate.upstream_model)
    response = await executor.open(
        UpstreamCall(
            credential=candidate.credential,
            upstream_model=candidate.upstream_model,
            body=upstream.body,
            stream=stream,
            # Dialect headers (anthropic-beta...) mean something only to the same dialect.
            forward_headers=plan.call.forward_headers if upstream.passthrough else (),
        )
    )
    return executor.dialect, upstream, response


async def fetch(executor: Executor, call: UpstreamCall) -> tuple[httpx.Response, bytes]:
    """Send a call and read its whole answer (bounded)."""
    response = await executor.open(call)
    try:
        return response, await read_body(response)
    finally:
        await response.aclose()


async def read_body(response: httpx.Response) -> bytes:
    """The whole upstream body, bounded; a broken or oversized body fails the attempt."""
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > UPSTREAM_BODY_LIMIT:
                raise UpstreamFailure("upstream answer exceeds the size limit", status=None)
            parts.append(chunk)
    except httpx.HTTPError as exc:
        raise UpstreamFailure(
            f"reading the answer failed ({type(exc).__name__})",
            status=None,
            timed_out=isinstance(exc, httpx.TimeoutException),
        ) from None
    return b"".join(parts)
