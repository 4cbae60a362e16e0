"""Budgets through the real gateway: 50 concurrent requests, spend kept across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.support.configs import gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.gateway import GatewayProcess
from tests.support.replies import Reply, Usage
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

# 9 + 12 tokens at $1000 per million tokens: every answer costs $0.021.
COST = 0.021
DAILY = "sk-budget-daily-8e21"
MONTHLY = "sk-budget-monthly-19ab"
BUDGET = 0.2
HI = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    reply = Reply.ok("priced", delay=0.3, usage=Usage(prompt_tokens=9, completion_tokens=12))
    with FakeUpstream(default=reply) as up:
        yield up


@pytest.fixture(scope="module")
def gateway(
    upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    config = gateway_config(
        openai_entry("up", upstream.base_url, ["sk-up"], ["m1"]),
        api_keys=[
            {"key": DAILY, "daily-budget": BUDGET},
            {"key": MONTHLY, "monthly-budget": COST * 2},
        ],
        pricing={"m1": {"input": 1000, "output": 1000}},
    )
    home: Path = tmp_path_factory.mktemp("budgets")
    with GatewayProcess(config, tmp_path=home, startup_timeout=30) as gw:
        yield gw


async def _wave(gw: GatewayProcess, key: str, size: int) -> list[int]:
    """`size` simultaneous requests with the official async SDK; their HTTP statuses."""
    client = openai.AsyncOpenAI(
        base_url=f"{gw.base_url}/v1", api_key=key, max_retries=0, timeout=30
    )

    async def one() -> tuple[int, str, int]:
        """Status, error code and Retry-After of one request."""
        try:
            await client.chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
        except openai.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            return (
                exc.status_code,
                str(body.get("code")),
                int(exc.response.headers.get("retry-after", 0)),
            )
        return 200, "", 0

    try:
        answers = await asyncio.gather(*(one() for _ in range(size)))
    finally:
        await client.close()
    for status, code, retry in answers:
        assert status == 200 or (status, code) == (429, "insufficient_quota")
        assert status == 200 or retry >= 1
    return [status for status, _code, _retry in answers]


def _spent(upstream: FakeUpstream, key_requests_before: int) -> float:
    return (len(upstream.requests) - key_requests_before) * COST


def test_fifty_simultaneous_requests_never_overspend_by_more_than_one(
    gateway: GatewayProcess, upstream: FakeUpstream
) -> None:
    before = len(upstream.requests)
    first = asyncio.run(_wave(gateway, DAILY, 1))  # the first answer tells what the model costs
    assert first == [200]
    statuses: list[int] = []
    for _ in range(4):
        statuses += asyncio.run(_wave(gateway, DAILY, 50))
    served = statuses.count(200) + 1
    spent = _spent(upstream, before)
    assert served == len(upstream.requests) - before
    assert spent <= BUDGET + COST + 1e-9
    assert spent >= BUDGET - COST  # and the budget was really used, not refused early
    assert served >= 5  # requests ran side by side while the budget allowed it
    # Once spent, every dialect hears it with a retry time at the end of the UTC day.
    response = httpx.post(
        f"{gateway.base_url}/v1/chat/completions",
        json={"model": "m1", "messages": HI},
        headers={"authorization": f"Bearer {DAILY}"},
    )
    assert response.status_code == 429
    assert response.headers["x-should-retry"] == "false"
    assert int(response.headers["retry-after"]) >= 1
    assert "daily budget of $0.20 is spent" in response.json()["error"]["message"]
    claude = tracked(anthropic.Anthropic(base_url=gateway.base_url, api_key=DAILY, max_retries=0))
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model="m1", max_tokens=16, messages=HI)  # type: ignore[arg-type]
    gemini = httpx.post(
        f"{gateway.base_url}/v1beta/models/m1:generateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        headers={"x-goog-api-key": DAILY},
    )
    assert gemini.status_code == 429
    assert gemini.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_spend_survives_a_restart(gateway: GatewayProcess, upstream: FakeUpstream) -> None:
    client = tracked(
        openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=MONTHLY, max_retries=0)
    )
    for _ in range(2):
        client.chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
    gateway.restart()
    before = len(upstream.requests)
    with pytest.raises(openai.RateLimitError) as spent:
        client.chat.completions.create(model="m1", messages=HI)  # type: ignore[arg-type]
    assert "monthly budget" in spent.value.message
    assert len(upstream.requests) == before
    document = (gateway.auth_dir / ".state" / "key-spend").read_bytes()
    assert MONTHLY.encode() not in document  # spend is kept under the key's label only
