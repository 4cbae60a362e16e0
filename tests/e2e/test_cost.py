"""Cost end to end: every dialect's answer is priced from the table, in headers and in /usage.

One gateway serves OpenAI Chat (an `openai-compatibility` entry listing its models), Responses
(a Codex key, by name), Anthropic (a Claude key, by name) and Gemini (a Gemini key, by name)
from one fake upstream that reports known usage; the official SDKs are the clients.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from aiproxyapi.usage import TokenCounts, cost_of
from aiproxyapi.usage.pricing import list_prices
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry, provider_key_entry
from tests.support.fake_upstream import FakeUpstream, Reply, Usage
from tests.support.gateway import GatewayProcess

pytestmark = pytest.mark.e2e

KNOWN = Usage(
    prompt_tokens=12_000, completion_tokens=3_000, cached_tokens=4_000, reasoning_tokens=1_000
)
COST = "x-aiproxyapi-cost-usd"
PRICING = "x-aiproxyapi-pricing"
LATENCY = "x-aiproxyapi-latency-ms"
MESSAGES: list[Any] = [{"role": "user", "content": "price this"}]


def table_cost(model: str, usage: Usage = KNOWN, *, reasoning: bool = True) -> float:
    """What the shipped table says `usage` costs on `model`."""
    tokens = TokenCounts(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cached_tokens=usage.cached_tokens,
        reasoning_tokens=usage.reasoning_tokens if reasoning else 0,
    )
    return cost_of(list_prices()[model], tokens)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(default=Reply.ok("priced", usage=KNOWN)) as upstream:
        yield upstream


@pytest.fixture(scope="module")
def gateway(
    fake: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    config = gateway_config(
        openai_entry(
            "up-openai",
            fake.base_url,
            ["sk-up-openai"],
            ["gpt-4o", ("gpt-4o-mini", "house-model"), "my-tuned", "mystery-model"],
        ),
        **{
            "claude-api-key": [provider_key_entry("sk-up-claude", fake.root_url)],
            "gemini-api-key": [provider_key_entry("sk-up-gemini", fake.root_url)],
            "codex-api-key": [provider_key_entry("sk-up-codex", fake.base_url)],
            "pricing": {
                "my-tuned": {"input": 2.0, "output": 4.0, "cached-input": 1.0, "reasoning": 40.0}
            },
            "request-retry": 0,
        },
    )
    home = tmp_path_factory.mktemp("cost-gateway")
    with GatewayProcess(config, tmp_path=home, startup_timeout=30.0) as process:
        yield process


@pytest.fixture
def chat(gateway: GatewayProcess) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=CLIENT_KEY, max_retries=0)
    yield client
    client.close()


def usage_of(gateway: GatewayProcess, **query: str) -> dict[str, Any]:
    response = httpx.get(f"{gateway.base_url}/usage", params=query, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def last_record(gateway: GatewayProcess, request_id: str) -> dict[str, Any]:
    recent = usage_of(gateway)["usage"]["recent"]
    found = [r for r in recent if r["request_id"] == request_id]
    assert len(found) == 1, recent
    return found[0]


def test_chat_costs_the_table_price_with_cached_and_reasoning_tokens(
    gateway: GatewayProcess, chat: openai.OpenAI
) -> None:
    raw = chat.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    expected = table_cost("gpt-4o")
    assert float(raw.headers[COST]) == pytest.approx(expected, rel=1e-6)
    assert raw.headers[PRICING] == "list"
    assert float(raw.headers[LATENCY]) > 0
    record = last_record(gateway, raw.headers["x-request-id"])
    assert record["cost_usd"] == pytest.approx(expected, rel=1e-9)
    assert (record["cached_tokens"], record["reasoning_tokens"]) == (4_000, 1_000)
    # 8,000 fresh at $2.50, 4,000 cached at $1.25, 3,000 out at $10 (per million).
    assert expected == pytest.approx((8_000 * 2.5 + 4_000 * 1.25 + 3_000 * 10.0) / 1e6)


def test_an_alias_is_priced_by_its_upstream_model(chat: openai.OpenAI) -> None:
    raw = chat.chat.completions.with_raw_response.create(model="house-model", messages=MESSAGES)
    assert float(raw.headers[COST]) == pytest.approx(table_cost("gpt-4o-mini"), rel=1e-6)


def test_an_override_prices_reasoning_at_its_own_rate(chat: openai.OpenAI) -> None:
    raw = chat.chat.completions.with_raw_response.create(model="my-tuned", messages=MESSAGES)
    expected = (8_000 * 2.0 + 4_000 * 1.0 + 2_000 * 4.0 + 1_000 * 40.0) / 1e6
    assert float(raw.headers[COST]) == pytest.approx(expected, rel=1e-6)
    assert raw.headers[PRICING] == "override"


def test_an_unknown_model_is_marked_unknown_and_costs_zero(chat: openai.OpenAI) -> None:
    raw = chat.chat.completions.with_raw_response.create(model="mystery-model", messages=MESSAGES)
    assert (float(raw.headers[COST]), raw.headers[PRICING]) == (0.0, "unknown")


def test_responses_through_a_codex_key_routed_by_name(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    client = openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=CLIENT_KEY, max_retries=0)
    try:
        raw = client.responses.with_raw_response.create(model="gpt-5.4", input="price this")
    finally:
        client.close()
    assert fake.requests[-1].key == "sk-up-codex"
    assert float(raw.headers[COST]) == pytest.approx(table_cost("gpt-5.4"), rel=1e-6)
    assert last_record(gateway, raw.headers["x-request-id"])["provider"] == "codex"


def test_anthropic_through_a_claude_key_routed_by_name(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    client = anthropic.Anthropic(api_key=CLIENT_KEY, base_url=gateway.base_url, max_retries=0)
    try:
        raw = client.messages.with_raw_response.create(
            model="claude-haiku-4-5-20251001", max_tokens=64, messages=MESSAGES
        )
    finally:
        client.close()
    assert fake.requests[-1].key == "sk-up-claude"
    # Claude reports no separate thinking count: all output at the output rate (the same here).
    expected = table_cost("claude-haiku-4-5", reasoning=False)
    assert float(raw.headers[COST]) == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx((8_000 * 1.0 + 4_000 * 0.1 + 3_000 * 5.0) / 1e6)


def test_gemini_through_a_gemini_key_routed_by_name(
    gateway: GatewayProcess, fake: FakeUpstream
) -> None:
    client = genai.Client(
        api_key=CLIENT_KEY,
        http_options=gtypes.HttpOptions(
            base_url=gateway.base_url,
            api_version="v1beta",
            retry_options=gtypes.HttpRetryOptions(attempts=1),
        ),
    )
    try:
        answer = client.models.generate_content(model="gemini-2.5-flash", contents="price this")
    finally:
        client.close()
    assert answer.text == "priced"
    assert fake.requests[-1].key == "sk-up-gemini"
    by_model = usage_of(gateway)["records"]["by_model"]["gemini-2.5-flash"]
    assert by_model["cost_usd"] == pytest.approx(table_cost("gemini-2.5-flash"), rel=1e-9)


def test_a_stream_carries_latency_in_a_header_and_its_cost_in_usage(
    gateway: GatewayProcess, chat: openai.OpenAI
) -> None:
    with chat.chat.completions.with_streaming_response.create(
        model="gpt-4o", messages=MESSAGES, stream=True
    ) as raw:
        request_id = raw.headers["x-request-id"]
        assert COST not in raw.headers
        assert float(raw.headers[LATENCY]) > 0
        text = "".join(
            chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices
        )
    assert text == "priced"
    record = last_record(gateway, request_id)
    assert record["stream"] is True
    assert record["cost_usd"] == pytest.approx(table_cost("gpt-4o"), rel=1e-9)


def test_usage_breaks_down_by_every_dimension_within_a_date_range(
    gateway: GatewayProcess, chat: openai.OpenAI
) -> None:
    chat.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    today = datetime.datetime.now(datetime.UTC).date()
    body = usage_of(gateway, **{"from": today.isoformat(), "to": today.isoformat()})
    records = body["records"]
    assert records["totals"]["requests"] >= 1
    assert records["totals"]["cost_usd"] == pytest.approx(
        sum(t["cost_usd"] for t in records["by_model"].values())
    )
    assert set(records["by_provider"]) >= {"up-openai"}
    assert all(label.startswith("key-") for label in records["by_client"])
    assert CLIENT_KEY not in str(records)
    assert list(records["by_day"]) == [today.isoformat()]
    # The in-memory book keeps its CLIProxyAPI-era fields and now counts cost too.
    assert body["usage"]["totals"]["cost_usd"] == pytest.approx(records["totals"]["cost_usd"])
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    assert usage_of(gateway, **{"from": tomorrow})["records"]["totals"]["requests"] == 0


def test_usage_exports_csv(gateway: GatewayProcess, chat: openai.OpenAI) -> None:
    raw = chat.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    response = httpx.get(f"{gateway.base_url}/usage", params={"format": "csv"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text.splitlines()
    assert lines[0].startswith("time,timestamp,request_id,")
    assert any(raw.headers["x-request-id"] in line for line in lines[1:])


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"format": "xml"}, "format"),
        ({"from": "2026-11-02", "to": "2026-11-01"}, "from"),
    ],
)
def test_bad_usage_queries_get_a_clear_400(
    gateway: GatewayProcess, query: dict[str, str], param: str
) -> None:
    response = httpx.get(f"{gateway.base_url}/usage", params=query, timeout=10)
    assert response.status_code == 400
    assert param in response.text
