"""Incremental Server-Sent Events framing, independent of how the bytes are chunked."""

from __future__ import annotations

import re

__all__ = ["SSEDecoder", "SSEEvent", "SSETooLarge"]


class SSETooLarge(ValueError):
    """An event grew past the decoder's limit without ending (a line that never ends)."""


class SSEEvent:
    """One event: its `event:` name, its joined `data:` lines, and its bytes as framed on the wire."""

    __slots__ = ("data", "event", "raw")

    def __init__(self, event: str, data: bytes, raw: bytes) -> None:
        self.event = event
        self.data = data
        self.raw = raw

    def __repr__(self) -> str:
        return f"SSEEvent(event={self.event!r}, data={self.data[:60]!r})"


class SSEDecoder:
    """Feeds on byte chunks, yields complete events; line endings CRLF, CR or LF all work."""

    __slots__ = ("_buffer", "_limit", "_pending_cr")

    def __init__(self, limit: int = 8 * 1024 * 1024) -> None:
        self._buffer = b""
        self._pending_cr = False
        self._limit = limit

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events they complete."""
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if chunk.endswith(b"\r"):
            # A CR at the end may be the first half of a CRLF split across chunks.
            chunk = chunk[:-1]
            self._pending_cr = True
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\n\n" not in buffer:
            if len(buffer) > self._limit:
                raise SSETooLarge("an SSE event exceeded the size limit")
            self._buffer = buffer
            return []
        blocks = buffer.split(b"\n\n")
        self._buffer = blocks.pop()
        return [event for block in blocks if (event := _parse(block)) is not None]

    def feed_raw(self, chunk: bytes, markers: tuple[bytes, ...]) -> tuple[bytes, list[SSEEvent]]:
        """Like `feed`, but the complete events that need no look come back unparsed.

        Returns the bytes of the leading complete events that contain none of `markers`, exactly
        as `feed` would frame them (their raws joined), and, parsed, the events from the first one
        that contains a marker. A relay that only watches for a few events forwards the rest of
        a stream without building an event per block.
        """
        if self._pending_cr or b"\r" in chunk:
            return b"", self.feed(chunk)
        buffer = self._buffer + chunk if self._buffer else chunk
        end = _last_end(buffer, len(buffer))
        if end < 0 or buffer[0] in _BLANK or _may_drop(buffer, end):
            return b"", self.feed(chunk)
        cut = end
        for marker in markers:
            found = buffer.find(marker, 0, cut)
            if found >= 0:
                cut = min(cut, max(_last_end(buffer, found), 0))
        self._buffer = buffer[cut:]
        return buffer[:cut], self.feed(b"") if cut < end else []

    def close(self) -> list[SSEEvent]:
        """End of stream: an unterminated last event still counts."""
        rest = self._buffer + (b"\n" if self._pending_cr else b"")
        self._buffer, self._pending_cr = b"", False
        event = _parse(rest.rstrip(b"\n")) if rest.strip() else None
        return [event] if event is not None else []


# A block `feed` drops: empty or only whitespace, between two event ends (the pattern) or first
# in the buffer (which then starts with whitespace).
_BLANK = frozenset(b" \t\n\x0b\x0c")
_DROPPED_BLOCK = re.compile(rb"\n\n[ \t\n\x0b\x0c]*\n\n")
# Such a block starts right after an event end with a whitespace byte or a newline; looking for
# that first is one quick scan (a match is rare in real streams).
_BLANK_OPENING = re.compile(rb"\n\n[ \t\n\x0b\x0c]")


def _may_drop(buffer: bytes, end: int) -> bool:
    """Whether the events before `end` hold a block `feed` drops (a few substring scans first)."""
    if _BLANK_OPENING.search(buffer, 0, end) is None:
        return False
    return _DROPPED_BLOCK.search(buffer, 0, end) is not None


def _last_end(buffer: bytes, before: int) -> int:
    """Where the last event ending before `before` ends, as `split` cuts; -1 when none does.

    `split` cuts a run of newlines in pairs from its start, so in a run of three the third
    newline starts the next block (runs of four or more hold a block `feed` drops).
    """
    found = buffer.rfind(b"\n\n", 0, before)
    if found < 0:
        return -1
    start = found
    while start > 0 and buffer[start - 1] == 0x0A:
        start -= 1
    return start + (found + 2 - start) // 2 * 2


def _parse(block: bytes) -> SSEEvent | None:
    if block.startswith(b"data: ") and b"\n" not in block:
        # Nearly every event of a stream: one `data:` line and nothing else.
        return SSEEvent("", block[6:], block + b"\n\n")
    event = ""
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event = value.decode("utf-8", "replace")
    if not data and not event:
        # Comment-only blocks are keep-alives: relayed, never interpreted.
        return SSEEvent("", b"", block + b"\n\n") if block.strip() else None
    return SSEEvent(event, b"\n".join(data), block + b"\n\n")
