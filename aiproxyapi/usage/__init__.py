"""Usage: what every request cost, counted and kept across restarts.

Its place in the flow: when a request finishes (answered, failed or cut off mid-stream) the
dispatcher builds one :class:`UsageRecord` and adds it to the :class:`UsageBook`, which keeps
totals per client, model, credential, UTC day and hour plus the most recent records. A
:class:`UsageStore` persists the book under the auth-dir and loads it back at start. Every
record is also kept, one row each, in a :class:`RecordStore` (SQLite under the auth-dir, or
PostgreSQL when that is the store) for breakdowns over any date range and the JSON/CSV exports.
Each record is priced from the :class:`PriceTable` (shipped list prices plus `pricing:`).

A side room: pure data and file persistence, no Litestar and no httpx. Records carry labels
only, never a client key or credential secret.
"""

from aiproxyapi.usage.aggregate import Tally, UsageBook, UsageSnapshot, day_key, hour_key
from aiproxyapi.usage.export import export_csv, export_json
from aiproxyapi.usage.persist import UsageStore
from aiproxyapi.usage.pricing import Price, PriceTable, Quote, cost_of
from aiproxyapi.usage.record import TokenCounts, UsageRecord
from aiproxyapi.usage.records import Breakdown, RecordStore, records_for
from aiproxyapi.usage.records_sqlite import SqliteRecords

__all__ = [
    "Breakdown",
    "Price",
    "PriceTable",
    "Quote",
    "RecordStore",
    "SqliteRecords",
    "Tally",
    "TokenCounts",
    "UsageBook",
    "UsageRecord",
    "UsageSnapshot",
    "UsageStore",
    "cost_of",
    "day_key",
    "export_csv",
    "export_json",
    "hour_key",
    "records_for",
]
