"""Loaders and checks for the Gemini codec's tests (data in tests/formats/data/gemini)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from google.genai import types

from aiproxyapi.canonical import Event, Request, Response
from aiproxyapi.formats.codec import StreamDecoder
from aiproxyapi.formats.sse import SSEDecoder

DATA = Path(__file__).parent / "data" / "gemini"


def load(name: str) -> Any:
    """One JSON data file."""
    return msgspec.json.decode((DATA / name).read_bytes())


def request(value: Any) -> Request:
    """A canonical request written as JSON."""
    return msgspec.convert(value, Request)


def response(value: Any) -> Response:
    """A canonical response written as JSON."""
    return msgspec.convert(value, Response)


def events(value: Any) -> list[Event]:
    """Canonical stream events written as JSON."""
    return msgspec.convert(value, list[Event])


def decode_stream(raw: bytes, decoder: StreamDecoder, chunk: int = 37) -> list[Event]:
    """Feed recorded stream bytes, split at awkward places, through SSE framing and `decoder`."""
    sse = SSEDecoder()
    out: list[Event] = []
    for start in range(0, len(raw), chunk):
        for event in sse.feed(raw[start : start + chunk]):
            out += decoder.feed(event)
    for event in sse.close():
        out += decoder.feed(event)
    return out + decoder.close()


def sse_payloads(raw: bytes) -> list[Any]:
    """The JSON payload of every `data:` event in an SSE byte stream."""
    return [msgspec.json.decode(event.data) for event in SSEDecoder().feed(raw)]


def check_request_body(body: dict[str, Any]) -> None:
    """Fail unless google-genai's wire types (which forbid unknown fields) accept the body."""
    for content in body["contents"]:
        types.Content.model_validate(content)
    if "systemInstruction" in body:
        types.Content.model_validate(body["systemInstruction"])
    for tool in body.get("tools", []):
        types.Tool.model_validate(tool)
    if "toolConfig" in body:
        types.ToolConfig.model_validate(body["toolConfig"])
    if "generationConfig" in body:
        types.GenerationConfig.model_validate(body["generationConfig"])


def check_answer(body: dict[str, Any]) -> types.GenerateContentResponse:
    """Fail unless google-genai parses the answer (unknown fields are errors there)."""
    return types.GenerateContentResponse.model_validate(body)
