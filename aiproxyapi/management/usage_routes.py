"""Usage in CLIProxyAPI v6's JSON shapes, built from the usage book.

`GET /usage` → `{usage: snapshot, failed_requests}`; `GET /usage/export` →
`{version: 1, exported_at, usage}`; `POST /usage/import` merges an export, skipping details
already counted → `{added, skipped, total_requests, failed_requests}`. Per-request `details`
come from the book's recent records; the totals from its running tallies. Client keys appear as
their labels (`key-<fingerprint>`), never as keys: an imported export that names raw keys is
folded onto their labels. `GET /api-key-usage` gives per-key counters and recent buckets.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from litestar import Response, get, post

from aiproxyapi.credential import ApiKeyCredential
from aiproxyapi.gateway import Gateway
from aiproxyapi.management._http import ManagementError, MgmtRequest, json_response, read_json
from aiproxyapi.management.buckets import recent_requests
from aiproxyapi.management.context import context_of
from aiproxyapi.management.masking import mask
from aiproxyapi.secret import fingerprint
from aiproxyapi.usage import UsageBook, UsageRecord, UsageSnapshot

__all__ = ["api_key_usage", "export_usage", "get_usage", "import_usage"]

_LABEL = re.compile(r"^(key-[0-9a-f]{8}|anonymous)$")
_EXPORT_VERSION = 1


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


def _detail(record: UsageRecord) -> dict[str, Any]:
    return {
        "timestamp": _iso(record.timestamp),
        "latency_ms": round(record.latency_ms),
        "source": record.credential,
        "auth_index": record.credential,
        "tokens": {
            "input_tokens": record.input_tokens,
            "output_tokens": record.output_tokens,
            "reasoning_tokens": record.reasoning_tokens,
            "cached_tokens": record.cached_tokens,
            "total_tokens": record.total_tokens,
        },
        "failed": record.failed,
    }


def v6_snapshot(snapshot: UsageSnapshot) -> dict[str, Any]:
    """The book as CLIProxyAPI v6's usage snapshot."""
    models: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for record in snapshot.recent:
        slot = models[record.client].setdefault(
            record.requested_model, {"total_requests": 0, "total_tokens": 0, "details": []}
        )
        slot["total_requests"] += 1
        slot["total_tokens"] += record.total_tokens
        slot["details"].append(_detail(record))
    apis = {
        client: {
            "total_requests": tally.requests,
            "total_tokens": tally.total_tokens,
            "models": models.get(client, {}),
        }
        for client, tally in snapshot.by_client.items()
    }
    by_hour_requests: dict[str, int] = defaultdict(int)
    by_hour_tokens: dict[str, int] = defaultdict(int)
    for key, tally in snapshot.by_hour.items():
        by_hour_requests[key[-2:]] += tally.requests
        by_hour_tokens[key[-2:]] += tally.total_tokens
    totals = snapshot.totals
    return {
        "total_requests": totals.requests,
        "success_count": totals.successes,
        "failure_count": totals.failures,
        "total_tokens": totals.total_tokens,
        "apis": apis,
        "requests_by_day": {day: t.requests for day, t in snapshot.by_day.items()},
        "requests_by_hour": dict(sorted(by_hour_requests.items())),
        "tokens_by_day": {day: t.total_tokens for day, t in snapshot.by_day.items()},
        "tokens_by_hour": dict(sorted(by_hour_tokens.items())),
    }


@get("/usage")
async def get_usage(request: MgmtRequest) -> Response[bytes]:
    """The usage snapshot and the count of failed requests."""
    gateway = context_of(request).gateway
    snapshot, scope = await gateway.usage_snapshot()
    return json_response(
        {
            "usage": v6_snapshot(snapshot),
            "failed_requests": snapshot.totals.failures,
            "persisted": gateway.runtime.config.usage_statistics_enabled,
            "scope": scope,
        }
    )


@get("/usage/export")
async def export_usage(request: MgmtRequest) -> Response[bytes]:
    """The snapshot wrapped for a later import."""
    snapshot, _scope = await context_of(request).gateway.usage_snapshot()
    body = {
        "version": _EXPORT_VERSION,
        "exported_at": _iso(time.time()),
        "usage": v6_snapshot(snapshot),
    }
    return json_response(body, headers={"Content-Disposition": 'attachment; filename="usage.json"'})


