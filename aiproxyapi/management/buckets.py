"""Recent-request buckets: the last 200 minutes of a credential or key in 20 ten-minute slots."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from aiproxyapi.usage import UsageRecord

__all__ = ["BUCKETS", "BUCKET_SECONDS", "recent_requests"]

BUCKETS = 20
BUCKET_SECONDS = 600


def _label(start: float) -> str:
    begin = time.strftime("%H:%M", time.localtime(start))
    end = time.strftime("%H:%M", time.localtime(start + BUCKET_SECONDS))
    return f"{begin}-{end}"


def recent_requests(
    records: Iterable[UsageRecord],
    match: Callable[[UsageRecord], bool],
    now: float | None = None,
) -> list[dict[str, Any]]:
    """`[{time: "HH:MM-HH:MM", success, failed}]`, oldest first, the last slot holding `now`."""
    now = time.time() if now is None else now
    last = now - now % BUCKET_SECONDS
    first = last - (BUCKETS - 1) * BUCKET_SECONDS
    slots: list[dict[str, Any]] = [
        {"time": _label(first + i * BUCKET_SECONDS), "success": 0, "failed": 0}
        for i in range(BUCKETS)
    ]
    for record in records:
        if (
            record.timestamp < first
            or record.timestamp >= last + BUCKET_SECONDS
            or not match(record)
        ):
            continue
        slot = slots[int((record.timestamp - first) // BUCKET_SECONDS)]
        slot["failed" if record.failed else "success"] += 1
    return slots
