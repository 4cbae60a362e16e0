"""Loaders for the Anthropic codec's test data in tests/formats/data/claude."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from aiproxyapi.canonical import Event, Request, Response
from aiproxyapi.formats.sse import SSEDecoder, SSEEvent

DATA = Path(__file__).parent / "data" / "claude"


def cases(folder: str) -> list[Path]:
    """The JSON case files of a folder, sorted by name."""
    return sorted((DATA / folder).glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    """One case file."""
    value: dict[str, Any] = msgspec.json.decode(path.read_bytes())
    return value


def request(value: Any) -> Request:
    """A canonical request written as JSON."""
    return msgspec.convert(value, Request)


def response(value: Any) -> Response:
    """A canonical response written as JSON."""
    return msgspec.convert(value, Response)


def events(value: Any) -> list[Event]:
    """Canonical stream events written as JSON."""
    return msgspec.convert(value, list[Event])


def sse_events(wire: bytes, chunk: int = 7) -> list[SSEEvent]:
    """A recorded transcript framed by the real SSE decoder, fed in small chunks."""
    decoder = SSEDecoder()
    framed: list[SSEEvent] = []
    for start in range(0, len(wire), chunk):
        framed += decoder.feed(wire[start : start + chunk])
    return framed + decoder.close()


def parse_stream(wire: bytes) -> list[tuple[str, Any]]:
    """(event name, parsed data) of every event in encoded stream bytes."""
    return [
        (event.event, msgspec.json.decode(event.data) if event.data else None)
        for event in sse_events(wire)
    ]
