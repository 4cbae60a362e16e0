"""/metrics: Prometheus text with requests, latency, tokens, credentials, cooldowns; no key in it."""

from __future__ import annotations

import socket

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.configs import CLIENT_KEY, gateway_config, openai_entry
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import GatewayFactory
from tests.support.openai_wire import Usage
from tests.support.replies import Reply
from tests.support.sdk_clients import tracked

pytestmark = pytest.mark.e2e

KEYS = ["sk-metrics-upstream-a-1f0e", "sk-metrics-upstream-b-77c2"]
MESSAGES = [{"role": "user", "content": "hi"}]


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def value(found: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(
        v for n, lab, v in found if n == name and all(lab.get(k) == x for k, x in labels.items())
    )


def test_metrics_count_requests_latency_tokens_and_pool_state(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    fake_upstream.default = Reply.ok("fine", usage=Usage(prompt_tokens=7, completion_tokens=3))
    fake_upstream.script(Reply.error(429, retry_after=600), key=KEYS[0])
    gateway = gateway_factory(gateway_config(openai_entry("up", fake_upstream.base_url, KEYS)))
    client = tracked(openai.OpenAI(base_url=f"{gateway.base_url}/v1", api_key=CLIENT_KEY))
    client.chat.completions.create(model="m1", messages=MESSAGES)  # 429 on A, then B
    client.chat.completions.create(model="m1", messages=MESSAGES)
    stream = client.chat.completions.create(model="m1", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "fine"
    claude = tracked(anthropic.Anthropic(base_url=gateway.base_url, api_key=CLIENT_KEY))
    claude.messages.create(model="m1", max_tokens=10, messages=MESSAGES)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)

    response = httpx.get(f"{gateway.base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    found = samples(text)
    chat = {"route": "POST /v1/chat/completions", "dialect": "openai-chat", "provider": "up"}
    assert value(found, "aiproxyapi_requests_total", **chat, status="200") == 3
    assert value(found, "aiproxyapi_requests_total", dialect="claude", status="200") == 1
    assert value(found, "aiproxyapi_requests_total", dialect="openai-chat", status="404") == 1
    assert value(found, "aiproxyapi_request_duration_seconds_count", provider="up") == 4
    assert value(found, "aiproxyapi_time_to_first_token_seconds_count", provider="up") == 1
    # Five upstream attempts: the 429, then four answers.
    assert value(found, "aiproxyapi_upstream_response_seconds_count", upstream="127.0.0.1") == 5
    assert value(found, "aiproxyapi_tokens_total", provider="up", model="m1", kind="input") == 28
    assert value(found, "aiproxyapi_tokens_total", provider="up", model="m1", kind="output") == 12
    assert value(found, "aiproxyapi_cooldown_events_total", provider="up", reason="quota") == 1
    assert value(found, "aiproxyapi_credentials", provider="up", state="cooling") == 1
    assert value(found, "aiproxyapi_credentials", provider="up", state="ready") == 1
    assert value(found, "aiproxyapi_config_reloads_total", result="failure") == 0
    assert value(found, "aiproxyapi_storage_info", backend="file") == 1
    assert value(found, "aiproxyapi_storage_up", backend="file", state="ok") == 1
    assert value(found, "process_resident_memory_bytes") > 0
    for secret in [CLIENT_KEY, *KEYS]:
        assert secret not in text


def outward_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.parametrize("access", ["local", "client-key"])
def test_metrics_access_from_another_address(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory, access: str
) -> None:
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a"])
    config = gateway_config(entry, host="0.0.0.0", metrics={"access": access})
    gateway = gateway_factory(config)
    url = f"http://{address}:{gateway.port}/metrics"
    assert httpx.get(f"{gateway.base_url}/metrics", timeout=10).status_code == 200
    anonymous = httpx.get(url, timeout=10, trust_env=False)
    keyed = httpx.get(
        url, headers={"authorization": f"Bearer {CLIENT_KEY}"}, timeout=10, trust_env=False
    )
    if access == "local":
        assert anonymous.status_code == 403
        assert keyed.status_code == 403
    else:
        assert anonymous.status_code == 401
        assert keyed.status_code == 200
        assert "aiproxyapi_requests_total" in keyed.text


def test_metrics_can_be_turned_off(
    fake_upstream: FakeUpstream, gateway_factory: GatewayFactory
) -> None:
    entry = openai_entry("up", fake_upstream.base_url, ["sk-a"])
    gateway = gateway_factory(gateway_config(entry, metrics={"enable": False}))
    response = httpx.get(f"{gateway.base_url}/metrics", timeout=10)
    assert response.status_code == 404
    assert "metrics.enable" in response.json()["error"]["message"]
