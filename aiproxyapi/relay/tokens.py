"""Token counting: asked of the upstream when its API can count, estimated locally otherwise.

Claude and Gemini upstreams count exactly. OpenAI-compatible and Responses upstreams have no
counting endpoint, so the gateway estimates: about four characters of text per token plus a
small overhead per message and tool, no tokenizer download. The estimate is marked as such.
"""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.canonical import (
    DocumentPart,
    ImagePart,
    Request,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from aiproxyapi.credential import Credential
from aiproxyapi.errors import UpstreamFailure
from aiproxyapi.executors import Action, UpstreamCall
from aiproxyapi.formats import Format
from aiproxyapi.relay.plan import Plan
from aiproxyapi.relay.send import fetch
from aiproxyapi.routing import Candidate
from aiproxyapi.runtime import Runtime

__all__ = ["TokenCount", "count_tokens", "estimate_tokens"]

_CHARS_PER_TOKEN = 4
_PER_MESSAGE = 4
_PER_IMAGE = 256
_json = msgspec.json.Decoder()


class TokenCount(msgspec.Struct, frozen=True):
    """A prompt's token count and whether an upstream counted it or the gateway estimated it."""

    tokens: int
    estimated: bool


def estimate_tokens(request: Request) -> int:
    """A local estimate of a request's prompt tokens."""
    chars = sum(len(part.text) for part in request.system)
    extra = 0
    for message in request.messages:
        extra += _PER_MESSAGE
        for part in message.parts:
            if isinstance(part, TextPart | ThinkingPart):
                chars += len(part.text)
            elif isinstance(part, ToolCallPart):
                chars += len(part.name) + len(part.arguments)
            elif isinstance(part, ToolResultPart):
                chars += sum(len(p.text) for p in part.content if isinstance(p, TextPart))
                extra += sum(_PER_IMAGE for p in part.content if isinstance(p, ImagePart))
            elif isinstance(part, ImagePart | DocumentPart):
                extra += _PER_IMAGE
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description) + len(msgspec.json.encode(tool.parameters))
    return max(1, chars // _CHARS_PER_TOKEN + extra)


async def count_tokens(runtime: Runtime, plan: Plan) -> TokenCount:
    """Count the prompt of a client call with the first candidate that can, else estimate."""

    async def attempt(candidate: Candidate) -> TokenCount:
        executor = runtime.executors[candidate.credential.kind]
        if executor.dialect not in (Format.CLAUDE, Format.GEMINI):
            return TokenCount(estimate_tokens(plan.canonical), estimated=True)
        body = _count_body(executor.dialect, plan.canonical, candidate.upstream_model)
        call = UpstreamCall(
            credential=candidate.credential,
            upstream_model=candidate.upstream_model,
            body=msgspec.json.encode(body),
            action=Action.COUNT_TOKENS,
        )
        _response, raw = await fetch(executor, call)
        return TokenCount(_read_count(executor.dialect, raw, candidate.credential), estimated=False)

    return await runtime.dispatcher.dispatch(plan.route, attempt)


def _count_body(dialect: Format, request: Request, model: str) -> dict[str, Any]:
    if dialect is Format.CLAUDE:
        from aiproxyapi.formats import claude

        return claude.count_tokens_body(request, model)
    from aiproxyapi.formats import gemini

    return gemini.encode_count_tokens(request, model)


def _read_count(dialect: Format, raw: bytes, credential: Credential) -> int:
    try:
        body = _json.decode(raw)
        value = body["input_tokens"] if dialect is Format.CLAUDE else body["totalTokens"]
        return int(value)
    except (msgspec.DecodeError, KeyError, TypeError, ValueError):
        raise UpstreamFailure(
            f"unreadable token count from {credential.label}", status=502
        ) from None
