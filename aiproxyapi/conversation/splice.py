"""Putting history into a client's request and reading the answer back, in any dialect."""

from __future__ import annotations

from typing import Any

import msgspec

from aiproxyapi.canonical import Message, Request, Response, Role
from aiproxyapi.formats import Format, codec_for
from aiproxyapi.formats.sse import SSEDecoder, SSEEvent

__all__ = ["answer_message", "stream_answer_message", "with_history"]

_json = msgspec.json.Decoder()


def with_history(
    dialect: Format, body: dict[str, Any], model: str, history: list[Message]
) -> tuple[dict[str, Any], list[Message]]:
    """The client's body with `history` before its messages, and the messages it added."""
    codec = codec_for(dialect)
    request: Request = codec.decode_request({**body, "model": model})
    added = list(request.messages)
    request.messages = [*history, *added]
    encoded = codec.encode_request(request, model)
    if dialect is Format.GEMINI:
        encoded.pop("model", None)
    return encoded, added


def _message(response: Response) -> Message | None:
    if not response.parts:
        return None
    return Message(role=Role.ASSISTANT, parts=list(response.parts))


def answer_message(dialect: Format, body: bytes) -> Message | None:
    """The assistant turn of a complete answer in the client's dialect."""
    try:
        return _message(codec_for(dialect).decode_response(_json.decode(body)))
    except (msgspec.DecodeError, ValueError, TypeError, KeyError):
        return None


def stream_answer_message(dialect: Format, chunks: list[bytes], *, sse: bool) -> Message | None:
    """The assistant turn of a complete stream in the client's dialect."""
    from aiproxyapi.formats.openai_responses.assemble import StreamFailed, assemble_from_stream

    decoder = codec_for(dialect).stream_decoder()
    if sse:
        frames = SSEDecoder()
        events = [e for c in chunks for e in frames.feed(c)] + frames.close()
    else:
        # Gemini's default stream: one JSON array of whole responses.
        try:
            items = _json.decode(b"".join(chunks))
        except (msgspec.DecodeError, UnicodeError):
            return None
        events = [
            SSEEvent("", data, data) for data in (msgspec.json.encode(item) for item in items)
        ]
    try:
        canonical = [c for e in events if e.data for c in decoder.feed(e)] + decoder.close()
        return _message(assemble_from_stream(canonical))
    except (StreamFailed, ValueError, TypeError, KeyError):
        return None
