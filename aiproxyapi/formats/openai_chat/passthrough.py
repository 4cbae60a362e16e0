"""The same-dialect fast path: request checks, `model` rewrite, usage from bodies and streams.

When client and upstream both speak Chat the body goes upstream as it came (only `model`
rewritten, usage asked for in streams), and the answer comes back byte for byte; these helpers
are all the relay needs for that.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from aiproxyapi.canonical import Usage
from aiproxyapi.formats.codec import TranslationError
from aiproxyapi.formats.openai_chat._usage import WireUsage, usage_from_wire

__all__ = [
    "ChatRequestError",
    "StreamTap",
    "decode_request",
    "prepare_passthrough",
    "usage_from_body",
]

_USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')


class ChatRequestError(TranslationError):
    """The client's body is not a usable Chat Completions request."""


class _UsageCarrier(msgspec.Struct):
    usage: WireUsage | None = None
    choices: list[Any] | None = None


_carrier_decoder = msgspec.json.Decoder(_UsageCarrier)
_any_decoder = msgspec.json.Decoder()


def decode_request(body: bytes) -> dict[str, Any]:
    """Parse and check the fields the gateway relies on; every other field is kept as it is."""
    try:
        payload = _any_decoder.decode(body)
    except UnicodeError:
        raise ChatRequestError("the request body is not valid UTF-8") from None
    except msgspec.DecodeError as exc:
        raise ChatRequestError(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ChatRequestError("the request body is nested too deeply") from None
    if not isinstance(payload, dict):
        raise ChatRequestError("the request body must be a JSON object")
    model = payload.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ChatRequestError("`model` is required and must be a non-empty string", "model")
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ChatRequestError("`messages` is required and must be a non-empty array", "messages")
    for index, message in enumerate(messages):
        _check_message(message, f"messages[{index}]")
    stream = payload.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise ChatRequestError("`stream` must be a boolean", "stream")
    return payload


def _check_message(message: Any, path: str) -> None:
    """The shape every Chat message has, checked even when the body is forwarded as it is."""
    if not isinstance(message, dict):
        raise ChatRequestError(f"`{path}` must be an object", path)
    if not isinstance(message.get("role"), str):
        raise ChatRequestError(f"`{path}.role` is required and must be a string", f"{path}.role")
    content = message.get("content")
    if content is not None and not isinstance(content, str | list):
        raise ChatRequestError(f"`{path}.content` must be a string or an array", f"{path}.content")


def prepare_passthrough(payload: dict[str, Any], upstream_model: str) -> tuple[bytes, bool]:
    """The upstream body: `model` rewritten, usage asked for in streams.

    Returns the body and whether the usage chunk was added by the gateway (and so must be
    withheld from a client that did not ask for it).
    """
    body = dict(payload)
    body["model"] = upstream_model
    added_usage = False
    if body.get("stream"):
        options = body.get("stream_options")
        if not isinstance(options, dict):
            options = {}
        if not options.get("include_usage"):
            body["stream_options"] = {**options, "include_usage": True}
            added_usage = True
    return msgspec.json.encode(body), added_usage


def usage_from_body(body: bytes) -> Usage | None:
    """Usage of a non-streaming answer, or None when it has none or is not JSON."""
    try:
        carrier = _carrier_decoder.decode(body)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        return None
    return usage_from_wire(carrier.usage) if carrier.usage else None


class StreamTap:
    """Watches relayed stream events for usage, and hides the usage chunk the gateway asked for."""

    __slots__ = ("done", "hide_usage_chunk", "usage")

    def __init__(self, hide_usage_chunk: bool) -> None:
        self.hide_usage_chunk = hide_usage_chunk
        self.usage: Usage | None = None
        self.done = False

    def keep(self, data: bytes) -> bool:
        """Inspect one event's data; whether it should reach the client."""
        if data == b"[DONE]":
            self.done = True
            return True
        if _USAGE_OBJECT.search(data) is None:
            return True
        try:
            carrier = _carrier_decoder.decode(data)
        except (msgspec.DecodeError, UnicodeError, RecursionError):
            return True
        if carrier.usage is not None:
            self.usage = usage_from_wire(carrier.usage)
        return not (self.hide_usage_chunk and not carrier.choices)
