"""Non-streamed answers: one dispatch, the answer read whole, translated when needed."""

from __future__ import annotations

import dataclasses

import msgspec

from aiproxyapi.canonical import Usage
from aiproxyapi.errors import UpstreamFailure
from aiproxyapi.formats import Format, codec_for, openai_chat
from aiproxyapi.relay.plan import Plan
from aiproxyapi.relay.send import open_candidate, read_body
from aiproxyapi.relay.types import Completed, Inbound, UsageSink, build_record
from aiproxyapi.routing import Candidate
from aiproxyapi.runtime import Runtime

__all__ = ["complete"]

_json = msgspec.json.Decoder()


async def complete(runtime: Runtime, inbound: Inbound, plan: Plan, sink: UsageSink) -> Completed:
    """Serve a non-streaming request; the client's answer in the client's dialect."""
    call = plan.call

    async def attempt(candidate: Candidate) -> tuple[Candidate, Completed, Usage | None]:
        dialect, upstream, response = await open_candidate(runtime, plan, candidate, stream=False)
        try:
            raw = await read_body(response)
        finally:
            await response.aclose()
        content_type = response.headers.get("content-type", "application/json")
        if upstream.passthrough:
            usage = _passthrough_usage(dialect, raw)
            return candidate, Completed(response.status_code, raw, content_type), usage
        # A 2xx answer the gateway cannot read is the upstream's fault: the next credential may
        # do better, so it fails the attempt rather than the request.
        try:
            answer = codec_for(dialect).decode_response(_json.decode(raw), plan.canonical)
        except (msgspec.DecodeError, ValueError, TypeError, KeyError, RecursionError) as exc:
            raise UpstreamFailure(
                f"unreadable upstream answer ({type(exc).__name__})", status=502
            ) from None
        body = codec_for(call.dialect).encode_response(answer, plan.route.requested)
        return candidate, Completed(200, msgspec.json.encode(body)), answer.usage

    candidate, answer, usage = await runtime.dispatcher.dispatch(plan.route, attempt)
    record = build_record(
        inbound, plan.route, candidate, usage, answer.status, stream=False, prices=runtime.prices
    )
    sink(record)
    return dataclasses.replace(answer, record=record)


def _passthrough_usage(dialect: Format, raw: bytes) -> Usage | None:
    if dialect is Format.OPENAI_CHAT:
        return openai_chat.usage_from_body(raw)
    try:
        return codec_for(dialect).decode_response(_json.decode(raw)).usage
    except (msgspec.DecodeError, ValueError, TypeError, KeyError, RecursionError):
        return None
