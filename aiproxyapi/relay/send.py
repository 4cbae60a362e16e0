"""One upstream exchange for one candidate: build the body, send it, read the answer."""

from __future__ import annotations

import httpx

from aiproxyapi.executors import Executor, UpstreamCall
from aiproxyapi.executors.base import ANSWER_BODY_LIMIT, read_answer
from aiproxyapi.formats import Format
from aiproxyapi.relay.plan import Plan, UpstreamBody
from aiproxyapi.routing import Candidate
from aiproxyapi.runtime import Runtime

__all__ = ["UPSTREAM_BODY_LIMIT", "fetch", "open_candidate", "read_body"]

UPSTREAM_BODY_LIMIT = ANSWER_BODY_LIMIT


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
    return await read_answer(response)
