"""One scripted model answer, resolved against the request and ready for any dialect's encoder."""

from __future__ import annotations

from dataclasses import dataclass

from .openai_wire import Usage, split_text
from .replies import RecordedRequest, Reply, ToolCall

__all__ = ["Answer", "resolve"]


@dataclass(frozen=True)
class Answer:
    """Thinking, then text, then tool calls; serial makes the ids of one answer unique."""

    serial: int
    model: str
    text: str
    text_pieces: list[str]
    thinking: str | None
    thinking_pieces: list[str]
    signature: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str
    usage: Usage

    @property
    def has_text(self) -> bool:
        """Whether a text block/part/item is sent: always, unless tool calls stand alone."""
        return bool(self.text) or not self.tool_calls

    def call_id(self, index: int, prefix: str) -> str:
        """The scripted id of the index-th tool call, or a fresh one with the dialect's prefix."""
        given = self.tool_calls[index].id
        return given if given is not None else f"{prefix}fake{self.serial}_{index}"


def resolve(
    reply: Reply, record: RecordedRequest, serial: int, *, default_model: str = "fake-model"
) -> Answer:
    """Fill in the defaults that depend on the request: text naming the key, model, pieces."""
    key = record.key or ""
    text = key if reply.echoes_key else reply.text
    if text is None:
        text = f"hello from key {key[-6:]}"
    thinking = reply.thinking
    return Answer(
        serial=serial,
        model=reply.model or record.model or default_model,
        text=text,
        text_pieces=split_text(text, reply.chunks),
        thinking=thinking,
        thinking_pieces=split_text(thinking, reply.chunks) if thinking is not None else [],
        signature=reply.thinking_signature,
        tool_calls=reply.tool_calls,
        finish_reason=reply.finish_reason,
        usage=reply.usage,
    )
