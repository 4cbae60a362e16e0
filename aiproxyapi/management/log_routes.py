"""`/logs` (tail and clear the gateway log) and `/request-error-logs` (list and download).

Both read the directory `logging-to-file` writes to. The tail answers
`{lines, line-count, latest-timestamp}` (unix seconds with milliseconds): `after` keeps lines newer
than a unix time, `limit`
keeps the newest lines. Log names from a request are matched against the directory listing,
never joined into a path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Response, delete, get

from aiproxyapi.gateway import log_dir_for
from aiproxyapi.management._http import CPA_HEADERS, ManagementError, MgmtRequest, json_response
from aiproxyapi.management.context import context_of

__all__ = ["clear_logs", "download_error_log", "list_error_logs", "tail_logs"]

_MAIN = "main.log"
_MAX_LINES = 5000


def _log_dir(request: MgmtRequest) -> Path:
    gateway = context_of(request).gateway
    return log_dir_for(gateway.runtime.config, gateway.config_path)


def _stamp(line: str) -> float | None:
    """A line's time with its milliseconds, so a poll never skips lines of the same second."""
    token = line.split(" ", 1)[0].rstrip("Z")
    for layout in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(token[:23], layout).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


def _seconds(stamp: float) -> float:
    return round(stamp, 3)


def _tail(path: Path, after: float, limit: int) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return {"lines": [], "line-count": 0, "latest-timestamp": _seconds(after)}
    lines = text.splitlines()
    latest = after
    kept: list[str] = []
    current: float | None = None
    for line in lines:
        current = _stamp(line) or current
        if current is not None:
            latest = max(latest, current)
        if not after or (current is not None and current > after):
            kept.append(line)
    return {"lines": kept[-limit:], "line-count": len(lines), "latest-timestamp": _seconds(latest)}


def _number(raw: str | None, default: float, name: str) -> float:
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ManagementError(400, f"invalid {name}") from None
    if value < 0:
        raise ManagementError(400, f"invalid {name}")
    return value


@get("/logs")
async def tail_logs(request: MgmtRequest) -> Response[bytes]:
    """The newest lines of the gateway log."""
    if not context_of(request).gateway.runtime.config.logging_to_file:
        raise ManagementError(400, "logging to file disabled")
    after = _number(request.query_params.get("after"), 0, "after")
    limit = int(_number(request.query_params.get("limit"), _MAX_LINES, "limit")) or _MAX_LINES
    body = await asyncio.to_thread(_tail, _log_dir(request) / _MAIN, after, min(limit, _MAX_LINES))
    return json_response(body)


def _clear(directory: Path) -> int:
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            if entry.is_file(follow_symlinks=False) and entry.name.startswith(f"{_MAIN}."):
                os.unlink(entry.path)
                removed += 1
    main = directory / _MAIN
    if main.is_file() and not main.is_symlink():
        # Truncated, not removed: the log handler keeps writing to the open file.
        with main.open("r+b") as handle:
            handle.truncate(0)
    return removed


@delete("/logs", status_code=200)
async def clear_logs(request: MgmtRequest) -> Response[bytes]:
    """Remove rotated logs and empty the current one."""
    removed = await asyncio.to_thread(_clear, _log_dir(request))
    return json_response(
        {"success": True, "message": "Logs cleared successfully", "removed": removed}
    )


def _error_logs(directory: Path) -> dict[str, os.DirEntry[str]]:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return {}
    return {
        e.name: e
        for e in entries
        if e.name.startswith("error-")
        and e.name.endswith(".log")
        and e.is_file(follow_symlinks=False)
    }


@get("/request-error-logs")
async def list_error_logs(request: MgmtRequest) -> Response[bytes]:
    """The `error-*.log` files of failed requests."""
    found = await asyncio.to_thread(_error_logs, _log_dir(request))
    files = []
    for name, entry in sorted(found.items()):
        info = entry.stat(follow_symlinks=False)
        files.append({"name": name, "size": info.st_size, "modified": int(info.st_mtime)})
    return json_response({"files": files})


@get("/request-error-logs/{name:str}")
async def download_error_log(request: MgmtRequest) -> Response[bytes]:
    """One error log, by a name its listing shows."""
    name = str(request.path_params["name"])
    entry = (await asyncio.to_thread(_error_logs, _log_dir(request))).get(name)
    if entry is None:
        raise ManagementError(404, "file not found")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)

    def read() -> bytes:
        fd = os.open(entry.path, flags)
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    data = await asyncio.to_thread(read)
    headers = {**CPA_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type="text/plain; charset=utf-8", headers=headers)
