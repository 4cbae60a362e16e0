"""Three gateway processes as one: budgets, rate limits and usage totals held across them.

The three share the machine's Redis (a key prefix of this module's own) and PostgreSQL as
their store (a schema of this module's own), as in the reference deployment. Requests are
spread round-robin over the instances with the official OpenAI SDK, as a load balancer would.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from aiproxyapi.secret import fingerprint
from tests.storage.backends import PG_DSN, drop_schema, require_postgres, unique_schema
from tests.support.configs import gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fleet import Fleet, forget_prefix, redis_section
from tests.support.gateway import GatewayProcess
from tests.support.redis_shared import REDIS_URL, require_redis
from tests.support.replies import RecordedRequest, Reply, Usage
from tests.support.sdk_clients import tracked

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# 9 + 12 tokens at $1000 per million tokens: every answer costs $0.021.
COST = 0.021
TOKENS = 21
BUDGET = 0.3
BUDGET_KEY = "sk-cluster-budget-3c1a"
RPM_KEY = "sk-cluster-rpm-77d0"
RPM = 12
USAGE_KEY = "sk-cluster-usage-a9e4"
SECRET = "cluster-management-secret-5e"
HI = [{"role": "user", "content": "hi"}]


def label(key: str) -> str:
    """The client label usage reports a key under."""
    return f"key-{fingerprint(key)}"


class Cluster:
    """Three gateways, the upstream they share, and the Redis prefix of their state."""

    def __init__(self, gateways: list[GatewayProcess], upstream: FakeUpstream, prefix: str):
        self.gateways = gateways
        self.upstream = upstream
        self.prefix = prefix

    def served(self, key: str) -> int:
        """Upstream calls made for `key` (the fake upstream records each request)."""
        return sum(1 for request in self.upstream.requests if _marked(request, key))


def _marked(request: RecordedRequest, key: str) -> bool:
    return isinstance(request.json, dict) and request.json.get("user") == label(key)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    asyncio.run(require_redis())
    asyncio.run(require_postgres())
    section = redis_section(REDIS_URL, **{"timeout-ms": 1500})
    schema = unique_schema()
    reply = Reply.ok("priced", delay=0.3, usage=Usage(prompt_tokens=9, completion_tokens=12))
    env = {"PGSTORE_DSN": PG_DSN, "PGSTORE_SCHEMA": schema, "AIPROXYAPI_STORE_TIMEOUT": "5"}
    with FakeUpstream(default=reply) as upstream:
        config = gateway_config(
            openai_entry("up", upstream.base_url, ["sk-up"], ["m1"]),
            api_keys=[
                {"key": BUDGET_KEY, "daily-budget": BUDGET},
                {"key": RPM_KEY, "rpm": RPM},
                USAGE_KEY,
            ],
            pricing={"m1": {"input": 1000, "output": 1000}},
            redis=section,
            **{"remote-management": {"secret-key": SECRET}},
        )
        fleet = Fleet(
            tmp_path_factory.mktemp("cluster"),
            config,
            size=3,
            env=env,
            env_for=lambda home: {"PGSTORE_LOCAL_PATH": str(home)},
            startup_timeout=60,
        )
        try:
            with fleet:
                yield Cluster(fleet.gateways, upstream, section["key-prefix"])
        finally:
            forget_prefix(REDIS_URL, section["key-prefix"])
            asyncio.run(drop_schema(schema))


def _clients(cluster: Cluster, key: str) -> list[openai.AsyncOpenAI]:
    return [
        openai.AsyncOpenAI(base_url=f"{g.base_url}/v1", api_key=key, max_retries=0, timeout=60)
        for g in cluster.gateways
    ]


async def _spread(cluster: Cluster, key: str, count: int) -> list[tuple[int, str, int]]:
    """`count` simultaneous requests, round-robin over the instances: (status, code, retry)."""
    clients = _clients(cluster, key)

    async def one(index: int) -> tuple[int, str, int]:
        try:
            await clients[index % 3].chat.completions.create(
                model="m1",
                messages=HI,  # type: ignore[arg-type]
                user=label(key),  # lets the test count this key's upstream calls
            )
        except openai.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            retry = int(exc.response.headers.get("retry-after", 0))
            return exc.status_code, str(body.get("code")), retry
        return 200, "", 0

    try:
        return list(await asyncio.gather(*(one(i) for i in range(count))))
    finally:
        for client in clients:
            await client.close()


def test_a_daily_budget_holds_under_load_spread_over_three_instances(cluster: Cluster) -> None:
    first = asyncio.run(_spread(cluster, BUDGET_KEY, 1))  # the first answer prices the model
    assert [status for status, _code, _retry in first] == [200]
    answers: list[tuple[int, str, int]] = []
    for _ in range(4):
        answers += asyncio.run(_spread(cluster, BUDGET_KEY, 60))
    for status, code, retry in answers:
        assert status == 200 or (status, code) == (429, "insufficient_quota"), (status, code)
        assert status == 200 or retry >= 1
    served = cluster.served(BUDGET_KEY)
    assert served == 1 + sum(status == 200 for status, _code, _retry in answers)
    spent = served * COST
    # The atomic check-and-reserve: one request's worth over at most, across all instances.
    assert spent <= BUDGET + COST + 1e-9
    assert spent >= BUDGET - COST  # and the budget was really used
    # Once spent, every instance refuses, in each client's dialect.
    for gateway in cluster.gateways:
        response = httpx.post(
            f"{gateway.base_url}/v1/chat/completions",
            json={"model": "m1", "messages": HI},
            headers={"authorization": f"Bearer {BUDGET_KEY}"},
            timeout=30,
        )
        assert response.status_code == 429
        assert response.headers["x-should-retry"] == "false"
        assert f"daily budget of ${BUDGET:.2f} is spent" in response.json()["error"]["message"]
    claude = tracked(
        anthropic.Anthropic(
            base_url=cluster.gateways[1].base_url, api_key=BUDGET_KEY, max_retries=0
        )
    )
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model="m1", max_tokens=16, messages=HI)  # type: ignore[arg-type]


def test_an_rpm_limit_holds_across_three_instances(cluster: Cluster) -> None:
    answers = asyncio.run(_spread(cluster, RPM_KEY, 3 * RPM))
    assert sum(status == 200 for status, _code, _retry in answers) == RPM, answers
    refused = [(status, code, retry) for status, code, retry in answers if status != 200]
    assert {(status, code) for status, code, _retry in refused} == {(429, "rate_limit_exceeded")}
    assert all(1 <= retry <= 60 for _status, _code, retry in refused), refused
    assert cluster.served(RPM_KEY) == RPM


def _usage(gateway: GatewayProcess, **params: str) -> dict[str, Any]:
    response = httpx.get(f"{gateway.base_url}/usage", params=params, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_usage_totals_on_every_instance_are_the_sum_of_all_requests(cluster: Cluster) -> None:
    sent = 30
    answers = asyncio.run(_spread(cluster, USAGE_KEY, sent))
    assert [status for status, _code, _retry in answers] == [200] * sent
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    me = label(USAGE_KEY)
    for gateway in cluster.gateways:
        asyncio.run(_settled(gateway, me, sent))
        body = _usage(gateway)
        assert body["scope"] == "cluster"
        mine = body["usage"]["by_client"][me]
        assert (mine["requests"], mine["total_tokens"]) == (sent, sent * TOKENS)
        assert mine["cost_usd"] == pytest.approx(sent * COST)
        # The per-request records are in the one PostgreSQL: the day range agrees.
        records = _usage(gateway, **{"from": today, "to": today})["records"]
        assert records["by_client"][me]["requests"] == sent
        assert records["by_client"][me]["total_tokens"] == sent * TOKENS
        # Cluster totals cover every key: what every instance answered upstream, at least.
        assert body["usage"]["totals"]["requests"] >= len(cluster.upstream.requests)
        assert body["usage"]["by_day"][today]["requests"] == body["usage"]["totals"]["requests"]
        management = httpx.get(
            f"{gateway.base_url}/v0/management/usage",
            headers={"authorization": f"Bearer {SECRET}"},
            timeout=30,
        )
        assert management.status_code == 200, management.text
        assert management.json()["scope"] == "cluster"
        assert management.json()["usage"]["apis"][me]["total_requests"] == sent


async def _settled(gateway: GatewayProcess, me: str, sent: int) -> None:
    """Wait until the other instances' pushes (once a second) have reached Redis."""
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(100):
            body = (await client.get(f"{gateway.base_url}/usage")).json()
            if body["usage"]["by_client"].get(me, {}).get("requests", 0) >= sent:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(
        f"usage never added up on {gateway.base_url}\n{gateway.log_text()[-3000:]}"
    )
