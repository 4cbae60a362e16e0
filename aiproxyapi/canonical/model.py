"""The canonical request, response and stream events: the hub every dialect translates through.

Decoders build these from a dialect's JSON; encoders write a dialect's JSON from them. Anything a
dialect carries that the hub has no field for goes into an `extras` bag keyed by the dialect, so a
round trip through the same dialect loses nothing and a different dialect can ignore it.
"""

from __future__ import annotations

import enum
from typing import Any, Literal, TypeAlias

import msgspec

from aiproxyapi.canonical.usage import Usage

__all__ = [
    "BlockDelta",
    "BlockStart",
    "BlockStop",
    "DocumentPart",
    "Event",
    "ImagePart",
    "Message",
    "Part",
    "Reasoning",
    "Request",
    "Response",
    "ResponseFormat",
    "Role",
    "StopReason",
    "StreamEnd",
    "StreamError",
    "StreamStart",
    "TextPart",
    "ThinkingPart",
    "Tool",
    "ToolCallPart",
    "ToolChoice",
    "ToolResultPart",
    "UsageUpdate",
]

Extras: TypeAlias = dict[str, Any]


class _Node(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of canonical nodes: keyword construction, defaults left out when encoded."""


# ---- content parts -------------------------------------------------------------------------


class TextPart(_Node, tag="text"):
    """Plain text. `extras` keeps per-block fields such as Anthropic `cache_control`."""

    text: str
    extras: Extras = msgspec.field(default_factory=dict)


class ImagePart(_Node, tag="image"):
    """An image, inline (base64 `data` with `media_type`) or by `url`."""

    media_type: str = ""
    data: str = ""
    url: str = ""
    detail: str = ""
    extras: Extras = msgspec.field(default_factory=dict)


class DocumentPart(_Node, tag="document"):
    """A file such as a PDF, inline (base64) or by URL or provider file id."""

    media_type: str = ""
    data: str = ""
    url: str = ""
    file_id: str = ""
    filename: str = ""
    extras: Extras = msgspec.field(default_factory=dict)


class ThinkingPart(_Node, tag="thinking"):
    """Reasoning text, with the vendor's opaque signature (or redacted/encrypted payload).

    `signature_source` names the dialect that issued the signature: signatures are replayed only
    to that vendor and dropped when crossing to another.
    """

    text: str = ""
    signature: str = ""
    redacted: str = ""
    signature_source: str = ""
    extras: Extras = msgspec.field(default_factory=dict)


class ToolCallPart(_Node, tag="tool_call"):
    """A call the model makes; `arguments` is the JSON text of the arguments object."""

    id: str
    name: str
    arguments: str = "{}"
    signature: str = ""
    """Gemini's `thoughtSignature` on a function call, replayed with it on the next turn."""
    signature_source: str = ""
    extras: Extras = msgspec.field(default_factory=dict)


class ToolResultPart(_Node, tag="tool_result"):
    """The result of a tool call, sent back by the client."""

    tool_call_id: str
    content: list[TextPart | ImagePart] = msgspec.field(default_factory=list)
    is_error: bool = False
    name: str = ""
    """The called tool's name when known (Gemini needs it on the result)."""
    extras: Extras = msgspec.field(default_factory=dict)


Part: TypeAlias = TextPart | ImagePart | DocumentPart | ThinkingPart | ToolCallPart | ToolResultPart


class Role(enum.Enum):
    """Who speaks a turn; tool results travel in user turns, as Anthropic and Gemini want."""

    USER = "user"
    ASSISTANT = "assistant"


class Message(_Node):
    """One conversation turn."""

    role: Role
    parts: list[Part] = msgspec.field(default_factory=list)
    extras: Extras = msgspec.field(default_factory=dict)


# ---- request -------------------------------------------------------------------------------


class Tool(_Node):
    """A function the model may call; `parameters` is a JSON schema object."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = msgspec.field(default_factory=dict)
    strict: bool | None = None
    extras: Extras = msgspec.field(default_factory=dict)


class ToolChoice(_Node):
    """Whether and which tools the model must call."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str = ""


class Reasoning(_Node):
    """A reasoning request: an effort level, a token budget, or both.

    `effort` is one of none, minimal, low, medium, high, xhigh, max, auto; `budget` is tokens
    (-1 dynamic, 0 off). `summary` is the Responses summary setting, when asked for.
    """

    effort: str = ""
    budget: int | None = None
    summary: str = ""
    include_thoughts: bool | None = None


class ResponseFormat(_Node):
    """Structured output: free text, any JSON object, or JSON matching a schema."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str = ""
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class Request(_Node):
    """A model request in no particular dialect."""

    model: str
    messages: list[Message] = msgspec.field(default_factory=list)
    system: list[TextPart] = msgspec.field(default_factory=list)
    tools: list[Tool] = msgspec.field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = msgspec.field(default_factory=list)
    seed: int | None = None
    stream: bool = False
    include_usage: bool = False
    """The client asked for usage in the stream (OpenAI Chat `stream_options.include_usage`)."""
    reasoning: Reasoning | None = None
    response_format: ResponseFormat | None = None
    user: str = ""
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    extras: Extras = msgspec.field(default_factory=dict)
    """Fields of the source dialect the hub does not model, keyed by dialect name."""


# ---- response ------------------------------------------------------------------------------


class StopReason(enum.Enum):
    """Why the model stopped, in the hub's words (see wire-formats §9.1 for each dialect)."""

    END = "end"
    STOP_SEQUENCE = "stop_sequence"
    MAX_TOKENS = "max_tokens"
    TOOL_USE = "tool_use"
    CONTENT_FILTER = "content_filter"
    PAUSE = "pause"
    ERROR = "error"


class Response(_Node):
    """A complete, non-streamed answer."""

    id: str
    model: str
    parts: list[Part] = msgspec.field(default_factory=list)
    stop_reason: StopReason = StopReason.END
    stop_sequence: str = ""
    usage: Usage = msgspec.field(default_factory=Usage)
    created: int = 0
    extras: Extras = msgspec.field(default_factory=dict)


# ---- stream events -------------------------------------------------------------------------
# A stream is StreamStart, then blocks (each opened, fed and closed; blocks are numbered in the
# order they open and may interleave only where the source dialect interleaves them), usage
# updates anywhere, and StreamEnd; or a StreamError at any point after StreamStart.


class StreamStart(_Node, tag="start"):
    """The answer begins."""

    id: str
    model: str
    created: int = 0
    usage: Usage | None = None
    """Input usage known at the start (Anthropic reports it in message_start)."""


class BlockStart(_Node, tag="block_start"):
    """A content block opens: text, thinking, or a tool call (with its id and name)."""

    index: int
    kind: Literal["text", "thinking", "tool_call"]
    tool_id: str = ""
    tool_name: str = ""


class BlockDelta(_Node, tag="block_delta"):
    """More of a block: text, thinking text, or a fragment of a tool call's JSON arguments."""

    index: int
    text: str = ""
    signature: str = ""
    """A thinking block's signature, or a Gemini thought signature on a tool call."""
    signature_source: str = ""
    """The dialect that issued `signature`: encoders re-emit it only to that same dialect."""
    redacted: str = ""
    """An opaque redacted-thinking payload (same issuer rule as `signature`)."""


class BlockStop(_Node, tag="block_stop"):
    """A block is complete."""

    index: int


class UsageUpdate(_Node, tag="usage"):
    """Usage so far (cumulative); the last one wins."""

    usage: Usage


class StreamEnd(_Node, tag="end"):
    """The answer is complete."""

    stop_reason: StopReason = StopReason.END
    stop_sequence: str = ""
    usage: Usage | None = None


class StreamError(_Node, tag="error"):
    """The upstream failed after the stream began."""

    message: str
    kind: str = "server_error"
    status: int = 500


Event: TypeAlias = (
    StreamStart | BlockStart | BlockDelta | BlockStop | UsageUpdate | StreamEnd | StreamError
)
