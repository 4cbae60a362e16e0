"""Logging: structured lines with a request id, optional rotating file, secrets scrubbed.

Secrets are kept out of log calls in the first place; the scrubber is the second line of
defence, replacing any known secret that slipped into a formatted line, whoever logged it.
"""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["REQUEST_ID", "configure_logging", "scrub", "set_secrets"]

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_ROOT = "aiproxyapi"
_MAX_FILE_BYTES = 10 * 1024 * 1024
_BACKUPS = 5


class _Scrubber:
    """The set of secrets no log line may contain."""

    def __init__(self) -> None:
        self.secrets: tuple[str, ...] = ()

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "[redacted]")
        return text


_scrubber = _Scrubber()


def scrub(text: str) -> str:
    """The text with every known secret replaced by `[redacted]`."""
    return _scrubber.scrub(text)


def set_secrets(secrets: Iterable[str]) -> None:
    """Replace the set of values the log scrubber removes (longest first)."""
    unique = {s for s in secrets if len(s) >= 4}
    _scrubber.secrets = tuple(sorted(unique, key=len, reverse=True))


class _LineFormatter(logging.Formatter):
    """`time level logger [request_id] message`, scrubbed, exceptions on one line each."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            message = f"{message} [{type(error).__name__}: {error}]"
        request_id = REQUEST_ID.get()
        line = (
            f"{stamp}.{int(record.msecs):03d}Z {record.levelname:<7} {record.name} "
            f"[{request_id}] {message}"
        )
        return _scrubber.scrub(line.replace("\n", "\\n"))


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message, error; scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": REQUEST_ID.get(),
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = f"{type(error).__name__}: {error}"
        # Scrubbing the encoded line covers secrets however JSON escaped their surroundings.
        return _scrubber.scrub(json.dumps(entry, ensure_ascii=False))


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file created 0600 whatever the umask (lines name callers and paths)."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)  # a file an older version left readable is closed up too
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def configure_logging(*, debug: bool, log_dir: Path | None, json_lines: bool = False) -> None:
    """Install the handlers: stderr always, a rotating `main.log` when `log_dir` is given."""
    formatter: logging.Formatter = _JsonFormatter() if json_lines else _LineFormatter()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        handlers.append(
            _PrivateRotatingFileHandler(
                log_dir / "main.log",
                maxBytes=_MAX_FILE_BYTES,
                backupCount=_BACKUPS,
                encoding="utf-8",
            )
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger(_ROOT).setLevel(logging.DEBUG if debug else logging.INFO)
    # Upstream URLs can carry keys in query strings; the HTTP client logs them at INFO.
    for noisy in ("httpx", "httpcore", "watchfiles"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)
