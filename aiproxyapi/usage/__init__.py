"""Usage: what every request cost, counted and kept across restarts.

Its place in the flow: when a request finishes (answered, failed or cut off mid-stream) the
dispatcher builds one :class:`UsageRecord` and adds it to the :class:`UsageBook`, which keeps
totals per client, model, credential, UTC day and hour plus the most recent records. A
:class:`UsageStore` persists the book under the auth-dir and loads it back at start.

A side room: pure data and file persistence, no Litestar and no httpx. Records carry labels
only, never a client key or credential secret.
"""

from aiproxyapi.usage.aggregate import Tally, UsageBook, UsageSnapshot, day_key, hour_key
from aiproxyapi.usage.persist import UsageStore
from aiproxyapi.usage.record import TokenCounts, UsageRecord

__all__ = [
    "Tally",
    "TokenCounts",
    "UsageBook",
    "UsageRecord",
    "UsageSnapshot",
    "UsageStore",
    "day_key",
    "hour_key",
]
