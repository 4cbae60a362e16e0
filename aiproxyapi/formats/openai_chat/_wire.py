"""The Chat request as typed Structs: what the decoder reads, so a bad shape fails with its path.

Only the fields the codec interprets are declared; everything else is picked up from the raw
object as extras. Messages are a tagged union on `role`, content parts on `type`.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

__all__ = [
    "Assistant",
    "AudioPart",
    "Body",
    "ChatMessage",
    "CustomCall",
    "Developer",
    "FilePart",
    "FunctionCall",
    "FunctionDef",
    "FunctionMessage",
    "ImagePart",
    "JsonSchema",
    "Mode",
    "RefusalPart",
    "ResponseFormat",
    "System",
    "TextPart",
    "ToolCall",
    "ToolChoiceObject",
    "ToolDef",
    "ToolMessage",
    "User",
    "UserPart",
]


# ---- content parts -------------------------------------------------------------------------


class _Part(msgspec.Struct, tag_field="type"):
    pass


class TextPart(_Part, tag="text"):
    text: str


class RefusalPart(_Part, tag="refusal"):
    refusal: str


class ImageURL(msgspec.Struct):
    url: str
    detail: str | None = None


class ImagePart(_Part, tag="image_url"):
    image_url: ImageURL


class InputAudio(msgspec.Struct):
    data: str
    format: str


class AudioPart(_Part, tag="input_audio"):
    input_audio: InputAudio


class FileRef(msgspec.Struct):
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class FilePart(_Part, tag="file"):
    file: FileRef


UserPart: TypeAlias = TextPart | ImagePart | AudioPart | FilePart


# ---- tool calls ----------------------------------------------------------------------------


class FunctionCall(msgspec.Struct):
    name: str
    arguments: str | dict[str, Any] = ""


class CustomCall(msgspec.Struct):
    name: str
    input: str = ""


class ToolCall(msgspec.Struct):
    # `type` is not a tag: some clients leave it out of function calls.
    id: str = ""
    type: str = "function"
    function: FunctionCall | None = None
    custom: CustomCall | None = None


# ---- messages ------------------------------------------------------------------------------


class _Message(msgspec.Struct, tag_field="role"):
    pass


class System(_Message, tag="system"):
    content: str | list[TextPart]


class Developer(System, tag="developer"):
    pass


class User(_Message, tag="user"):
    content: str | list[UserPart]


class Assistant(_Message, tag="assistant"):
    content: str | list[TextPart | RefusalPart] | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    reasoning_content: str | None = None


class ToolMessage(_Message, tag="tool"):
    tool_call_id: str
    content: str | list[TextPart | ImagePart] | None = None


class FunctionMessage(_Message, tag="function"):
    name: str
    content: str | None = None


ChatMessage: TypeAlias = System | Developer | User | Assistant | ToolMessage | FunctionMessage


# ---- tools and options ---------------------------------------------------------------------


class FunctionDef(msgspec.Struct):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class CustomDef(msgspec.Struct):
    name: str
    description: str | None = None
    format: dict[str, Any] | None = None


class ToolDef(msgspec.Struct):
    type: str = "function"
    function: FunctionDef | None = None
    custom: CustomDef | None = None


class Named(msgspec.Struct):
    name: str


Mode: TypeAlias = Literal["auto", "none", "required"]


class AllowedTools(msgspec.Struct):
    mode: Literal["auto", "required"]
    tools: list[ToolChoiceObject]


class ToolChoiceObject(msgspec.Struct):
    type: str = "function"
    function: Named | None = None
    custom: Named | None = None
    allowed_tools: AllowedTools | None = None


class JsonSchema(msgspec.Struct):
    name: str = ""
    description: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class ResponseFormat(msgspec.Struct):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchema | None = None


class StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class Body(msgspec.Struct):
    model: str
    messages: list[ChatMessage]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_completion_tokens: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    tools: list[ToolDef] | None = None
    tool_choice: Mode | ToolChoiceObject | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    user: str | None = None
    metadata: dict[str, Any] | None = None
    functions: list[FunctionDef] | None = None
    function_call: Literal["auto", "none"] | Named | None = None