def _timestamp(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise ManagementError(400, "invalid usage", "every detail needs a timestamp")


def _count(tokens: dict[str, Any], key: str) -> int:
    value = tokens.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _record(client: str, model: str, detail: Any) -> UsageRecord:
    if not isinstance(detail, dict):
        raise ManagementError(400, "invalid usage", "every detail must be an object")
    raw_tokens = detail.get("tokens")
    tokens: dict[str, Any] = raw_tokens if isinstance(raw_tokens, dict) else {}
    failed = bool(detail.get("failed", False))
    latency = detail.get("latency_ms", 0)
    source = str(detail.get("source") or detail.get("auth_index") or "")
    return UsageRecord(
        timestamp=_timestamp(detail.get("timestamp")),
        request_id="",
        endpoint="",
        client=client if _LABEL.match(client) else f"key-{fingerprint(client)}",
        credential=source,
        provider="",
        requested_model=model,
        upstream_model=model,
        input_tokens=_count(tokens, "input_tokens"),
        output_tokens=_count(tokens, "output_tokens"),
        reasoning_tokens=_count(tokens, "reasoning_tokens"),
        cached_tokens=_count(tokens, "cached_tokens"),
        total_tokens=_count(tokens, "total_tokens"),
        latency_ms=float(latency) if isinstance(latency, int | float) else 0.0,
        status=500 if failed else 200,
        failed=failed,
    )


def _identity(record: UsageRecord) -> tuple[Any, ...]:
    detail = _detail(record)
    return (
        record.client,
        record.requested_model,
        detail["timestamp"],
        detail["latency_ms"],
        detail["source"],
        tuple(detail["tokens"].values()),
        detail["failed"],
    )


def _imported(body: Any) -> list[UsageRecord]:
    usage = body.get("usage") if isinstance(body, dict) else None
    apis = usage.get("apis") if isinstance(usage, dict) else None
    if not isinstance(apis, dict):
        raise ManagementError(400, "invalid usage", "send an export: {version, usage: {apis}}")
    records: list[UsageRecord] = []
    for client, api in apis.items():
        models = api.get("models") if isinstance(api, dict) else None
        for model, entry in (models or {}).items():
            details = entry.get("details") if isinstance(entry, dict) else None
            records.extend(_record(str(client), str(model), d) for d in details or [])
    return records


@post("/usage/import", status_code=200)
async def import_usage(request: MgmtRequest) -> Response[bytes]:
    """Merge an export into the book; details already counted are skipped."""
    gateway = context_of(request).gateway
    incoming = _imported(await read_json(request))
    seen = {_identity(record) for record in gateway.book.snapshot().recent}
    fresh = UsageBook(recent_limit=max(len(incoming), 1))
    added = 0
    for record in incoming:
        identity = _identity(record)
        if identity in seen:
            continue
        seen.add(identity)
        fresh.add(record)
        added += 1
    if added:
        gateway.merge_usage(fresh.snapshot())
    totals = gateway.book.snapshot().totals
    return json_response(
        {
            "added": added,
            "skipped": len(incoming) - added,
            "total_requests": totals.requests,
            "failed_requests": totals.failures,
        }
    )


def _served_by(label: str) -> Callable[[UsageRecord], bool]:
    return lambda record: record.credential == label


def _key_usage(gateway: Gateway) -> dict[str, dict[str, Any]]:
    recent = gateway.book.snapshot().recent
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for credential in gateway.runtime.credentials:
        if not isinstance(credential, ApiKeyCredential):
            continue  # accounts are listed by auth-files, keyed by their record
        tracked = gateway.state.credentials.get(credential.id)
        key = f"{credential.base_url}|{mask(credential.api_key.reveal())}"
        out[credential.provider][key] = {
            "auth_index": credential.id,
            "success": tracked.success if tracked else 0,
            "failed": tracked.failed if tracked else 0,
            "recent_requests": recent_requests(recent, _served_by(credential.label)),
        }
    return dict(out)


@get("/api-key-usage")
async def api_key_usage(request: MgmtRequest) -> Response[bytes]:
    """Per provider, per `base_url|masked key`: counters and 20 ten-minute buckets."""
    return json_response(_key_usage(context_of(request).gateway))
