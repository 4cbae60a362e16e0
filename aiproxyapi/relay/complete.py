"""Non-streamed answers: one dispatch, the answer read whole, translated when needed."""

from __future__ import annotations

import httpx
import msgspec

from aiproxyapi.canonical import Usage
from aiproxyapi.errors import UpstreamFailure
from aiproxyapi.executors import UpstreamCall
from aiproxyapi.formats import Format, codec_for, openai_chat
from aiproxyapi.relay.plan import Plan
from aiproxyapi.relay.types import Completed, Inbound, UsageSink, build_record
from aiproxyapi.routing import Candidate
from aiproxyapi.runtime import Runtime

__all__ = ["UPSTREAM_BODY_LIMIT", "complete", "read_body"]

UPSTREAM_BODY_LIMIT = 64 * 1024 * 1024

_json = msgspec.json.Decoder()


async def complete(runtime: Runtime, inbound: Inbound, plan: Plan, sink: UsageSink) -> Completed:
    """Serve a non-streaming request; the client's answer in the client's dialect."""
    call = plan.call

    async def attempt(candidate: Candidate) -> tuple[Candidate, Completed, Usage | None]:
        executor = runtime.executors[candidate.credential.kind]
        upstream = plan.body_for(executor.dialect, candidate.upstream_model)
        response = await executor.open(
            UpstreamCall(
                credential=candidate.credential,
                upstream_model=candidate.upstream_model,
                body=upstream.body,
                stream=False,
                forward_headers=call.forward_headers if upstream.passthrough else (),
            )
        )
        try:
            raw = await read_body(response)
        finally:
            await response.aclose()
        content_type = response.headers.get("content-type", "application/json")
        if upstream.passthrough:
            usage = _passthrough_usage(executor.dialect, raw)
            return candidate, Completed(response.status_code, raw, content_type), usage
        # A 2xx answer the gateway cannot read is the upstream's fault: the next credential may
        # do better, so it fails the attempt rather than the request.
        try:
            answer = codec_for(executor.dialect).decode_response(_json.decode(raw), plan.canonical)
        except (msgspec.DecodeError, ValueError, TypeError, KeyError, RecursionError) as exc:
            raise UpstreamFailure(
                f"unreadable upstream answer ({type(exc).__name__})", status=502
            ) from None
        body = codec_for(call.dialect).encode_response(answer, plan.route.requested)
        return candidate, Completed(200, msgspec.json.encode(body)), answer.usage

    candidate, answer, usage = await runtime.dispatcher.dispatch(plan.route, attempt)
    sink(build_record(inbound, plan.route, candidate, usage, answer.status, stream=False))
    return answer


def _passthrough_usage(dialect: Format, raw: bytes) -> Usage | None:
    if dialect is Format.OPENAI_CHAT:
        return openai_chat.usage_from_body(raw)
    try:
        return codec_for(dialect).decode_response(_json.decode(raw)).usage
    except (msgspec.DecodeError, ValueError, TypeError, KeyError, RecursionError):
        return None


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
