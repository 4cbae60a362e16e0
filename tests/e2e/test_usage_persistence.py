"""Usage statistics survive a restart when usage-statistics-enabled is on."""

from __future__ import annotations

import stat

import httpx
import openai
import pytest

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.replies import Reply, Usage
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e


def test_usage_survives_a_restart(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok("ok", usage=Usage(prompt_tokens=10, completion_tokens=5))
    gateway = gateway_factory(
        gateway_config(
            openai_entry("up", fake_upstream.base_url, ["sk-a"]),
            **{"usage-statistics-enabled": True},
        )
    )
    client = tracked(
        openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=CLIENT_KEY, max_retries=0)
    )
    for _ in range(3):
        client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="missing", messages=[{"role": "user", "content": "x"}])
    assert gateway.stop() == 0

    saved = gateway.auth_dir / "usage" / "usage-statistics.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert CLIENT_KEY not in saved.read_text()
    assert "sk-a" not in saved.read_text()

    gateway.start()
    totals = httpx.get(f"{gateway.base_url}/usage").json()["usage"]["totals"]
    assert (totals["requests"], totals["successes"], totals["failures"]) == (4, 3, 1)
    assert (totals["input_tokens"], totals["output_tokens"]) == (30, 15)
    client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "x"}])
    usage = httpx.get(f"{gateway.base_url}/usage").json()["usage"]
    assert usage["totals"]["requests"] == 5
    assert sum(bucket["requests"] for bucket in usage["by_day"].values()) == 5
    assert list(usage["by_credential"]) == [next(iter(usage["by_credential"]))]
    assert "sk-a" not in next(iter(usage["by_credential"]))
