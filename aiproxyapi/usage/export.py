"""Usage exports: per-request records as JSON or CSV, for `GET /usage` and the management API."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable

import msgspec

from aiproxyapi.usage.record import UsageRecord
from aiproxyapi.usage.records import COLUMNS, Breakdown

__all__ = ["EXPORT_VERSION", "export_csv", "export_json"]

EXPORT_VERSION = 1


def export_json(records: Iterable[UsageRecord], breakdown: Breakdown | None = None) -> bytes:
    """``{"version", "exported_at", "breakdown", "records"}``; records oldest first."""
    return msgspec.json.encode(
        {
            "version": EXPORT_VERSION,
            "exported_at": time.time(),
            "breakdown": breakdown,
            "records": list(records),
        }
    )


def export_csv(records: Iterable[UsageRecord]) -> bytes:
    """One header row (the record fields plus the ISO time), then one row per record."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["time", *COLUMNS])
    for record in records:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.timestamp))
        writer.writerow([stamp, *(_cell(getattr(record, name)) for name in COLUMNS)])
    return out.getvalue().encode()


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        # A label that a spreadsheet would run as a formula is quoted as text.
        return "'" + value
    return value
