"""Two gateway processes through an outage of their private Redis: served, then added up.

Redis hangs (SIGSTOP) while requests keep coming: every one is answered, budgets and usage count
on each instance alone; when Redis answers again each instance hands over what it counted, so
the shared spend and the cluster usage totals equal everything served, outage included.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from aiproxyapi.secret import fingerprint
from tests.support.configs import gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fleet import Fleet, redis_section
from tests.support.gateway import GatewayProcess
from tests.support.redis_server import RedisServer
from tests.support.replies import Reply, Usage

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

COST = 0.021  # 9 + 12 tokens at $1000 per million
KEY = "sk-outage-budget-61f2"
LABEL = f"key-{fingerprint(KEY)}"


def _post(gateway: GatewayProcess) -> int:
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": "m1", "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {KEY}"},
        timeout=30,
    )
    return response.status_code


def _usage(gateway: GatewayProcess) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{gateway.base_url}/usage", timeout=30).json()
    return body


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


@pytest.mark.invariant(13)
def test_requests_succeed_through_a_redis_outage_and_the_totals_add_up(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    section = redis_section(private_redis.url, **{"timeout-ms": 300})
    prefix = section["key-prefix"]
    reply = Reply.ok("priced", usage=Usage(prompt_tokens=9, completion_tokens=12))
    with FakeUpstream(default=reply) as upstream:
        config = gateway_config(
            openai_entry("up", upstream.base_url, ["sk-up"], ["m1"]),
            api_keys=[{"key": KEY, "daily-budget": 100.0}],
            pricing={"m1": {"input": 1000, "output": 1000}},
            metrics={"enable": True},
            redis=section,
        )
        with Fleet(tmp_path, config, size=2) as fleet:
            first, second = fleet.gateways
            before = [_post((first, second)[i % 2]) for i in range(6)]
            assert before == [200] * 6
            private_redis.pause()
            try:
                during = [_post((first, second)[i % 2]) for i in range(10)]
                assert during == [200] * 10  # Redis is never a single point of failure
                assert _usage(first)["scope"] == "instance"
                assert fleet.metric(0, "aiproxyapi_redis_up") == 0
            finally:
                private_redis.resume()
            deadline = time.monotonic() + 60
            while True:
                bodies = [_usage(gateway) for gateway in (first, second)]
                mine = [body["usage"]["by_client"].get(LABEL, {}) for body in bodies]
                scopes = [body["scope"] for body in bodies]
                if scopes == ["cluster"] * 2 and all(m.get("requests") == 16 for m in mine):
                    break
                assert time.monotonic() < deadline, (scopes, mine)
                time.sleep(0.2)
            assert all(m["total_tokens"] == 16 * 21 for m in mine)
            assert fleet.metric(0, "aiproxyapi_redis_up") == 1
            # The shared spend: before, during (handed over once) and nothing twice.
            client = redis.Redis.from_url(private_redis.url)
            try:
                day = time.strftime("%Y-%m-%d", time.gmtime())
                spent = client.get(f"{prefix}ledger:{LABEL}:day:{day}")
            finally:
                client.close()
            assert spent is not None
            assert float(spent) == pytest.approx(16 * COST)
            assert len(upstream.requests) == 16
