"""Per-request records end to end: they survive a restart, and go to PostgreSQL when it is the store."""

from __future__ import annotations

import asyncio
import stat

import httpx
import openai
import pytest

from tests.storage.backends import PG_DSN, drop_schema, require_postgres, unique_schema
from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream, Reply, Usage
from tests.support.fixtures import GatewayFactory
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

KNOWN = Usage(prompt_tokens=1_000, completion_tokens=100)
MESSAGES: list[dict[str, str]] = [{"role": "user", "content": "x"}]


def config(fake: FakeUpstream) -> str:
    return gateway_config(
        openai_entry("up", fake.base_url, ["sk-up-records"], ["gpt-4o"]),
        openai_entry("groq", fake.base_url, ["sk-up-groq"], []),
        openai_entry("openrouter", fake.base_url, ["sk-up-router"], []),
    )


def client_for(base_url: str) -> openai.OpenAI:
    return tracked(openai.OpenAI(base_url=f"{base_url}/v1", api_key=CLIENT_KEY, max_retries=0))


def test_records_survive_a_restart(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok("ok", usage=KNOWN)
    gateway = gateway_factory(config(fake_upstream), startup_timeout=30.0)
    client = client_for(gateway.base_url)
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    before = httpx.get(f"{gateway.base_url}/usage").json()["records"]
    assert before["totals"]["requests"] == 3
    assert gateway.stop() == 0

    path = gateway.auth_dir / "usage" / "usage-records.sqlite3"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert b"sk-up-records" not in path.read_bytes()
    assert CLIENT_KEY.encode() not in path.read_bytes()

    gateway.start()
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    after = httpx.get(f"{gateway.base_url}/usage").json()["records"]
    assert after["totals"]["requests"] == 4
    assert after["totals"]["cost_usd"] == pytest.approx(before["totals"]["cost_usd"] * 4 / 3)


def test_name_and_vendor_routes_reach_entries_without_models(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    gateway = gateway_factory(config(fake_upstream), startup_timeout=30.0)
    client = client_for(gateway.base_url)
    client.chat.completions.create(model="groq/llama-3.3-70b-versatile", messages=MESSAGES)
    client.chat.completions.create(model="llama-3.1-8b-instant", messages=MESSAGES)
    client.chat.completions.create(model="anthropic/claude-haiku-4.5", messages=MESSAGES)
    seen = [(r.key, r.json["model"]) for r in fake_upstream.requests]
    assert seen == [
        ("sk-up-groq", "llama-3.3-70b-versatile"),
        ("sk-up-groq", "llama-3.1-8b-instant"),
        ("sk-up-router", "anthropic/claude-haiku-4.5"),
    ]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="unheard-of", messages=MESSAGES)


def test_records_go_to_postgres_when_it_is_the_store(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    asyncio.run(require_postgres())
    schema = unique_schema()
    fake_upstream.default = Reply.ok("ok", usage=KNOWN)
    try:
        gateway = gateway_factory(
            config(fake_upstream),
            env={"PGSTORE_DSN": PG_DSN, "PGSTORE_SCHEMA": schema},
            startup_timeout=30.0,
        )
        client = client_for(gateway.base_url)
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        client.chat.completions.create(model="groq/llama-3.1-8b-instant", messages=MESSAGES)
        records = httpx.get(f"{gateway.base_url}/usage").json()["records"]
        assert records["totals"]["requests"] == 2
        assert set(records["by_provider"]) == {"up", "groq"}
        assert gateway.stop() == 0
        rows = asyncio.run(_rows(schema))
        assert [(r["provider"], r["upstream_model"]) for r in rows] == [
            ("up", "gpt-4o"),
            ("groq", "llama-3.1-8b-instant"),
        ]
        assert all(r["client"].startswith("key-") for r in rows)
        assert rows[0]["cost_usd"] == pytest.approx((1_000 * 2.5 + 100 * 10.0) / 1e6)
    finally:
        asyncio.run(drop_schema(schema))


async def _rows(schema: str) -> list[dict[str, object]]:
    import asyncpg

    conn = await asyncpg.connect(PG_DSN, timeout=5)
    try:
        found = await conn.fetch(f'SELECT * FROM "{schema}".aiproxyapi_usage ORDER BY timestamp')
    finally:
        await conn.close()
    return [dict(row) for row in found]
