"""Prometheus metrics of one gateway, in a registry of its own created when first enabled.

Request metrics are fed once per finished request from its usage record (no work per stream
chunk); upstream response times once per upstream attempt; everything about state (credentials,
cooldowns, reloads, storage) is read when /metrics is scraped. Labels are route templates,
dialects, provider names, upstream model names, hosts and reasons: never a key.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiproxyapi.gateway import Gateway
    from aiproxyapi.usage import UsageRecord

__all__ = ["CONTENT_TYPE", "GatewayMetrics", "dialect_of"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_FAST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_TOKEN_KINDS = ("input", "output", "reasoning", "cached")
_DIALECTS = (
    ("POST /v1/chat/completions", "openai-chat"),
    ("POST /v1/completions", "openai-completions"),
    ("POST /v1/embeddings", "openai-embeddings"),
    ("POST /v1/responses", "openai-responses"),
    ("POST /v1/messages", "claude"),
    ("POST /v1beta/", "gemini"),
)


def dialect_of(endpoint: str) -> str:
    """The client dialect of a usage record's endpoint (`other` when unknown)."""
    for prefix, dialect in _DIALECTS:
        if endpoint.startswith(prefix):
            return dialect
    return "other"


class GatewayMetrics:
    """The registry, the request-time instruments, and the collector read at scrape time."""

    def __init__(self, gateway: Gateway) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

        registry = self.registry = CollectorRegistry(auto_describe=True)
        self._dialects: dict[str, str] = {}
        self.requests = Counter(
            "aiproxyapi_requests",
            "Finished client requests.",
            ["route", "dialect", "provider", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "aiproxyapi_request_duration_seconds",
            "Client request duration, first byte in to last byte out.",
            ["route", "provider"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.first_token = Histogram(
            "aiproxyapi_time_to_first_token_seconds",
            "Streams: time from the request to the first bytes sent to the client.",
            ["route", "provider"],
            buckets=_FAST_BUCKETS,
            registry=registry,
        )
        self.upstream = Histogram(
            "aiproxyapi_upstream_response_seconds",
            "Time from sending an upstream request to its response headers, per attempt.",
            ["upstream"],
            buckets=_FAST_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "aiproxyapi_tokens",
            "Tokens reported by upstreams.",
            ["provider", "model", "kind"],
            registry=registry,
        )
        self.cost = Counter(
            "aiproxyapi_cost_usd",
            "Cost of requests in US dollars, as priced in their usage records.",
            ["provider", "model"],
            registry=registry,
        )
        registry.register(_StateCollector(gateway))
        ProcessCollector(registry=registry)
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        # prometheus_client's labels() validates and locks on every call; a child once made
        # stays the same object, so it is looked up here by (metric, labels) instead.
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def observe(self, record: UsageRecord) -> None:
        """Count one finished request."""
        route = record.endpoint
        dialect = self._dialects.get(route)
        if dialect is None:
            dialect = self._dialects[route] = dialect_of(route)
        provider = record.provider or "-"
        child = self._child
        child(self.requests, route, dialect, provider, str(record.status)).inc()
        child(self.duration, route, provider).observe(record.latency_ms / 1000.0)
        if record.ttft_ms is not None:
            child(self.first_token, route, provider).observe(record.ttft_ms / 1000.0)
        if not record.provider:
            return
        model = record.upstream_model or "-"
        counts = (
            record.input_tokens,
            record.output_tokens,
            record.reasoning_tokens,
            record.cached_tokens,
        )
        for kind, count in zip(_TOKEN_KINDS, counts, strict=True):
            if count:
                child(self.tokens, provider, model, kind).inc(count)
        # Records carry a price once the usage book prices them; until then only tokens count.
        cost = getattr(record, "cost_usd", None)
        if isinstance(cost, int | float) and cost > 0:
            child(self.cost, provider, model).inc(cost)

    def observe_upstream(self, host: str, seconds: float) -> None:
        """Count one upstream attempt's time to response headers."""
        self._child(self.upstream, host).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _StateCollector:
    """Credentials, cooldowns, reloads and storage, read from the gateway at scrape time."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        gateway = self._gateway
        runtime = gateway.runtime
        states: Tally[tuple[str, str]] = Tally()
        now = gateway.state.clock()
        for credential in runtime.credentials:
            state = gateway.state.credentials.get(credential.id)
            cooling = state is not None and any(c.until > now for c in state.cooldowns.values())
            # An account whose refresh failed is out of selection: it is in error, not ready.
            name = "error" if credential.id in gateway.state.blocked else None
            states[(credential.provider, name or ("cooling" if cooling else "ready"))] += 1
        credentials = GaugeMetricFamily(
            "aiproxyapi_credentials",
            "Credentials by provider and state.",
            labels=["provider", "state"],
        )
        for (provider, name), count in sorted(states.items()):
            credentials.add_metric([provider, name], count)
        yield credentials
        cooldowns = CounterMetricFamily(
            "aiproxyapi_cooldown_events",
            "Credential cooldowns started, by provider and reason.",
            labels=["provider", "reason"],
        )
        for (provider, reason), count in sorted(gateway.state.cooldown_events.items()):
            cooldowns.add_metric([provider, reason], count)
        yield cooldowns
        reloads = CounterMetricFamily(
            "aiproxyapi_config_reloads", "Config reloads by result.", labels=["result"]
        )
        reloads.add_metric(["success"], gateway.reloads)
        reloads.add_metric(["failure"], gateway.reload_failures)
        yield reloads
        yield GaugeMetricFamily(
            "aiproxyapi_config_generation", "Generation of the config serving.", runtime.generation
        )
        yield from _storage(gateway)
        yield from _redis(gateway)


def _storage(gateway: Gateway) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    health = gateway.store_health()
    info = GaugeMetricFamily(
        "aiproxyapi_storage_info", "The storage backend in use.", labels=["backend"]
    )
    info.add_metric([health.backend], 1)
    yield info
    up = GaugeMetricFamily(
        "aiproxyapi_storage_up",
        "1 when the storage backend answers; 0 when degraded (serving from the mirror) or down.",
        labels=["backend", "state"],
    )
    up.add_metric([health.backend, health.state], 1 if health.state == "ok" else 0)
    yield up


def _redis(gateway: Gateway) -> Iterator[Any]:
    """The shared Redis link, when the config has one."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    link = gateway.redis
    if link is None:
        return
    yield GaugeMetricFamily(
        "aiproxyapi_redis_up",
        "1 while the shared Redis answers; 0 while this instance serves on its own state.",
        1 if link.up else 0,
    )
    yield CounterMetricFamily(
        "aiproxyapi_redis_errors", "Failed or timed-out calls to the shared Redis.", link.errors
    )
    yield CounterMetricFamily(
        "aiproxyapi_redis_outages", "Times the shared Redis went from up to down.", link.outages
    )
