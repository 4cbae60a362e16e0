"""Request log files: one redacted file per exchange, error files, and the logs/ size budget.

A file is named `<path>-<UTC time>-<request id>.log` (`error-` in front for the failures
written when `request-log` is off) and holds the request line, headers and body, then the
response status, headers and body. Credential headers are replaced whole; every known secret
is scrubbed from the rest. Files are created 0600: bodies are the users' own data.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from aiproxyapi.logs import scrub

__all__ = ["CAPTURE_LIMIT", "REDACTED_HEADERS", "Exchange", "LogFiles", "render_exchange"]

log = logging.getLogger("aiproxyapi.observe")

CAPTURE_LIMIT = 1024 * 1024
"""Bytes of each body kept for a log file; the rest is counted, not kept."""

REDACTED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "x-goog-api-key",
        "api-key",
        "x-management-key",
        "cookie",
        "set-cookie",
    }
)
_REDACTED_QUERY = frozenset({"key", "auth_token", "api_key", "access_token", "token"})
_UNSAFE = re.compile(r"[^A-Za-z0-9]+")
_REDACTED = "[redacted]"


@dataclass(slots=True)
class Body:
    """The first CAPTURE_LIMIT bytes of a body, kept as the chunks that carried them."""

    chunks: list[bytes] = field(default_factory=list)
    kept: int = 0
    total: int = 0

    def add(self, chunk: bytes) -> None:
        """Count a chunk; keep it while under the limit."""
        self.total += len(chunk)
        if self.kept < CAPTURE_LIMIT and chunk:
            piece = chunk[: CAPTURE_LIMIT - self.kept]
            self.chunks.append(piece)
            self.kept += len(piece)

    def text(self) -> str:
        """The kept bytes as text, with a note when some were left out."""
        text = b"".join(self.chunks).decode("utf-8", "replace")
        if self.total > self.kept:
            text += f"\n[... {self.total - self.kept} more bytes not logged]"
        return text


@dataclass(slots=True)
class Exchange:
    """One request and its response as the log file shows them."""

    method: str
    path: str
    query: str
    client: str
    request_headers: list[tuple[bytes, bytes]]
    started: float = field(default_factory=time.time)
    request_body: Body = field(default_factory=Body)
    status: int | None = None
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_body: Body = field(default_factory=Body)
    finished: float | None = None

    @property
    def request_id(self) -> str:
        """The gateway's request id from the response headers, or `-`."""
        for name, value in self.response_headers:
            if name.lower() == b"x-request-id":
                return value.decode("latin-1")
        return "-"


def _headers(headers: list[tuple[bytes, bytes]]) -> str:
    lines = []
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1")
        value = _REDACTED if name.lower() in REDACTED_HEADERS else raw_value.decode("latin-1")
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def _query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode([(k, _REDACTED if k.lower() in _REDACTED_QUERY else v) for k, v in pairs])


def render_exchange(exchange: Exchange) -> str:
    """The log file text of an exchange, redacted."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exchange.started))
    url = exchange.path + (f"?{_query(exchange.query)}" if exchange.query else "")
    took = "" if exchange.finished is None else f"{(exchange.finished - exchange.started):.3f} s"
    text = (
        "=== REQUEST INFO ===\n"
        f"time: {stamp}\nrequest-id: {exchange.request_id}\nclient: {exchange.client}\n"
        f"{exchange.method} {url}\nduration: {took}\n\n"
        f"=== REQUEST HEADERS ===\n{_headers(exchange.request_headers)}\n\n"
        f"=== REQUEST BODY ===\n{exchange.request_body.text()}\n\n"
        f"=== RESPONSE ===\nstatus: {exchange.status if exchange.status is not None else '-'}\n\n"
        f"=== RESPONSE HEADERS ===\n{_headers(exchange.response_headers)}\n\n"
        f"=== RESPONSE BODY ===\n{exchange.response_body.text()}\n"
    )
    return scrub(text)


class LogFiles:
    """Writes request and error files into one logs dir and keeps the dir within its caps."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()

    def write(
        self, exchange: Exchange, *, error: bool, max_error_files: int, max_total_bytes: int
    ) -> Path | None:
        """Write one file (blocking: run it off the event loop); None when writing failed."""
        slug = _UNSAFE.sub("-", exchange.path).strip("-")[:60] or "root"
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(exchange.started))
        millis = int(exchange.started * 1000) % 1000
        name = f"{'error-' if error else ''}{slug}-{stamp}{millis:03d}-{exchange.request_id}.log"
        path = self.directory / name
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            data = render_exchange(exchange).encode("utf-8", "replace")
            # Written under a hidden name and renamed, so a reader never sees a partial file.
            temporary = self.directory / f".{name}.tmp"
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            temporary.replace(path)
            with self._lock:
                self._enforce(max_error_files, max_total_bytes)
        except OSError as exc:
            log.error("could not write the request log %s: %s", name, exc.strerror or exc)
            return None
        return path

    def _enforce(self, max_error_files: int, max_total_bytes: int) -> None:
        files = self._files()
        errors = [f for f in files if f[2].startswith("error-") and f[2].endswith(".log")]
        for _mtime, _size, name in errors[: max(0, len(errors) - max_error_files)]:
            self._remove(name)
        if max_total_bytes <= 0:
            return
        files = self._files()
        total = sum(size for _mtime, size, _name in files)
        # The live main.log stays; request logs and rotated main.log.N go oldest first.
        for _mtime, size, name in files:
            if total <= max_total_bytes:
                break
            if name != "main.log" and (name.endswith(".log") or name.startswith("main.log.")):
                self._remove(name)
                total -= size

    def _files(self) -> list[tuple[float, int, str]]:
        found = []
        with os.scandir(self.directory) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                        found.append((info.st_mtime, info.st_size, entry.name))
                except FileNotFoundError:
                    continue
        return sorted(found)

    def _remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / name).unlink()
