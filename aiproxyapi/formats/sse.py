"""Incremental Server-Sent Events framing, independent of how the bytes are chunked."""

from __future__ import annotations

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

    def close(self) -> list[SSEEvent]:
        """End of stream: an unterminated last event still counts."""
        rest = self._buffer + (b"\n" if self._pending_cr else b"")
        self._buffer, self._pending_cr = b"", False
        event = _parse(rest.rstrip(b"\n")) if rest.strip() else None
        return [event] if event is not None else []


def _parse(block: bytes) -> SSEEvent | None:
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
