"""GatewayMetrics fed from usage records: dialects, tokens, and cost once records carry one."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiproxyapi.config import parse_config
from aiproxyapi.gateway import Gateway
from aiproxyapi.observe.metrics import dialect_of
from aiproxyapi.usage import UsageRecord


class PricedRecord(UsageRecord, frozen=True, kw_only=True):
    """A usage record as the priced usage book writes it."""

    cost_usd: float = 0.0


def record(**fields: object) -> UsageRecord:
    base: dict[str, object] = {
        "timestamp": time.time(),
        "request_id": "r1",
        "endpoint": "POST /v1/messages",
        "client": "key-abc",
        "credential": "up/key-12345678",
        "provider": "up",
        "requested_model": "m1",
        "upstream_model": "m1-large",
        "input_tokens": 5,
        "output_tokens": 2,
        "latency_ms": 120.0,
        "status": 200,
        "failed": False,
    }
    base.update(fields)
    cost = base.pop("cost_usd", None)
    if cost is not None:
        return PricedRecord(cost_usd=cost, **base)  # type: ignore[arg-type]
    return UsageRecord(**base)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    # A Gateway installs its own log handlers; the test process keeps pytest's.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


def values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def test_records_feed_requests_tokens_and_cost(tmp_path: object) -> None:
    loaded = parse_config(f"host: 127.0.0.1\nauth-dir: {tmp_path}\n")
    gateway = Gateway(loaded, None)
    assert gateway.metrics is not None
    gateway.record_usage(record())
    gateway.record_usage(record(cost_usd=0.25, output_tokens=0))
    gateway.record_usage(record(cost_usd=0.5, status=502, failed=True))
    text = gateway.metrics.render().decode()
    requests = values(text, "aiproxyapi_requests_total")
    ok = (("dialect", "claude"), ("provider", "up"), ("route", "POST /v1/messages"))
    assert requests[(*ok[:2], ok[2], ("status", "200"))] == 2
    assert requests[(*ok[:2], ok[2], ("status", "502"))] == 1
    cost = values(text, "aiproxyapi_cost_usd_total")
    assert cost == {(("model", "m1-large"), ("provider", "up")): 0.75}
    tokens = values(text, "aiproxyapi_tokens_total")
    assert tokens[(("kind", "input"), ("model", "m1-large"), ("provider", "up"))] == 15
    assert tokens[(("kind", "output"), ("model", "m1-large"), ("provider", "up"))] == 4
    assert "key-abc" not in text


def test_metrics_off_creates_no_registry(tmp_path: object) -> None:
    gateway = Gateway(
        parse_config(f"host: 127.0.0.1\nauth-dir: {tmp_path}\nmetrics:\n  enable: false\n"), None
    )
    assert gateway.metrics is None
    gateway.record_usage(record())


def test_dialect_of_each_route() -> None:
    assert dialect_of("POST /v1/chat/completions") == "openai-chat"
    assert dialect_of("POST /v1/responses") == "openai-responses"
    assert dialect_of("POST /v1/messages/count_tokens") == "claude"
    assert dialect_of("POST /v1beta/models/*:generateContent") == "gemini"
    assert dialect_of("POST /v1/embeddings") == "openai-embeddings"
    assert dialect_of("GET /elsewhere") == "other"
