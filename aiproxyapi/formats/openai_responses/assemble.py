"""A whole canonical answer rebuilt from decoded stream events.

The ChatGPT Codex backend answers only in streams (wire-formats §7.2); a client that asked for a
plain JSON answer gets one assembled from the stream's events.
"""

from __future__ import annotations

from aiproxyapi.canonical import (
    BlockDelta,
    BlockStart,
    Event,
    Part,
    Response,
    StreamEnd,
    StreamError,
    StreamStart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    UsageUpdate,
)
from aiproxyapi.formats.openai_responses._common import FMT

__all__ = ["StreamFailed", "assemble_from_stream"]


class StreamFailed(ValueError):
    """The stream carried an error, or ended before its terminal event."""

    def __init__(self, message: str, kind: str = "upstream_error", status: int = 502) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status


def assemble_from_stream(events: list[Event]) -> Response:
    """The non-streamed answer that the decoded events of a Responses stream describe.

    Raises StreamFailed on a StreamError or when no StreamEnd came (the stream was cut).
    """
    response = Response(id="", model="")
    blocks: dict[int, Part] = {}
    signatures: dict[int, tuple[str, str]] = {}
    ended = False
    for event in events:
        if isinstance(event, StreamStart):
            response.id, response.model, response.created = event.id, event.model, event.created
            if event.usage is not None:
                response.usage = event.usage
        elif isinstance(event, BlockStart):
            blocks[event.index] = _part(event)
        elif isinstance(event, BlockDelta) and event.index in blocks:
            part = blocks[event.index]
            if isinstance(part, ToolCallPart):
                part.arguments += event.text
            elif isinstance(part, TextPart | ThinkingPart):
                part.text += event.text
            if event.signature:
                signatures[event.index] = (event.signature, event.signature_source)
        elif isinstance(event, UsageUpdate):
            response.usage = event.usage
        elif isinstance(event, StreamEnd):
            response.stop_reason, response.stop_sequence = event.stop_reason, event.stop_sequence
            if event.usage is not None:
                response.usage = event.usage
            ended = True
        elif isinstance(event, StreamError):
            raise StreamFailed(event.message, event.kind, event.status)
    if not ended:
        raise StreamFailed("the stream ended before its terminal event")
    for index, (signature, source) in signatures.items():
        part = blocks[index]
        if isinstance(part, ThinkingPart):
            part.signature, part.signature_source = signature, source
    for part in blocks.values():
        if isinstance(part, ToolCallPart) and not part.arguments:
            part.arguments = "{}"
    response.parts = [blocks[index] for index in sorted(blocks)]
    return response


def _part(start: BlockStart) -> Part:
    if start.kind == "tool_call":
        return ToolCallPart(id=start.tool_id, name=start.tool_name, arguments="")
    if start.kind == "thinking":
        # The events came from this dialect's decoder: the reasoning is OpenAI's own.
        return ThinkingPart(signature_source=FMT)
    return TextPart(text="")
