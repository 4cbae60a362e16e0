"""Per-candidate upstream bodies: forwarded as they are when the dialects match, else translated.

Same dialect on both sides is a passthrough: the client's body goes upstream with only `model`
rewritten (fields the gateway does not know survive). Otherwise the client's body is decoded once
into the canonical request and encoded in each candidate's upstream dialect.
"""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.canonical import Reasoning, Request
from aiproxyapi.formats import Format, codec_for, openai_chat
from aiproxyapi.relay.types import ClientCall
from aiproxyapi.routing import Route

__all__ = ["Plan", "UpstreamBody"]

# Dialects that carry the model in the body (Gemini carries it in the URL).
_MODEL_IN_BODY = frozenset({Format.OPENAI_CHAT, Format.OPENAI_RESPONSES, Format.CLAUDE})


class UpstreamBody(msgspec.Struct, frozen=True):
    """The bytes to send, and how the answer must be read back."""

    body: bytes
    passthrough: bool
    hide_usage_chunk: bool = False
    """OpenAI Chat passthrough: the gateway asked for the usage chunk, the client did not."""


class Plan:
    """Builds the upstream body of one client call for any candidate's dialect."""

    __slots__ = ("_canonical", "call", "route")

    def __init__(self, call: ClientCall, route: Route) -> None:
        self.call = call
        self.route = route
        self._canonical: Request | None = None

    @property
    def canonical(self) -> Request:
        """The client's request in the canonical model, decoded on first use."""
        if self._canonical is None:
            self._canonical = self._decode()
        return self._canonical

    def body_for(self, dialect: Format, upstream_model: str) -> UpstreamBody:
        """The upstream body for a candidate speaking `dialect`."""
        if dialect is self.call.dialect and self.route.thinking is None and self.call.sse:
            # Gemini's JSON-array stream framing differs from the upstream's SSE: translate it.
            return self._passthrough(upstream_model)
        if self.call.dialect is Format.OPENAI_RESPONSES and dialect is not Format.OPENAI_RESPONSES:
            from aiproxyapi.formats import openai_responses

            refusal = openai_responses.portability_error(self.canonical)
            if refusal is not None:
                raise refusal
        encoded = codec_for(dialect).encode_request(self.canonical, upstream_model)
        return UpstreamBody(msgspec.json.encode(encoded), passthrough=False)

    def _passthrough(self, upstream_model: str) -> UpstreamBody:
        call = self.call
        if call.dialect is Format.OPENAI_CHAT:
            body, hidden = openai_chat.prepare_passthrough(call.body, upstream_model)
            return UpstreamBody(body, passthrough=True, hide_usage_chunk=hidden)
        if call.dialect is Format.CLAUDE:
            from aiproxyapi.formats import claude

            prepared = claude.prepare_passthrough(call.body, upstream_model)
            return UpstreamBody(msgspec.json.encode(prepared), passthrough=True)
        payload: dict[str, Any] = dict(call.body)
        if call.dialect in _MODEL_IN_BODY:
            payload["model"] = upstream_model
        return UpstreamBody(msgspec.json.encode(payload), passthrough=True)

    def _decode(self) -> Request:
        call = self.call
        body = call.body if call.dialect in _MODEL_IN_BODY else {**call.body, "model": call.model}
        request = codec_for(call.dialect).decode_request(body)
        request.model = self.route.model
        request.stream = call.stream
        thinking = self.route.thinking
        if thinking is not None:
            # The name suffix wins over the body's effort and budget; the rest of its ask stays.
            asked = request.reasoning or Reasoning()
            request.reasoning = Reasoning(
                effort=thinking.level,
                budget=thinking.budget,
                summary=asked.summary,
                include_thoughts=asked.include_thoughts,
            )
        return request
